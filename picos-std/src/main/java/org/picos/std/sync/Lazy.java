package org.picos.std.sync;

import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;

/**
 * A value computed at most once, on first {@linkplain #force() force}, by the forcing fiber;
 * fibers forcing meanwhile wait for it. The outcome, value or exception, is kept for good.
 *
 * <h2>States</h2>
 * Guarded by the lazy's monitor:
 * <pre>
 *   UNFORCED(thunk) --force() by f--> FORCING(f) --thunk ends--> DONE(value | exception)
 * </pre>
 *
 * <h2>Cancellation</h2>
 * A cancelled fiber never starts the thunk: {@code force} checks cancellation first. A fiber
 * waiting for another's forcing is cancellable and leaves nothing behind. A forcing fiber
 * cancelled inside the thunk stores whatever the thunk throws, cancellation included, as the
 * permanent outcome (as in Picos).
 *
 * @param <T> the type of the value
 */
public final class Lazy<T> {
  private final Computation<T> result;
  /** The thunk while UNFORCED, then {@code null}. */
  private Callable<? extends T> thunk;
  /** The forcing fiber while FORCING. */
  private Fiber forcer;

  private Lazy(Callable<? extends T> thunk, Computation<T> result) {
    this.thunk = thunk;
    this.result = result;
  }

  /** A lazy value computed by {@code thunk} on first force. */
  public static <T> Lazy<T> of(Callable<? extends T> thunk) {
    return new Lazy<>(Objects.requireNonNull(thunk, "thunk"), Computation.create());
  }

  /** A lazy value that is already forced to {@code value}. */
  public static <T> Lazy<T> ofValue(T value) {
    return new Lazy<>(null, Computation.returned(value));
  }

  /**
   * Returns the value, computing it in the calling fiber if nobody has started yet, or waiting
   * for the fiber that has.
   *
   * @throws RuntimeException what the thunk threw (every force throws it again; checked
   *     exceptions wrapped in a {@link java.util.concurrent.CompletionException}); the caller's
   *     cancellation cause if it is cancelled before starting or while waiting
   * @throws IllegalStateException if the thunk forces this same lazy value (a recursive force,
   *     which could never finish)
   */
  public T force() {
    if (!result.isRunning()) {
      return result.resultNow();
    }
    Fiber me = Fiber.current();
    me.checkCanceled();
    Callable<? extends T> body;
    synchronized (this) {
      body = thunk;
      if (body != null) {
        thunk = null;
        forcer = me;
      } else if (forcer == me && result.isRunning()) {
        throw new IllegalStateException(
            "Lazy.force: recursive force: the thunk of this lazy value forced the same value;"
                + " break the cycle");
      }
    }
    if (body != null) {
      result.tryCapture(body);
      synchronized (this) {
        forcer = null;
      }
    }
    return result.awaitDescribed(this); // a dump of a waiting fiber shows this lazy value's toString
  }

  /** The state, for logs and fiber dumps: unforced, forcing (by which fiber), or forced. */
  @Override
  public synchronized String toString() {
    return thunk != null ? "Lazy[unforced]"
        : result.isRunning() ? "Lazy[forcing by " + forcer + "]" : "Lazy[forced]";
  }

  /** Whether the value has been computed (or the thunk has failed). */
  public boolean isForced() {
    return !result.isRunning();
  }
}
