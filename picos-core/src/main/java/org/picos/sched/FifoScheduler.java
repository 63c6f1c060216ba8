package org.picos.sched;

import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * One carrier thread running fibers in FIFO order; a cancelled fiber is resumed first, so
 * cancellation takes effect promptly (as Picos' fifo scheduler does).
 *
 * <h2>Queues</h2>
 * The carrier owns an {@link ArrayDeque} that only it touches: tasks made runnable on the
 * carrier itself (a fiber signalling another, a yield, a spawn) go there with no atomic
 * operation. Other threads push onto a lock-free {@code inbox} (or {@code urgentInbox} for
 * cancelled fibers) and unpark the carrier if it announced it was going to sleep.
 *
 * <h2>Sleeping without losing a wake-up</h2>
 * <pre>
 *   carrier: sleeping = true; if (inboxes empty && !stopping) park(); sleeping = false
 *   others:  inbox.add(task); if (sleeping) unpark(carrier)
 * </pre>
 * Both sides write their own volatile before reading the other's, so either the carrier sees
 * the task or the pusher sees {@code sleeping} (and an unpark before the park is kept).
 */
final class FifoScheduler extends ContinuationScheduler {
  private final ArrayDeque<Task> local = new ArrayDeque<>();
  private final ConcurrentLinkedQueue<Task> inbox = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Task> urgentInbox = new ConcurrentLinkedQueue<>();
  private final Thread carrier;
  private volatile boolean sleeping;
  private volatile boolean stopping;

  FifoScheduler(String name) {
    super(name);
    carrier = new Thread(this::loop, name);
    carrier.setDaemon(true);
    carrier.start();
  }

  @Override
  void schedule(Task task, boolean urgent) {
    if (Thread.currentThread() == carrier) {
      if (urgent) {
        local.addFirst(task);
      } else {
        local.addLast(task);
      }
      return;
    }
    (urgent ? urgentInbox : inbox).add(task);
    if (sleeping) {
      LockSupport.unpark(carrier);
    }
  }

  /** Inline joins look this far back from the tail of the carrier's deque for the child. */
  private static final int TAKE_BACK_WINDOW = 16;

  /** Removes a just-spawned, never-run task from the carrier's own deque (on the carrier). */
  @Override
  boolean takeBack(Task task) {
    java.util.Iterator<Task> newestFirst = local.descendingIterator();
    for (int k = 0; k < TAKE_BACK_WINDOW && newestFirst.hasNext(); k++) {
      if (newestFirst.next() == task) {
        newestFirst.remove();
        return true;
      }
    }
    return false;
  }

  private void loop() {
    for (;;) {
      Task urgent;
      while ((urgent = urgentInbox.poll()) != null) {
        local.addFirst(urgent);
      }
      Task t;
      while ((t = inbox.poll()) != null) {
        local.addLast(t);
      }
      Task next = local.pollFirst();
      if (next != null) {
        next.run();
        continue;
      }
      if (stopping) {
        return;
      }
      sleeping = true;
      if (inbox.isEmpty() && urgentInbox.isEmpty() && !stopping) {
        LockSupport.park(this);
      }
      sleeping = false;
    }
  }

  @Override
  protected void stopHost() {
    stopping = true;
    LockSupport.unpark(carrier);
  }

  @Override
  protected void awaitHostStopped() {
    if (Thread.currentThread() != carrier) {
      boolean interrupted = false;
      while (carrier.isAlive()) {
        try {
          carrier.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
