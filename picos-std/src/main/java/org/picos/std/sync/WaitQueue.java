package org.picos.std.sync;

import org.picos.Fiber;
import org.picos.Trigger;

/**
 * A FIFO queue of waiting fibers with O(1) removal, used by {@link Mutex}, {@link Condition},
 * {@link Semaphore} (nodes: {@link Waiter}) and {@link Channel} (nodes: its offers). Not
 * thread-safe: every method is called while holding the monitor of the primitive that owns the
 * queue. Triggers are signalled by the caller <em>after</em> it leaves that monitor, so that a
 * scheduler resuming a fiber inline never runs it inside a primitive's critical section.
 *
 * @param <N> the node type
 */
final class WaitQueue<N extends WaitQueue.Node<N>> {
  /** The links of a queue node. */
  abstract static class Node<N extends Node<N>> {
    N prev;
    N next;
    /** True from {@link WaitQueue#add} until {@link WaitQueue#remove} takes it out. */
    boolean queued;
  }

  /** One fiber waiting in a mutex, condition or semaphore. */
  static final class Waiter extends Node<Waiter> {
    final Trigger trigger;
    final Fiber fiber;

    /** {@code waitFor}: what a fiber dump says it waits for (see {@link org.picos.spi.Support#waitDescription}). */
    Waiter(Object waitFor, Fiber fiber) {
      this.trigger = Trigger.create(waitFor);
      this.fiber = fiber;
    }
  }

  private N head;
  private N tail;
  private int size;

  /** Appends {@code n}. */
  void add(N n) {
    n.queued = true;
    n.prev = tail;
    if (tail == null) {
      head = n;
    } else {
      tail.next = n;
    }
    tail = n;
    size++;
  }

  /** The oldest node, or {@code null}; follow {@code next} to iterate. */
  N peek() {
    return head;
  }

  /** Removes and returns the oldest node, or {@code null}. */
  N poll() {
    N n = head;
    if (n != null) {
      remove(n);
    }
    return n;
  }

  /** Removes {@code n} if it is queued here; returns whether it was. */
  boolean remove(N n) {
    if (!n.queued) {
      return false;
    }
    if (n.prev == null) {
      head = n.next;
    } else {
      n.prev.next = n.next;
    }
    if (n.next == null) {
      tail = n.prev;
    } else {
      n.next.prev = n.prev;
    }
    n.prev = n.next = null;
    n.queued = false;
    size--;
    return true;
  }

  int size() {
    return size;
  }
}
