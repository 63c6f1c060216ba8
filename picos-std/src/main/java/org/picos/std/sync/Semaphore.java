package org.picos.std.sync;

import org.picos.Computation;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Support;
import org.picos.std.sync.WaitQueue.Waiter;

/**
 * A counting semaphore for fibers: {@link #acquire()} takes a permit, suspending while there is
 * none; {@link #release()} gives one back, handing it straight to the oldest waiter if there is
 * one (FIFO, so waiters are not overtaken).
 *
 * <h2>States</h2>
 * Guarded by the semaphore's monitor:
 * <pre>
 *   (n &gt; 0, [])   --acquire--> (n - 1, [])
 *   (0, q)        --acquire--> (0, q + f)                 (f suspends)
 *   (n, [])       --release--> (n + 1, [])                (IllegalStateException at Integer.MAX_VALUE)
 *   (0, f + q)    --release--> (0, q)                     (the permit goes to f, which wakes)
 *   (0, q with f) --f cancelled--> (0, q without f)
 * </pre>
 * Permits are never counted while fibers wait.
 *
 * <h2>Cancellation</h2>
 * Only the waiting in {@link #acquire()} is a cancellation point (taking an available permit
 * does not check). A waiter cancelled before a permit reached it leaves the queue; one cancelled
 * just as a permit was handed to it releases that permit again (to the next waiter) before
 * throwing. No permit is lost or created. {@link #release()} never suspends and is not a
 * cancellation point.
 */
public final class Semaphore {
  private final WaitQueue<Waiter> waiters = new WaitQueue<>();
  private final Object permitWait = Support.waitDescription("Semaphore.acquire", this);
  private int permits;

  /**
   * Creates a semaphore with {@code permits} initial permits.
   *
   * @throws IllegalArgumentException if {@code permits} is negative
   */
  public Semaphore(int permits) {
    if (permits < 0) {
      throw new IllegalArgumentException(
          "Semaphore: the initial number of permits must not be negative, was " + permits);
    }
    this.permits = permits;
  }

  /**
   * Takes a permit, suspending the caller until one is available.
   *
   * @throws RuntimeException the caller's cancellation cause if cancelled while waiting (no
   *     permit is then held); a checked cause is wrapped in a
   *     {@link java.util.concurrent.CompletionException}
   * @throws IllegalStateException if the caller cannot suspend here (see
   *     {@link org.picos.Trigger#await()})
   */
  public void acquire() {
    BlockingGuards.check();
    Waiter w;
    synchronized (this) {
      if (permits > 0) {
        permits--;
        return;
      }
      w = new Waiter(permitWait, null);
      waiters.add(w);
    }
    w.trigger.awaitOrAbandon(() -> abandon(w));
  }

  private void abandon(Waiter w) {
    boolean granted;
    synchronized (this) {
      granted = !waiters.remove(w);
    }
    if (granted) {
      release();
    }
  }

  /** Takes a permit if one is available, without waiting; returns whether it did. */
  public synchronized boolean tryAcquire() {
    if (permits > 0) {
      permits--;
      return true;
    }
    return false;
  }

  /**
   * Returns a permit: to the oldest waiter, which wakes holding it, or to the count.
   *
   * @throws IllegalStateException if the count is already {@link Integer#MAX_VALUE} (the count
   *     is unchanged)
   */
  public void release() {
    Waiter w;
    synchronized (this) {
      w = waiters.poll();
      if (w == null) {
        if (permits == Integer.MAX_VALUE) {
          throw new IllegalStateException(
              "Semaphore.release: the permit count would overflow Integer.MAX_VALUE;"
                  + " release only permits that were acquired");
        }
        permits++;
      }
    }
    if (w != null) {
      w.trigger.signal();
    }
  }

  /** The number of available permits (0 while fibers wait); a snapshot. */
  public synchronized int availablePermits() {
    return permits;
  }

  /** The number of waiting fibers; a snapshot, for monitoring and tests. */
  public synchronized int queueLength() {
    return waiters.size();
  }

  @Override
  public synchronized String toString() {
    return "Semaphore[" + permits + " permits, " + waiters.size() + " waiting]";
  }
}
