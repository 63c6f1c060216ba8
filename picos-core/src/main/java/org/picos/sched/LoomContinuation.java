package org.picos.sched;

import jdk.internal.vm.Continuation;
import jdk.internal.vm.ContinuationScope;

/**
 * The one class of Picos that touches {@code jdk.internal.vm.Continuation}: a one-shot
 * continuation that runs a fiber's code on whatever thread calls {@link #run()}, until the
 * fiber suspends with {@link #suspend()} or ends.
 *
 * <p>Loading this class needs the JVM flag {@code --add-exports
 * java.base/jdk.internal.vm=ALL-UNNAMED}; {@link ContinuationScheduler} checks for it (without
 * touching this class) before creating any.
 */
abstract class LoomContinuation extends Continuation {
  private static final ContinuationScope SCOPE = new ContinuationScope("picos-fiber");

  /**
   * The body every continuation is made with: it runs {@link #body()} of the continuation it
   * runs in. One shared object instead of a lambda per continuation capturing what its body
   * needs (24 bytes per fiber); the subclass holds that in fields it has anyway.
   */
  private static final Runnable BODY = () -> ((LoomContinuation) Continuation.getCurrentContinuation(SCOPE)).body();

  /** Why the last {@link #suspend()} failed; read and cleared by the suspending fiber. */
  private Pinned pinned;

  LoomContinuation() {
    super(SCOPE, BODY);
  }

  /** What the continuation runs, on the thread that first calls {@link #run()}. */
  abstract void body();

  @Override
  protected void onPinned(Pinned reason) {
    pinned = reason;
  }

  /**
   * Suspends the continuation running on this thread; returns when it is run again.
   *
   * @return {@code null} after a suspension; a description of why the fiber is pinned when it
   *     could not suspend (then it did not)
   */
  static String suspend(LoomContinuation self) {
    if (Continuation.yield(SCOPE)) {
      return null;
    }
    Pinned reason = self.pinned;
    self.pinned = null;
    return describe(reason == null ? "" : reason.name());
  }

  private static String describe(String reason) {
    return switch (reason) {
      case "NATIVE" -> "a native frame is on its stack (a class initializer, or Java code called"
          + " back from native code, is running the await)";
      case "MONITOR" -> "it holds a monitor (a synchronized block or method); this JDK cannot"
          + " suspend a fiber inside synchronized (JDK 24 and later can)";
      case "CRITICAL_SECTION" -> "it is inside a JDK critical section";
      case "EXCEPTION" -> "an exception is being propagated through native frames";
      default -> "the JVM refused to unmount it (" + reason + ")";
    };
  }
}
