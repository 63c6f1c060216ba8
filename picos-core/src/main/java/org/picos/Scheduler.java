package org.picos;

import java.util.concurrent.Callable;

/**
 * A Picos scheduler, user side: where fibers run. Create one with
 * {@code org.picos.sched.Schedulers} or a bridge; what schedulers implement is the SPI in
 * {@code org.picos.spi} ({@link org.picos.spi.Handler}, {@link org.picos.spi.AbstractScheduler}).
 *
 * <p>Inside a fiber, {@link Fiber#spawn} starts children on the same scheduler; these methods
 * start fibers on this one from anywhere.
 */
public interface Scheduler extends AutoCloseable {
  /**
   * Runs {@code main} in a new fiber and waits for it: a plain calling thread blocks; a calling
   * fiber (of any scheduler) suspends. Returns main's value or rethrows its failure (unchecked
   * as is, checked wrapped in a {@link java.util.concurrent.CompletionException}).
   *
   * @throws IllegalStateException if the scheduler is closed
   */
  default <T> T run(Callable<T> main) {
    return start(main).await();
  }

  /**
   * Starts {@code main} in a new fiber and returns at once with its computation, which completes
   * with main's value or failure. Cancel the computation to cancel the fiber.
   *
   * @throws IllegalStateException if the scheduler is closed
   */
  <T> Computation<T> start(Callable<T> main);

  /**
   * Starts {@code fiber} (created with {@link Fiber#create} and not yet spawned) running
   * {@code main} on this scheduler, from anywhere, like {@link Fiber#spawn} does on the current
   * fiber's scheduler. This is how a scope on one scheduler gets children on another: give the
   * child the scope's computation, and cancelling the scope cancels it wherever it runs. All or
   * nothing: if this returns, {@code main} will be called; if it throws, never. A failure of
   * {@code main} cancels the fiber's computation (or, if that has completed, goes to the
   * uncaught-exception handler).
   *
   * @throws SchedulerClosedException if the scheduler is closed
   * @throws IllegalStateException if {@code fiber} was already spawned
   */
  void spawn(Fiber fiber, Runnable main);

  /**
   * Closes the scheduler: new work is refused, every live fiber is cancelled with a
   * {@link SchedulerClosedException} naming this scheduler, and the call waits until those
   * fibers have ended and the scheduler's threads are gone (unless called from one of its own
   * fibers, which cannot wait for itself). A fiber is cancelled for the rest of its life, not
   * only through the computation it has at that moment: a scope it is in (a {@code Bundle}, a
   * timeout) is cancelled, and once the scope has ended the fiber still sees the
   * {@code SchedulerClosedException} at its next cancellation point. A fiber that forbids
   * cancellation finishes what it does first (timers armed by its cleanup still fire, even if
   * the host that ran them has stopped), and one that waits, forbidden, for something that never
   * happens delays the close until it ends. A spawn racing the close either starts a fiber that
   * the close then cancels, or throws {@link SchedulerClosedException}; never a fiber that does
   * not run. Idempotent; a failure of a callback run while cancelling (a completion action that
   * throws) goes to the uncaught-exception handler and does not stop the close.
   */
  @Override
  void close();

  /** Whether {@link #close()} has been called. */
  boolean isClosed();
}
