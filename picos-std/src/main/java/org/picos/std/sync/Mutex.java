package org.picos.std.sync;

import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Support;
import org.picos.std.sync.WaitQueue.Waiter;

/**
 * A fair mutual-exclusion lock for fibers, on any scheduler and on plain or virtual threads.
 * Waiting suspends the fiber (never its carrier thread), so use it instead of
 * {@code synchronized} around code that awaits.
 *
 * <h2>States</h2>
 * Guarded by the mutex's own monitor, held only for a few field writes:
 * <pre>
 *   UNLOCKED                  --lock()-----------------> LOCKED(me, [])
 *   LOCKED(o, q)              --lock() by another f----> LOCKED(o, q + f)       (f suspends)
 *   LOCKED(o, [])             --unlock() by o----------> UNLOCKED
 *   LOCKED(o, f + q)          --unlock() by o----------> LOCKED(f, q)           (hand-off: f wakes as owner)
 *   LOCKED(o, q with f)       --f cancelled------------> LOCKED(o, q without f)
 * </pre>
 * Ownership passes directly to the oldest waiter (FIFO hand-off): the mutex is never free while
 * fibers wait, so nobody can overtake them.
 *
 * <h2>Cancellation</h2>
 * Waiting in {@link #lock()} is a cancellation point. A waiter cancelled before it was handed
 * the mutex leaves the queue; one that was cancelled just as ownership reached it unlocks at
 * once, passing the mutex to the next waiter, and then throws. Either way the mutex stays
 * consistent and no waiter is stranded. {@link #unlock()} is never a cancellation point, so it
 * is safe in {@code finally} blocks of cancelled fibers.
 *
 * <h2>Ownership and errors</h2>
 * The owner is the {@link Fiber} that locked (on a plain thread, that thread's implicit fiber).
 * The mutex is not reentrant. Misuse throws {@link IllegalStateException}: locking a mutex the
 * caller already holds, unlocking an unlocked mutex, unlocking from a fiber that is not the
 * owner.
 */
public final class Mutex {
  private final WaitQueue<Waiter> waiters = new WaitQueue<>();
  private final Object lockWait = Support.waitDescription("Mutex.lock", this);
  /** The owning fiber, or {@code null} when unlocked. */
  private Fiber owner;

  /** Creates an unlocked mutex. */
  public Mutex() {}

  /**
   * Locks the mutex, suspending the calling fiber while another fiber holds it. Waiters get the
   * mutex in arrival order.
   *
   * @throws RuntimeException the caller's cancellation cause if it is cancelled before or while
   *     waiting (the mutex is then not held by it); a checked cause is wrapped in a
   *     {@link java.util.concurrent.CompletionException}
   * @throws IllegalStateException if the caller already holds the mutex, or cannot suspend here
   *     (see {@link org.picos.Trigger#await()})
   */
  public void lock() {
    BlockingGuards.check();
    Fiber me = Fiber.current();
    me.checkCanceled();
    Waiter w;
    synchronized (this) {
      if (owner == null) {
        owner = me;
        return;
      }
      if (owner == me) {
        throw new IllegalStateException(
            "Mutex.lock: the calling fiber already holds this mutex (it is not reentrant);"
                + " unlock it before locking it again");
      }
      w = new Waiter(lockWait, me);
      waiters.add(w);
    }
    w.trigger.awaitOrAbandon(() -> abandon(w));
  }

  /** A waiter gives up: leaves the queue, or passes on the ownership that reached it. */
  private void abandon(Waiter w) {
    boolean owns;
    synchronized (this) {
      owns = !waiters.remove(w);
    }
    if (owns) {
      release(w.fiber);
    }
  }

  /**
   * Locks the mutex if it is free, without waiting.
   *
   * @return whether the caller now holds the mutex
   * @throws RuntimeException the caller's cancellation cause if it is cancelled
   * @throws IllegalStateException if the caller already holds the mutex
   */
  public boolean tryLock() {
    Fiber me = Fiber.current();
    me.checkCanceled();
    synchronized (this) {
      if (owner == null) {
        owner = me;
        return true;
      }
      if (owner == me) {
        throw new IllegalStateException(
            "Mutex.tryLock: the calling fiber already holds this mutex (it is not reentrant)");
      }
      return false;
    }
  }

  /**
   * Unlocks the mutex, handing it to the oldest waiter if there is one. Never suspends and is not
   * a cancellation point.
   *
   * @throws IllegalStateException if the mutex is not locked, or is held by another fiber
   */
  public void unlock() {
    release(Fiber.current());
  }

  private void release(Fiber me) {
    Waiter next;
    synchronized (this) {
      if (owner == null) {
        throw new IllegalStateException(
            "Mutex.unlock: the mutex is not locked; unlock only after a successful lock");
      }
      if (owner != me) {
        throw new IllegalStateException(
            "Mutex.unlock: the calling fiber does not own this mutex;"
                + " only the fiber that locked it may unlock it");
      }
      next = waiters.poll();
      owner = next == null ? null : next.fiber;
    }
    if (next != null) {
      next.trigger.signal();
    }
  }

  /**
   * Runs {@code body} holding the mutex: locks (a cancellation point, see {@link #lock()}), calls
   * the body, and unlocks however it ends. The body itself is not protected from cancellation.
   *
   * @return the body's value
   * @throws RuntimeException what {@link #lock()} throws, or what the body throws (a checked
   *     exception wrapped in a {@link java.util.concurrent.CompletionException})
   */
  public <T> T protect(Callable<T> body) {
    lock();
    try {
      return body.call();
    } catch (Exception e) {
      throw Computation.unchecked(e);
    } finally {
      unlock();
    }
  }

  /** Whether some fiber holds the mutex; a snapshot, for monitoring and tests. */
  public synchronized boolean isLocked() {
    return owner != null;
  }

  /** The number of fibers waiting to lock; a snapshot, for monitoring and tests. */
  public synchronized int queueLength() {
    return waiters.size();
  }

  @Override
  public synchronized String toString() {
    return "Mutex[" + (owner == null ? "unlocked" : "locked, " + waiters.size() + " waiting") + "]";
  }
}
