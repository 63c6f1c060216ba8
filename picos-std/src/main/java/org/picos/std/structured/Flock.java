package org.picos.std.structured;

import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.FiberLocal;

/**
 * An implicit scope of fibers: a {@link Bundle} kept in a {@link FiberLocal}, so that code
 * running in the scope, and every child forked into it (and their children), can
 * {@linkplain #fork fork} into it without passing it around. Semantics, failures and
 * cancellation are exactly those of {@link Bundle}: when the body or any child fails, the rest
 * are terminated; {@link #joinAfter} waits for all of them and throws the failures.
 *
 * <p>{@code joinAfter} calls nest: the innermost flock of the current fiber is used, and the
 * previous one is restored when {@code joinAfter} returns. Every operation but
 * {@code joinAfter} throws {@link IllegalStateException} outside a flock.
 */
public final class Flock {
  private static final FiberLocal<Bundle> CURRENT = FiberLocal.create();

  private Flock() {}

  /**
   * Runs {@code body} in a new flock and waits for every fiber forked into it; see
   * {@link Bundle#joinAfter} for the result and what it throws.
   */
  public static <T> T joinAfter(Callable<T> body) {
    Objects.requireNonNull(body, "body");
    return Bundle.joinAfter(bundle -> {
      Bundle previous = CURRENT.get();
      CURRENT.set(bundle);
      try {
        return body.call();
      } finally {
        CURRENT.set(previous);
      }
    });
  }

  /**
   * Forks a child running {@code body} into the current flock; see {@link Bundle#fork}.
   *
   * @throws IllegalStateException outside a flock, or if the flock has completed
   */
  public static void fork(Runnable body) {
    Bundle bundle = current("fork");
    bundle.forkFiber(body, child -> CURRENT.set(child, bundle));
  }

  /**
   * Forks a child computing {@code body} into the current flock and returns its promise; see
   * {@link Bundle#forkAsPromise}.
   *
   * @throws IllegalStateException outside a flock, or if the flock has completed
   */
  public static <T> Promise<T> forkAsPromise(Callable<T> body) {
    Bundle bundle = current("forkAsPromise");
    return bundle.forkPromise(body, child -> CURRENT.set(child, bundle));
  }

  /**
   * Terminates the current flock: every member is cancelled with a {@link Control.Terminate}.
   * Does not wait and does not throw the {@code Terminate} itself (the caller sees it at its
   * next cancellation point, being a member).
   *
   * @throws IllegalStateException outside a flock
   */
  public static void terminate() {
    current("terminate").terminate();
  }

  /** Whether the current fiber runs inside a flock. */
  public static boolean inFlock() {
    return CURRENT.get() != null;
  }

  private static Bundle current(String op) {
    Bundle bundle = CURRENT.get();
    if (bundle == null) {
      throw new IllegalStateException(
          "Flock." + op + ": the calling fiber is not inside a flock;"
              + " call it from the body of Flock.joinAfter or from a fiber forked into one");
    }
    return bundle;
  }
}
