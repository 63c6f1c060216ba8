package org.picos;

/**
 * What the jcstress tests need to see inside the core and cannot reach through the public API:
 * the size of a computation's trigger list, and the scheduler-side suspend/resume protocol of
 * {@link Handler}. It lives in package {@code org.picos} of the stress-test jar only, so that the
 * core does not widen its API for tests.
 *
 * <p>Every method is as thread-safe as the core method it forwards to; none blocks.
 */
public final class CoreProbe {
  private CoreProbe() {}

  /**
   * The number of trigger entries {@code computation} holds now, live or awaiting lazy removal
   * ({@code 0} once it has completed). A racy snapshot: call it when no other thread is attaching
   * or detaching, as a jcstress arbiter does.
   */
  public static int triggerEntries(Computation<?> computation) {
    return computation.triggerEntries();
  }

  /**
   * {@link Handler#trySuspend}: attaches {@code trigger} to {@code fiber}'s computation (unless
   * the fiber forbids cancellation) and installs {@code resume} as its action.
   *
   * @return {@code true} if {@code resume} will run, once, on the thread that signals the
   *     trigger; {@code false} if the trigger was already signalled or was disposed because the
   *     fiber is cancelled: the caller resumes the fiber itself
   * @throws IllegalStateException if the trigger already has an action
   */
  public static boolean trySuspend(Fiber fiber, Trigger trigger, Runnable resume) {
    return Handler.trySuspend(fiber, trigger, resume);
  }

  /**
   * {@link Handler#unsuspend}: lazily detaches the signalled {@code trigger} from {@code fiber}'s
   * computation before the fiber resumes.
   *
   * @return {@code false} iff the fiber permits cancellation and is cancelled
   * @throws IllegalStateException if the trigger is not signalled
   */
  public static boolean unsuspend(Fiber fiber, Trigger trigger) {
    return Handler.unsuspend(fiber, trigger);
  }
}
