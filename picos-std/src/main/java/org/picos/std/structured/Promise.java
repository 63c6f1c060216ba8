package org.picos.std.structured;

import java.time.Duration;
import java.util.Objects;
import org.picos.Computation;
import org.picos.std.sync.Event;

/**
 * The result of a child fiber forked with {@link Bundle#forkAsPromise} or
 * {@link Flock#forkAsPromise}: await its value, or terminate it. A thin view of the child's
 * {@link Computation}, which is also the child's cancellation token.
 *
 * <p>Terminating a promise cancels its fiber with a {@link Control.Terminate}; it does not wait
 * for the fiber to stop (its scope does, at join), and it does not fail the scope. A child that
 * fails, on the other hand, fails its scope even if nobody awaits the promise.
 *
 * @param <T> the type of the value
 */
public final class Promise<T> {
  private final Computation<T> computation;

  Promise(Computation<T> computation) {
    this.computation = computation;
  }

  /** A promise already resolved to {@code value}. */
  public static <T> Promise<T> of(T value) {
    return new Promise<>(Computation.returned(value));
  }

  /**
   * Waits for the child and returns its value. A cancellation point.
   *
   * @throws RuntimeException the child's failure; a {@link Control.Terminate} if it was
   *     terminated; the caller's cancellation cause if the caller is cancelled while waiting
   */
  public T await() {
    return computation.awaitDescribed(this); // a dump of a waiting fiber shows this promise's toString
  }

  /** Whether the child has not finished yet. */
  public boolean isRunning() {
    return computation.isRunning();
  }

  /**
   * Terminates the child (cancels it with a {@link Control.Terminate}) unless it has finished.
   * Does not wait. Returns whether this call terminated it.
   */
  public boolean tryTerminate() {
    return computation.tryCancel(new Control.Terminate("Promise terminated"));
  }

  /** Terminates the child unless it has finished; does not wait. Never throws. */
  public void terminate() {
    tryTerminate();
  }

  /**
   * Arranges for the child to be terminated after {@code delay} unless it finished first, using
   * the current fiber's scheduler's timer.
   *
   * @throws IllegalArgumentException if {@code delay} is negative
   * @throws RuntimeException the caller's cancellation cause, if it is cancelled (the timer is
   *     then not armed)
   */
  public void terminateAfter(Duration delay) {
    Objects.requireNonNull(delay, "delay");
    computation.cancelAfter(delay, new Control.Terminate("Promise terminated after " + delay));
  }

  /** An event that commits with the child's value (or throws its failure) when it finishes. */
  public Event<T> completed() {
    return Event.fromComputation(computation);
  }

  /** The child's computation, to await or attach to with the core API. */
  public Computation<T> computation() {
    return computation;
  }

  @Override
  public String toString() {
    return "Promise[" + computation + "]";
  }
}
