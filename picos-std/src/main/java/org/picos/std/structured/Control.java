package org.picos.std.structured;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;

/**
 * Control operations for the current fiber: {@link #sleep}, {@link #yield}, cancellation
 * control ({@link #protect}, {@link #block}, {@link #check}) and timeouts
 * ({@link #terminateAfter}), plus the two exceptions of structured concurrency:
 * {@link Terminate} and {@link Errors}. Everything works in a fiber of any scheduler and on
 * plain and virtual threads (where waiting blocks the thread).
 */
public final class Control {
  private Control() {}

  /**
   * The cancellation cause used to stop fibers that are not at fault: a terminated
   * {@link Promise} or scope, a sibling's failure, a {@link #terminateAfter} timeout. It is not
   * an error: scopes ignore it when a child ends with it. It carries no stack trace.
   */
  public static class Terminate extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates a terminate cause with a default message. */
    public Terminate() {
      this("terminated");
    }

    /** Creates a terminate cause with {@code message} saying why. */
    public Terminate(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * The {@link Terminate} cause a {@link #terminateAfter} timeout cancels its body with, which
   * then escapes {@code terminateAfter}. Being a {@code Terminate}, it is silent when a child
   * of a scope ends with it; catch it to tell a timeout from other terminations.
   */
  public static final class Timeout extends Terminate {
    private static final long serialVersionUID = 1L;

    Timeout(Duration after) {
      super("Control.terminateAfter: the body did not finish within " + after);
    }
  }

  /**
   * Several failures of one scope, in the order they occurred; a scope with a single failure
   * throws that failure itself. Each failure is also attached as suppressed, so stack traces
   * print them all.
   */
  public static final class Errors extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final List<Throwable> errors;

    Errors(List<Throwable> errors) {
      super(errors.size() + " failures in one scope: " + errors);
      this.errors = List.copyOf(errors);
      for (Throwable e : this.errors) {
        addSuppressed(e);
      }
    }

    /** The failures, in the order they occurred. */
    public List<Throwable> errors() {
      return errors;
    }
  }

  /**
   * Throws the current fiber's cancellation cause if it is cancelled and permits cancellation.
   */
  public static void check() {
    Fiber.check();
  }

  /** Lets other fibers run first; a cancellation point. See {@link Fiber#yield()}. */
  public static void yield() {
    Fiber.yield();
  }

  /** The cause a sleep's private timer completes with; never escapes. */
  private static final RuntimeException SLEPT = new RuntimeException("slept", null, false, false) {
    private static final long serialVersionUID = 1L;
  };

  /**
   * Suspends the current fiber for {@code duration}, using its scheduler's timer (outside any
   * scheduler the thread blocks). A cancellation point: a cancelled fiber wakes at once and
   * throws its cause, disarming the timer.
   *
   * @throws IllegalArgumentException if {@code duration} is negative
   * @throws RuntimeException the fiber's cancellation cause
   */
  public static void sleep(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    Computation<Void> timer = Computation.create();
    try {
      timer.cancelAfter(duration, SLEPT);
      timer.await();
    } catch (RuntimeException e) {
      if (e != SLEPT) {
        throw e;
      }
    } finally {
      timer.tryReturn(null);
    }
  }

  /**
   * Runs {@code body} with cancellation forbidden for the current fiber: cancellation is not
   * delivered inside (waits are not interrupted), and is seen at the first cancellation point
   * after it. Use it for cleanup that must finish. See {@link Fiber#forbid}.
   *
   * @return the body's value; a checked exception from it is wrapped in a
   *     {@link java.util.concurrent.CompletionException}
   */
  public static <T> T protect(Callable<T> body) {
    return Fiber.forbid(body);
  }

  /**
   * Waits until the current fiber is cancelled, then throws its cause. Never returns normally.
   *
   * @throws IllegalStateException if cancellation is forbidden (the wait could never end), or
   *     if the fiber's computation completed without being cancelled (a scope ended around it)
   * @throws RuntimeException the fiber's cancellation cause
   */
  public static Void block() {
    Fiber fiber = Fiber.current();
    if (fiber.hasForbidden()) {
      throw new IllegalStateException(
          "Control.block: cancellation is forbidden, so the fiber would block forever;"
              + " call it outside Control.protect");
    }
    if (fiber.computation().isReturned()) {
      throw finishedUncanceled();
    }
    Throwable cause = Trigger.create().await();
    if (cause != null) {
      throw Computation.unchecked(cause);
    }
    throw finishedUncanceled();
  }

  private static IllegalStateException finishedUncanceled() {
    return new IllegalStateException(
        "Control.block: the fiber's computation finished without being cancelled,"
            + " so nothing can end the wait");
  }

  /**
   * Runs {@code body} in the current fiber with a deadline: if it has not finished after
   * {@code duration}, it is cancelled with a {@link Timeout} (a {@link Terminate}), and that
   * exception escapes here unless the body catches it. Cancellation of the calling fiber also
   * reaches the body, and its cause escapes. The body runs under a computation of its own,
   * which is completed however the body ends (returned when it returns, cancelled with what it
   * throws, an {@link Error} included), so the timer is always disarmed; the fiber's
   * computation is restored afterwards, whatever happens.
   *
   * <p>As with Picos' {@code terminate_after}, a fiber whose computation is already cancelled
   * gets its cause at once, without the body running, even if it forbids cancellation; and an
   * already expired deadline ({@link Duration#ZERO}) throws the {@code Timeout} without running
   * the body.
   *
   * @return the body's value
   * @throws Timeout when the deadline passed first
   * @throws RuntimeException what the body throws (checked exceptions wrapped in a
   *     {@link java.util.concurrent.CompletionException}); the fiber's cancellation cause
   * @throws IllegalArgumentException if {@code duration} is negative or too long for a timer
   * @throws IllegalStateException if the fiber's computation has returned (the body is not run)
   */
  public static <T> T terminateAfter(Duration duration, Callable<T> body) {
    Objects.requireNonNull(duration, "duration");
    Objects.requireNonNull(body, "body");
    if (duration.isNegative()) {
      throw new IllegalArgumentException(
          "Control.terminateAfter: duration must not be negative, was " + duration);
    }
    Fiber fiber = Fiber.current();
    Computation<?> outer = fiber.computation();
    Computation<Void> inner = Computation.create(Computation.Mode.LIFO);
    Timeout timeout = new Timeout(duration);
    Trigger canceler = Cancelers.attach(outer, inner, "Control.terminateAfter");
    if (duration.isZero()) {
      outer.detach(canceler);
      inner.tryCancel(timeout);
      throw timeout;
    }
    fiber.setComputation(inner);
    Throwable failure = null;
    try {
      // Not a cancellation point: the canceler already carries a cancellation into the body.
      boolean forbade = fiber.exchangeForbid(true);
      try {
        inner.cancelAfter(duration, timeout);
      } finally {
        fiber.exchangeForbid(forbade);
      }
      return body.call();
    } catch (Throwable t) {
      failure = t;
      throw Computation.unchecked(t);
    } finally {
      fiber.setComputation(outer);
      outer.detach(canceler);
      if (failure == null) {
        inner.tryReturn(null);
      } else {
        inner.tryCancel(failure);
      }
    }
  }
}
