package org.picos.std.sync;

import org.picos.Computation;

/**
 * A countdown latch: fibers {@linkplain #await() wait} until the count reaches zero. Unlike
 * {@link java.util.concurrent.CountDownLatch}, the count may also go up while it is positive
 * (a fiber announcing more work), but once it reaches zero the latch stays open for good.
 *
 * <p>States: {@code COUNTING(n > 0)} --countDown to 0--&gt; {@code OPEN} (final); the count
 * changes under the latch's monitor and opening completes an internal computation that every
 * waiter awaits.
 *
 * <h2>Cancellation</h2>
 * {@link #await()} is a cancellation point (it leaves nothing behind when cancelled).
 * {@link #countDown()} and {@link #countUp()} never suspend and are not cancellation points.
 */
public final class Latch {
  private final Computation<Void> open;
  private int count;

  /**
   * Creates a latch with {@code count}; a zero count makes it open at once.
   *
   * @throws IllegalArgumentException if {@code count} is negative
   */
  public Latch(int count) {
    if (count < 0) {
      throw new IllegalArgumentException("Latch: the initial count must not be negative, was " + count);
    }
    this.count = count;
    this.open = count == 0 ? Computation.returned(null) : Computation.create();
  }

  /** Decrements the count unless it is zero; opens the latch when it reaches zero. */
  public boolean tryCountDown() {
    synchronized (this) {
      if (count == 0) {
        return false;
      }
      if (--count != 0) {
        return true;
      }
    }
    open.tryReturn(null);
    return true;
  }

  /**
   * Decrements the count, opening the latch when it reaches zero.
   *
   * @throws IllegalStateException if the count is already zero
   */
  public void countDown() {
    if (!tryCountDown()) {
      throw new IllegalStateException(
          "Latch.countDown: the count is already zero; count down only what was counted up");
    }
  }

  /** Increments the count unless the latch is already open; returns whether it did. */
  public synchronized boolean tryCountUp() {
    if (count == 0 || count == Integer.MAX_VALUE) {
      return false;
    }
    count++;
    return true;
  }

  /**
   * Increments the count.
   *
   * @throws IllegalStateException if the latch is already open (count zero) or the count is at
   *     {@link Integer#MAX_VALUE}
   */
  public void countUp() {
    if (!tryCountUp()) {
      throw new IllegalStateException(
          "Latch.countUp: the latch is already open (count zero) or the count is at its maximum;"
              + " count up before the count reaches zero");
    }
  }

  /** The current count; a snapshot. */
  public synchronized int count() {
    return count;
  }

  /**
   * Waits until the count is zero; returns at once if it is.
   *
   * @throws RuntimeException the caller's cancellation cause if cancelled while waiting
   */
  public void await() {
    open.awaitDescribed(this); // a dump of a waiting fiber shows this latch's toString
  }

  /** The count, for logs and fiber dumps: {@code Latch[2 to go]} or {@code Latch[open]}. */
  @Override
  public synchronized String toString() {
    return count == 0 ? "Latch[open]" : "Latch[" + count + " to go]";
  }

  /** An event that fires (with {@code null}) when the latch opens; see {@link Event}. */
  public Event<Void> awaitEvent() {
    return Event.fromComputation(open);
  }
}
