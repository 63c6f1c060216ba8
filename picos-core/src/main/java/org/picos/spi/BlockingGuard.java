package org.picos.spi;

/**
 * The guard of one host whose threads must never block in a Picos wait outside a fiber (an event
 * loop, a reactive library's non-blocking threads). {@link BlockingGuards} asks every guard, in
 * decreasing {@linkplain #precedence() precedence}, on entry to each blocking Picos wait made
 * outside any fiber, whatever the state of what is awaited; the first guard that refuses answers.
 *
 * <p>A bridge jar registers its host's guard as a service, in
 * {@code META-INF/services/org.picos.spi.BlockingGuard}, so having the jar on the class path is
 * enough: no bridge class needs to have been used. A guard whose class cannot link (its host library is
 * absent, so no thread of that host can exist) is skipped.
 */
@FunctionalInterface
public interface BlockingGuard {
  /**
   * Throws if the calling thread must not block, with a message naming the host and saying what
   * to do instead (for example, start a fiber on the loop); returns normally otherwise. Called on
   * the thread that is about to wait, outside any fiber; it must be cheap and never block.
   *
   * @throws RuntimeException (typically an {@link IllegalStateException}) to refuse the wait
   */
  void check();

  /**
   * Orders the guards when one thread belongs to several hosts: a higher precedence is asked
   * first, so the most specific host answers (a Vert.x event loop is also a Netty event loop, and
   * Vert.x's advice is the one that helps there). The bridges use {@code 100} for Netty,
   * {@code 200} for Reactor and RxJava and {@code 300} for Vert.x. Guards of equal precedence
   * are asked in registration order.
   *
   * @return this guard's precedence; {@code 0} unless overridden
   */
  default int precedence() {
    return 0;
  }
}
