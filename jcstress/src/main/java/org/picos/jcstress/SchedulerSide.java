package org.picos.jcstress;

import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.spi.Handler;

/**
 * The scheduler SPI's protected operations, for tests that drive triggers and fibers the way a
 * scheduler does: a trigger's scheduler-side transitions, the suspend/resume protocol and
 * closing a fiber.
 */
abstract class SchedulerSide extends Handler {
  private SchedulerSide() {}

  /** {@code Handler.onSignal}: true if {@code action} will run on the first signal. */
  static boolean attachAction(Trigger trigger, Runnable action) {
    return Handler.onSignal(trigger, action);
  }

  /** {@code Handler.dispose}. */
  static void disposeTrigger(Trigger trigger) {
    Handler.dispose(trigger);
  }

  /** {@code Handler.trySuspend}: true if {@code resume} will run when the trigger is signalled. */
  static boolean suspend(Fiber fiber, Trigger trigger, Runnable resume) {
    return trySuspend(fiber, trigger, resume);
  }

  /** {@code Handler.unsuspend}: false iff the fiber permits cancellation and is cancelled. */
  static boolean resumed(Fiber fiber, Trigger trigger) {
    return unsuspend(fiber, trigger);
  }

  /** {@code Handler.closeFiber}: what a closing scheduler does to each of its fibers. */
  static void close(Fiber fiber, Throwable cause) {
    closeFiber(fiber, cause);
  }
}
