/**
 * Reactive Streams and Picos, written once for every Reactive Streams bridge (Reactor, RxJava):
 * {@link org.picos.reactive.PublisherIterator} (a publisher pulled by one fiber with bounded
 * prefetch), the await family of {@link org.picos.reactive.Reactive} ({@code awaitFirst},
 * {@code awaitLast}, {@code awaitSingle} and their {@code OrNull}/{@code OrDefault} forms over
 * any {@link org.reactivestreams.Publisher}), and {@link org.picos.reactive.Reactive#publisher}, a
 * cold publisher whose fiber body emits through an {@link org.picos.reactive.Emitter} that
 * suspends it while the subscriber has no demand. A bridge adapts the ecosystem's hooks (where
 * dropped errors and discarded elements go, which context a subscription carries) with
 * {@link org.picos.reactive.ReactiveHooks}.
 */
package org.picos.reactive;
