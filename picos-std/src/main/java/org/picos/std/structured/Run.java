package org.picos.std.structured;

import java.util.List;

/**
 * Runs actions concurrently in a {@link Bundle} and waits for them: {@link #all} until every
 * action finished, {@link #any} until the first one finished normally. The last action runs
 * on the calling fiber, the others in child fibers; an action whose bundle has already been
 * terminated by the time it would start is skipped.
 */
public final class Run {
  private Run() {}

  /**
   * Runs every action concurrently and waits for all of them.
   *
   * @throws Control.Errors if several actions failed (in the order they failed); the single
   *     failure itself if one failed; the caller's cancellation cause. A failure terminates the
   *     actions still running; actions ending with {@link Control.Terminate} are not failures.
   */
  public static void all(Runnable... actions) {
    all(List.of(actions));
  }

  /** {@link #all(Runnable...)} over a list. */
  public static void all(List<? extends Runnable> actions) {
    if (actions.isEmpty()) {
      return;
    }
    Bundle.joinAfter(bundle -> {
      int last = actions.size() - 1;
      for (int i = 0; i < last; i++) {
        Runnable action = actions.get(i);
        bundle.fork(() -> {
          if (bundle.isRunning()) {
            action.run();
          }
        });
      }
      actions.get(last).run();
      return null;
    });
  }

  /**
   * Runs every action concurrently until one of them returns normally, then terminates the
   * others and waits for them to end.
   *
   * @throws Control.Errors or the single failure, as for {@link #all}, for actions that failed
   *     before a winner terminated them; the caller's cancellation cause
   */
  public static void any(Runnable... actions) {
    any(List.of(actions));
  }

  /** {@link #any(Runnable...)} over a list. */
  public static void any(List<? extends Runnable> actions) {
    if (actions.isEmpty()) {
      return;
    }
    Bundle.joinAfter(bundle -> {
      int last = actions.size() - 1;
      for (int i = 0; i < last; i++) {
        Runnable action = actions.get(i);
        bundle.fork(() -> {
          if (bundle.isRunning()) {
            action.run();
            bundle.terminate();
          }
        });
      }
      try {
        actions.get(last).run();
        bundle.terminate();
      } catch (Control.Terminate terminated) {
        // Another action won.
      }
      return null;
    });
  }
}
