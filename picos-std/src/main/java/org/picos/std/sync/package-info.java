/**
 * Synchronisation for fibers, written once on the picos-core API and therefore usable on every
 * Picos scheduler, across schedulers, and on plain and virtual threads (where waiting blocks the
 * thread): {@link org.picos.std.sync.Mutex}, {@link org.picos.std.sync.Condition},
 * {@link org.picos.std.sync.Semaphore}, {@link org.picos.std.sync.Latch},
 * {@link org.picos.std.sync.Ivar}, {@link org.picos.std.sync.Lazy},
 * {@link org.picos.std.sync.Channel} and CML-style {@link org.picos.std.sync.Event}s.
 *
 * <p>Common guarantees: waiting suspends the fiber, never its carrier thread; every wait is a
 * cancellation point, and a fiber cancelled while waiting leaves the primitive consistent (no
 * lost permit, element or signal, no stranded waiter, ownership passed on). Releasing
 * operations ({@code unlock}, {@code release}, {@code signal}, {@code countDown}, {@code fill},
 * {@code close}) never suspend and are not cancellation points, so they are safe in
 * {@code finally} blocks. Internal monitors are held only for a few field writes, never across
 * a suspension, and waiters are woken after they are released.
 */
package org.picos.std.sync;
