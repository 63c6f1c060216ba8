package org.picos.std.structured;

import java.util.List;

/**
 * Runs actions concurrently in a {@link Bundle} and waits for them: {@link #all} until every
 * action finished, {@link #any} until the first one finished normally. The last action runs
 * on the calling fiber, the others in child fibers. As in Picos' {@code Run}:
 * <ul>
 *   <li>an action whose bundle is no longer running by the time it would start is skipped,
 *       the last one included;</li>
 *   <li>an action's failure is recorded by the bundle (terminating the others) and thrown by
 *       the join, the last action's too; an action ending with {@link Control.Terminate} is
 *       not a failure;</li>
 *   <li>forking stops when a fork throws because the bundle was terminated or the caller
 *       cancelled (the spawn is a cancellation point): that is no failure of its own, and the
 *       join reports whatever ended the bundle.</li>
 * </ul>
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
    run(actions, false);
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
    run(actions, true);
  }

  private static void run(List<? extends Runnable> actions, boolean any) {
    if (actions.isEmpty()) {
      return;
    }
    Bundle.joinAfter(bundle -> {
      int last = actions.size() - 1;
      for (int i = 0; i < last; i++) {
        Runnable action = actions.get(i);
        try {
          bundle.fork(() -> perform(bundle, action, any));
        } catch (RuntimeException | Error forkFailed) {
          // A terminated bundle or a cancelled caller is silent here (error ignores both) and
          // the join reports what ended the bundle; any other failure fails the bundle.
          bundle.error(forkFailed);
          return null;
        }
      }
      perform(bundle, actions.get(last), any);
      return null;
    });
  }

  /** Runs one action unless the bundle has stopped; records its failure; a win terminates. */
  private static void perform(Bundle bundle, Runnable action, boolean any) {
    if (!bundle.isRunning()) {
      return;
    }
    try {
      action.run();
    } catch (Throwable t) {
      bundle.error(t);
      return;
    }
    if (any) {
      bundle.terminate();
    }
  }
}
