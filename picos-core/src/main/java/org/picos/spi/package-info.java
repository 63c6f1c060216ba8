/**
 * The scheduler SPI: what a Picos scheduler implements, and the few supported utilities that
 * schedulers, bridges and libraries built on the core share. Users of fibers never need this
 * package.
 *
 * <ul>
 *   <li>{@link org.picos.spi.Handler}: the five operations a scheduler answers (await, yield,
 *       spawn, cancelAfter; current needs no handler) and the protocol to implement them (the
 *       suspend/resume protocol, binding fibers to carriers, a trigger's scheduler-side
 *       transitions, closing a fiber).</li>
 *   <li>{@link org.picos.spi.AbstractScheduler}: the live set, {@code start} and the close
 *       protocol that the compatibility kit checks, for a third party's scheduler.</li>
 *   <li>{@link org.picos.spi.Timer}: a host's timer, and the shared one that lives on.</li>
 *   <li>{@link org.picos.spi.Support}: fiber mains that capture a result, and reporting
 *       failures nobody can receive.</li>
 *   <li>{@link org.picos.spi.BlockingGuards}: what a plain thread must pass before it blocks.</li>
 * </ul>
 */
package org.picos.spi;
