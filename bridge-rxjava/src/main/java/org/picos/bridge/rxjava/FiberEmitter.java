package org.picos.bridge.rxjava;

/**
 * What the body of {@link PicosRx#flowable} or {@link PicosRx#observable} emits through. The body
 * runs in a fiber, one per subscription; when it returns the stream completes, when it throws
 * the stream fails with what it threw.
 *
 * <h2>Backpressure</h2>
 * For a {@code Flowable}, {@link #emit} <em>suspends the fiber</em> while the subscriber has no
 * outstanding demand and resumes it when the subscriber requests more, so the body never emits
 * more items than were requested and never buffers. For an {@code Observable}, which has no
 * backpressure, {@code emit} hands the item on at once. Either way, to stay fair to the
 * scheduler's other fibers, {@code emit} yields the fiber after every
 * {@value PicosRx#YIELD_EVERY} items emitted without suspending.
 *
 * <h2>Cancellation</h2>
 * Cancelling the subscription (or disposing the {@code Observable}'s subscription) cancels the
 * body's fiber: {@code emit}, and every other await of the body, then throws the cancellation
 * cause, a {@link java.util.concurrent.CancellationException}. Let it propagate; whatever the
 * body ends with after a cancellation is not delivered (a failure other than the cause goes to
 * {@code RxJavaPlugins.onError}).
 *
 * <h2>Threading</h2>
 * Only the body's own fiber may call {@code emit}; the emitter is not thread-safe and must not
 * escape the body.
 *
 * @param <T> the type of the items
 */
public interface FiberEmitter<T> {
  /**
   * Emits {@code item} to the subscriber, first suspending the fiber while a {@code Flowable}'s
   * subscriber has no outstanding demand. A cancellation point.
   *
   * @throws NullPointerException if {@code item} is null (Reactive Streams forbids null items)
   * @throws java.util.concurrent.CancellationException (or the fiber's other cancellation cause)
   *     if the subscriber cancelled or the fiber was cancelled
   * @throws IllegalStateException if called after the body has returned, or if the fiber cannot
   *     suspend (it is pinned); the message says why
   */
  void emit(T item);

  /**
   * Whether the subscriber has cancelled (or the body's fiber was cancelled): emitting more is
   * pointless. Never throws; safe from any thread.
   */
  boolean isCancelled();

  /**
   * The body of a {@link PicosRx#flowable} or {@link PicosRx#observable}: runs in a fiber and
   * emits items through the emitter.
   *
   * @param <T> the type of the items
   */
  @FunctionalInterface
  interface Body<T> {
    /**
     * Produces the stream. Returning completes it; throwing fails it with the exception thrown
     * (the same object, checked or not).
     */
    void run(FiberEmitter<T> emitter) throws Exception;
  }
}
