package org.picos.std.sync;

import org.picos.Computation;
import org.picos.Fiber;
import org.picos.spi.Support;
import org.picos.std.sync.WaitQueue.Waiter;

/**
 * A condition variable used with a {@link Mutex}: fibers holding the mutex wait on it until
 * another fiber {@linkplain #signal() signals} or {@linkplain #broadcast() broadcasts}. As with
 * every condition variable, check the awaited predicate in a loop.
 *
 * <h2>Cancellation</h2>
 * Waiting in {@link #await(Mutex)} is a cancellation point. Whatever happens, {@code await}
 * returns or throws with the mutex locked again by the caller: it re-locks with cancellation
 * forbidden, so the caller's {@code finally { mutex.unlock(); }} stays correct. A waiter that is
 * cancelled after a signal already chose it forwards that signal to the next waiter, so a
 * signal is never lost to a fiber that is going away.
 *
 * <p>Thread safety: any fiber or thread may signal, with or without holding the mutex.
 */
public final class Condition {
  private final WaitQueue<Waiter> waiters = new WaitQueue<>();
  private final Object signalWait = Support.waitDescription("Condition.await", this);

  /** Creates a condition with no waiters. */
  public Condition() {}

  /**
   * Atomically unlocks {@code mutex} and waits for a signal, then locks {@code mutex} again
   * before returning. A signal sent after this fiber was queued (which happens before the mutex
   * is released) is never missed.
   *
   * @throws IllegalStateException if the caller does not hold {@code mutex} (the mutex's own
   *     message), or cannot suspend here; the mutex is then still held
   * @throws RuntimeException the caller's cancellation cause if cancelled while waiting, thrown
   *     after the mutex is locked again
   */
  public void await(Mutex mutex) {
    Fiber me = Fiber.current();
    Waiter w = new Waiter(signalWait, me);
    synchronized (this) {
      waiters.add(w);
    }
    try {
      mutex.unlock();
    } catch (RuntimeException e) {
      // The caller does not hold the mutex. A signal may have picked this waiter meanwhile:
      // pass it on, as a cancelled waiter does.
      boolean consumedSignal;
      synchronized (this) {
        consumedSignal = !waiters.remove(w);
      }
      if (consumedSignal) {
        signal();
      }
      throw e;
    }
    Throwable cause = null;
    RuntimeException failure = null;
    try {
      cause = w.trigger.await();
    } catch (RuntimeException e) {
      failure = e;
    }
    if (cause != null || failure != null) {
      boolean consumedSignal;
      synchronized (this) {
        consumedSignal = !waiters.remove(w);
      }
      if (consumedSignal) {
        signal();
      }
    }
    boolean forbade = me.exchangeForbid(true);
    try {
      mutex.lock();
    } finally {
      me.exchangeForbid(forbade);
    }
    if (failure != null) {
      throw failure;
    }
    if (cause != null) {
      throw Computation.unchecked(cause);
    }
  }

  /** Wakes the oldest waiter, if any. Never suspends; not a cancellation point. */
  public void signal() {
    Waiter w;
    synchronized (this) {
      w = waiters.poll();
    }
    if (w != null) {
      w.trigger.signal();
    }
  }

  /** Wakes every fiber waiting now. Never suspends; not a cancellation point. */
  public void broadcast() {
    Waiter all = null;
    synchronized (this) {
      // Re-link the polled waiters through 'next' to signal them outside the monitor.
      Waiter last = null;
      for (Waiter w = waiters.poll(); w != null; w = waiters.poll()) {
        if (last == null) {
          all = w;
        } else {
          last.next = w;
        }
        last = w;
      }
    }
    while (all != null) {
      Waiter next = all.next;
      all.next = null;
      all.trigger.signal();
      all = next;
    }
  }

  /** The number of waiting fibers; a snapshot, for monitoring and tests. */
  public synchronized int queueLength() {
    return waiters.size();
  }

  @Override
  public synchronized String toString() {
    return "Condition[" + waiters.size() + " waiting]";
  }
}
