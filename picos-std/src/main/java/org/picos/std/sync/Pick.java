package org.picos.std.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.picos.Trigger;

/**
 * The commit point of one wait: a fiber blocked in a {@link Channel} operation, or in
 * {@link Event#sync()} over any number of offers. Exactly one party completes it: a channel
 * that matches one of its offers, a timer, a computation, or the owner itself withdrawing
 * because it was cancelled. This plays the part of the target computation of Picos' event
 * {@code sync}; it is a small state machine of its own because a channel match must commit two
 * waits at once (a selecting sender and a selecting receiver), which needs the claim step below.
 *
 * <h2>Lock-free state machine</h2>
 * <pre>
 *   WAITING --claim() CAS--> CLAIMED --publish(finish, value)--> DONE (final)
 *   CLAIMED --unclaim()----> WAITING     (a two-sided commit whose other side was DONE)
 * </pre>
 * Only a claimer writes {@code finish}/{@code value}, before the volatile write of DONE, so
 * whoever sees DONE sees the outcome. A claim is held for a few instructions by a running
 * thread, never across a suspension or a lock acquisition; others that meet a CLAIMED pick spin
 * until it is released or DONE. Two-sided commits claim the pick with the smaller
 * {@linkplain #order() order} first, so spinning claimers can never wait on each other in a
 * cycle. The committer signals {@link #trigger} after publishing (and after leaving any lock).
 */
final class Pick {
  /** {@code waitFor}: what a fiber dump says the owner waits for. */
  Pick(Object waitFor) {
    this.trigger = Trigger.create(waitFor);
  }

  static final int WAITING = 0;
  static final int CLAIMED = 1;
  static final int DONE = 2;

  private static final AtomicLong ORDERS = new AtomicLong();
  private static final VarHandle STATE;
  private static final VarHandle ORDER;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      STATE = l.findVarHandle(Pick.class, "state", int.class);
      ORDER = l.findVarHandle(Pick.class, "order", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** A failure to throw from {@link #result()} instead of a value. */
  record Failure(RuntimeException error) {}

  /** Awaited by the owner; signalled by the committer. */
  final Trigger trigger;
  volatile int state;
  /** Assigned on first two-sided commit; 0 until then. */
  private volatile long order;
  /** Turns {@link #value} into the owner's result; {@code null} means the value itself. */
  private Function<Object, Object> finish;
  private Object value;

  /** Claims a WAITING pick, spinning while another party holds a claim; false if DONE. */
  boolean claim() {
    for (int spins = 0; ; spins++) {
      int s = state;
      if (s == DONE) {
        return false;
      }
      if (s == WAITING && STATE.compareAndSet(this, WAITING, CLAIMED)) {
        return true;
      }
      if (spins < 64) {
        Thread.onSpinWait();
      } else {
        Thread.yield();
      }
    }
  }

  /** Releases a claim without completing. */
  void unclaim() {
    state = WAITING;
  }

  /** Completes a claimed pick. The caller signals {@link #trigger} once it holds no lock. */
  void publish(Function<Object, Object> finish, Object value) {
    this.finish = finish;
    this.value = value;
    state = DONE;
  }

  /** Claims, publishes and signals: a one-sided commit made outside any lock. */
  boolean fire(Function<Object, Object> finish, Object value) {
    if (!claim()) {
      return false;
    }
    publish(finish, value);
    trigger.signal();
    return true;
  }

  /** Whether the pick is DONE. */
  boolean isDone() {
    return state == DONE;
  }

  /** The raw published value; for plain channel operations, whose finish is null. */
  Object value() {
    return value;
  }

  /** The owner's result after DONE: applies {@code finish}, or throws a published failure. */
  Object result() {
    if (value instanceof Failure f) {
      throw f.error;
    }
    return finish == null ? value : finish.apply(value);
  }

  private long order() {
    long o = order;
    if (o == 0) {
      long mine = ORDERS.incrementAndGet();
      o = ORDER.compareAndSet(this, 0L, mine) ? mine : order;
    }
    return o;
  }

  /**
   * Claims both picks, smaller order first. Returns false, holding neither, if either is DONE
   * (the caller checks which).
   */
  static boolean claimBoth(Pick a, Pick b) {
    Pick first = a.order() < b.order() ? a : b;
    Pick second = first == a ? b : a;
    if (!first.claim()) {
      return false;
    }
    if (!second.claim()) {
      first.unclaim();
      return false;
    }
    return true;
  }

  /** Composes "then {@code g}" after {@code f}, where null stands for identity. */
  static Function<Object, Object> then(Function<Object, Object> f, Function<Object, Object> g) {
    if (f == null) {
      return g;
    }
    if (g == null) {
      return f;
    }
    return f.andThen(g);
  }
}
