package org.picos.spi;

import java.util.Objects;
import java.util.function.Consumer;
import org.picos.Computation;

/**
 * The outcome of a foreign operation handed from its completion callback to one waiting fiber,
 * for bridges whose futures cannot be cancelled (a Vert.x future, a read-only
 * {@code CompletionStage}): the operation goes on after the fiber stops waiting, and a value
 * that the fiber does not take is given to a release action, exactly once, instead of being
 * lost with nobody to close it.
 *
 * <h2>State machine</h2>
 * That of a {@link Computation}, whose single completing CAS decides who owns a value:
 * <pre>
 *   OPEN --deliver(v), the callback------> DELIVERED(v)  the waiter returns v, or releases it if it
 *                                                         has stopped waiting meanwhile
 *   OPEN --fail(f), the callback---------> FAILED(f)     the waiter throws f; nothing to release
 *   OPEN --the waiter stops waiting------> ABANDONED     a later deliver(v) releases v itself
 * </pre>
 * A {@code null} value is never released. A release that throws goes to the reporter given at
 * construction.
 *
 * <p>Threading: {@link #deliver} and {@link #fail} are called once, by the callback, from any
 * thread; {@link #await(Object)} once, by the waiting fiber (or plain thread).
 *
 * @param <T> the type of the value
 */
public final class Handover<T> {
  private final Computation<T> outcome = Computation.create();
  private final Consumer<? super T> release;
  private final Consumer<? super Throwable> report;

  /**
   * A new, open handover.
   *
   * @param release what to do with a value nobody will take, such as closing it
   * @param report where a failure of {@code release} goes (for example
   *     {@link Support#reportUncaught})
   * @throws NullPointerException if an argument is null
   */
  public Handover(Consumer<? super T> release, Consumer<? super Throwable> report) {
    this.release = Objects.requireNonNull(release, "release");
    this.report = Objects.requireNonNull(report, "report");
  }

  /**
   * The callback side: hands {@code value} to the waiter, or releases it here if the waiter has
   * stopped waiting. Never throws (a failing release is reported). Safe from any thread, once;
   * not a cancellation point.
   *
   * @param value the operation's value, possibly {@code null} (never released)
   */
  public void deliver(T value) {
    if (!outcome.tryReturn(value)) {
      release(value);
    }
  }

  /**
   * The callback side: the operation failed with {@code failure}; the waiter throws it. Safe
   * from any thread, once; not a cancellation point.
   *
   * @param failure what the operation failed with
   * @throws NullPointerException if {@code failure} is null
   */
  public void fail(Throwable failure) {
    outcome.tryCancel(failure);
  }

  /**
   * The waiter side: waits for the outcome, suspending the fiber (blocking a plain thread), and
   * returns the value or throws the failure ({@link Computation#await}'s rule: unchecked as is,
   * checked wrapped in a {@link java.util.concurrent.CompletionException}). Called once, by the
   * waiting fiber or thread.
   *
   * <p>Cancellation: if the waiting fiber is cancelled, or the wait is refused, the wait ends at
   * once with that exception, even if the value arrived meanwhile; the value, now or when it
   * arrives, is released.
   *
   * @param waitFor what fiber dumps say the fiber waits for (see
   *     {@link Computation#awaitDescribed}), such as
   *     {@code Support.waitDescription("PicosFutures.await", stage)}; may be null
   * @return the delivered value
   * @throws RuntimeException the operation's failure, or the fiber's cancellation cause
   * @throws IllegalStateException if the wait was refused (a pinned fiber, a thread that must
   *     not block)
   */
  public T await(Object waitFor) {
    try {
      return outcome.awaitDescribed(waitFor);
    } catch (RuntimeException | Error stopped) {
      if (outcome.isCancellation(stopped)) {
        throw stopped; // the operation's own failure
      }
      if (!outcome.tryCancel(stopped) && outcome.isReturned()) {
        release(outcome.resultNow());
      }
      throw stopped;
    }
  }

  private void release(T value) {
    if (value == null) {
      return;
    }
    try {
      release.accept(value);
    } catch (Throwable failure) {
      report.accept(failure);
    }
  }
}
