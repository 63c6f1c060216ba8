package org.picos.bridge.reactor;

/**
 * What the body of {@link PicosReactor#flux(PicosReactor.FluxBody)} emits through: the producing
 * side of one subscription to a fiber-backed {@code Flux}.
 *
 * <p>Threading: use it only from the fiber that runs the body (the one it was given to). The
 * subscriber's signals ({@code onNext}, {@code onComplete}, {@code onError}) are all sent from
 * that fiber, one at a time.
 *
 * @param <T> the element type
 */
public interface FluxEmitter<T> {
  /**
   * Sends {@code value} to the subscriber. If the subscriber has no outstanding demand, the
   * calling fiber suspends (a plain thread would block, but the body always runs in a fiber)
   * until it requests more, so the subscriber never receives more elements than it requested.
   * Returns once {@code onNext} has returned.
   *
   * <p>Cancellation: once the subscriber has cancelled (or requested a non-positive amount),
   * or the fiber's computation is cancelled while it waits for demand, this throws the
   * cancellation cause (a {@link java.util.concurrent.CancellationException} describing what
   * happened) and delivers nothing: {@code value} goes to Reactor's discard hook
   * ({@code doOnDiscard}) instead. Let the exception propagate: the body should end.
   *
   * @throws NullPointerException if {@code value} is null (Reactive Streams forbids null elements)
   * @throws IllegalStateException if called from another fiber or thread than the body's
   */
  void emit(T value);

  /**
   * Whether the subscription is over for the producer: the subscriber cancelled, or requested a
   * non-positive amount. A body may poll this to stop early; {@link #emit} throws in that case.
   * Safe from any thread.
   */
  boolean isCanceled();
}
