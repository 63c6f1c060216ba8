package org.picos.std.internal;

import java.util.concurrent.CompletionException;
import org.picos.Computation;
import org.picos.Fiber;

/**
 * Telling a cancellation from a failure, shared by the packages of picos-std. Internal: not an
 * API, and it may change or disappear.
 *
 * <p>A fiber cancelled with a cause sees it at a cancellation point as
 * {@link Computation#unchecked(Throwable)} of it: the cause itself when it is unchecked, a fresh
 * {@link CompletionException} around it when it is checked (a new one at
 * each cancellation point). So "is this the cancellation?" compares the cause with the
 * exception and with the exception's cause.
 */
public final class Cancellation {
  private Cancellation() {}

  /**
   * Whether {@code failure} is {@code computation}'s cancellation cause unwinding: the cause
   * itself, or a {@link CompletionException} whose cause it is. False while
   * the computation is running or returned.
   */
  public static boolean isCancellationOf(Computation<?> computation, Throwable failure) {
    Throwable cause = computation.canceled();
    return cause != null && failure != null
        && (failure == cause
            || (failure instanceof CompletionException && failure.getCause() == cause));
  }

  /**
   * Whether {@code failure} is the cancellation of {@code fiber}'s current computation (whether
   * or not the fiber forbids cancellation at the moment).
   */
  public static boolean isCancellationOf(Fiber fiber, Throwable failure) {
    return isCancellationOf(fiber.computation(), failure);
  }
}
