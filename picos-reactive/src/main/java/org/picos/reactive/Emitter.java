package org.picos.reactive;

/**
 * What the body of a {@link Reactive#publisher} (and of the bridges' {@code flux},
 * {@code flowable} and {@code observable}) emits through: the producing side of one
 * subscription. Named as the ecosystems name it ({@code FluxSink.next},
 * {@code Emitter.onNext}, {@code isCancelled}).
 *
 * <p>Threading: {@link #next} only from the fiber that runs the body; {@link #isCancelled} from
 * any thread.
 *
 * @param <T> the element type
 */
public interface Emitter<T> {
  /**
   * Sends {@code item} to the subscriber. While the subscriber has no outstanding demand the
   * calling fiber suspends until it requests more, so it never receives more than it asked for;
   * after every {@value Reactive#YIELD_EVERY} items sent without suspending the fiber yields,
   * leaving the scheduler's other fibers their turn. Returns once the subscriber's
   * {@code onNext} has returned.
   *
   * <p>Cancellation: once the subscriber has cancelled (or requested a non-positive amount,
   * rule 3.9), or the fiber is cancelled while it waits, this throws the cancellation cause (a
   * {@link java.util.concurrent.CancellationException} saying what happened) and delivers
   * nothing: the item goes to the ecosystem's discard hook. Let it propagate: the body should
   * end.
   *
   * @param item the element; not null
   * @throws NullPointerException if {@code item} is null (Reactive Streams rule 2.13)
   * @throws IllegalStateException if called from another fiber or thread than the body's, or
   *     after the body returned
   * @throws java.util.concurrent.CancellationException (or the fiber's other cancellation cause)
   *     as described above
   */
  void next(T item);

  /**
   * Whether the subscription is over for the producer: the subscriber cancelled, requested a
   * non-positive amount, or the body's fiber was cancelled. A body may poll it to stop early;
   * {@link #next} throws in that case. Never blocks, never throws; safe from any thread.
   *
   * @return {@code true} once emitting more is pointless
   */
  boolean isCancelled();

  /**
   * The body of a fiber-backed publisher: runs in a fiber, one per subscription, and emits
   * through the emitter. Returning completes the stream; throwing fails it with the very
   * exception thrown.
   *
   * @param <T> the element type
   */
  @FunctionalInterface
  interface Body<T> {
    /**
     * Produces the elements of one subscription, in the fiber started for it. Cancelling the
     * subscription cancels that fiber, so every await in the body throws the cancellation.
     *
     * @param emitter where the elements go
     * @throws Exception to end the stream with this error
     */
    void run(Emitter<T> emitter) throws Exception;
  }
}
