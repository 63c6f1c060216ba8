package org.picos.bridge.reactor;

import org.picos.reactive.Emitter;
import reactor.util.context.ContextView;

/**
 * What the body of {@link PicosReactor#flux(PicosReactor.FluxBody)} emits through, named as
 * Reactor's {@code FluxSink}: {@link #next} suspends the fiber while the subscriber has no
 * demand (see {@link Emitter#next}), {@link #isCancelled} tells the body to stop, and
 * {@link #contextView()} is the subscriber's context.
 *
 * <p>Threading: {@code next} only from the fiber that runs the body; the other methods from any
 * thread.
 *
 * @param <T> the element type
 */
public interface FluxEmitter<T> extends Emitter<T> {
  /**
   * The context of the subscriber this body produces for, as {@code FluxSink.contextView()}.
   * Never blocks; safe from any thread. Cancellation does not apply.
   *
   * @return the subscriber's context
   */
  ContextView contextView();
}
