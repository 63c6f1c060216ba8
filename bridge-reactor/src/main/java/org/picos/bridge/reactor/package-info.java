/**
 * Project Reactor bridge: {@link org.picos.bridge.reactor.PicosReactor} turns Picos fibers into
 * {@code Mono}/{@code Flux} (with exact backpressure through
 * {@link org.picos.bridge.reactor.FluxEmitter}), awaits Reactor publishers in fibers (and
 * iterates them with bounded prefetch through {@link org.picos.reactive.PublisherIterator}),
 * and adapts schedulers both ways. Cancellation crosses the boundary in both directions, and the
 * Reactor {@code Context} of a subscriber is visible to the fiber that serves it.
 */
package org.picos.bridge.reactor;
