package org.picos.std.structured;

import org.picos.Computation;
import org.picos.Trigger;

/** Attaching a scope's computation to the calling fiber's, as Picos' {@code attach_canceler}. */
final class Cancelers {
  private Cancelers() {}

  /**
   * Makes cancellation of {@code from} (the calling fiber's computation) cancel {@code into} (a
   * new scope's), and returns the trigger to detach from {@code from} when the scope ends.
   * Unlike {@link Computation#attachCanceler}, refuses a {@code from} that has completed, whether
   * or not the fiber forbids cancellation: the scope would be cancelled before it started, or
   * could never be cancelled by its parent.
   *
   * @throws RuntimeException {@code from}'s cancellation cause (a checked one wrapped in a
   *     {@link java.util.concurrent.CompletionException}) if it is cancelled
   * @throws IllegalStateException if {@code from} has returned
   */
  static Trigger attach(Computation<?> from, Computation<?> into, String op) {
    Trigger canceler = Computation.attachCanceler(from, into);
    if (from.isRunning()) {
      return canceler;
    }
    from.detach(canceler);
    Throwable cause = from.canceled();
    if (cause != null) {
      throw Computation.unchecked(cause);
    }
    throw new IllegalStateException(op + ": the calling fiber's computation has already returned,"
        + " so nothing could cancel this scope; start it from a fiber whose computation is running");
  }
}
