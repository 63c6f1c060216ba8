package org.picos.sched;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Handler;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;

/**
 * What every core scheduler shares: the set of live fibers, {@link #start}, and the close
 * protocol.
 *
 * <h2>Close protocol</h2>
 * <pre>
 *   OPEN --close()/hostClosed(why)--> CLOSING: closed = true, then every live fiber's
 *          computation is cancelled with a SchedulerClosedException
 *   CLOSING --last live fiber ends--> TERMINATED: the 'terminated' computation returns,
 *          and stopHost() releases the host's threads
 * </pre>
 * A spawn racing with close either is seen by close in the live set (and cancelled there) or
 * sees {@code closed} itself and cancels its child, so no fiber escapes; the child's main still
 * runs (spawn is all or nothing) and ends at its first cancellation point.
 *
 * <h2>The live set</h2>
 * An intrusive doubly-linked ring of {@link Live} cells (a continuation fiber's task is its
 * cell, so tracking allocates nothing) guarded by {@code liveLock}, with a count. Only
 * {@link #track}, {@link #untrack}, {@link #liveFibers} and {@link #beginClose} touch it, each
 * for a few field writes under the lock; close cancels a snapshot outside the lock, so no
 * trigger action ever runs while it is held. {@code closeCause} is written before close takes
 * the snapshot and read by track after linking, which gives the race above.
 */
abstract class AbstractScheduler extends Handler implements Scheduler {
  final String name;
  private final Object liveLock = new Object();
  /** Sentinel of the live ring; guarded by liveLock. */
  private final Live live = new Live(null);
  /** Number of cells in the ring; guarded by liveLock. */
  private int liveCount;
  private final Computation<Void> terminated = Computation.create();
  private volatile SchedulerClosedException closeCause;

  AbstractScheduler(String name) {
    this.name = Objects.requireNonNull(name, "name");
  }

  @Override
  public <T> Computation<T> start(Callable<T> main) {
    Objects.requireNonNull(main, "main");
    if (closeCause != null) {
      throw new SchedulerClosedException(
          "Scheduler " + name + " is closed: it cannot start new fibers");
    }
    Computation<T> c = Computation.create();
    Fiber fiber = Fiber.create(false, c);
    spawnRoot(fiber, capturing(c, main));
    return c;
  }

  /** A fiber's cell in the live set; a cell is tracked at most once. */
  static class Live {
    final Fiber fiber;
    /** Neighbours in the ring while tracked; guarded by the scheduler's liveLock. */
    private Live prev = this;
    private Live next = this;

    Live(Fiber fiber) {
      this.fiber = fiber;
    }
  }

  /** Registers a spawned fiber's cell as live; cancels the fiber if the scheduler is closing. */
  final void track(Live cell) {
    synchronized (liveLock) {
      Live last = live.prev;
      cell.prev = last;
      cell.next = live;
      last.next = cell;
      live.prev = cell;
      liveCount++;
    }
    SchedulerClosedException cause = closeCause;
    if (cause != null) {
      cell.fiber.computation().tryCancel(cause);
    }
  }

  /** Called when a fiber's main has returned, with the cell given to {@link #track}. */
  final void untrack(Live cell) {
    boolean none;
    synchronized (liveLock) {
      cell.prev.next = cell.next;
      cell.next.prev = cell.prev;
      cell.prev = cell;
      cell.next = cell;
      none = --liveCount == 0;
    }
    if (none && closeCause != null) {
      terminated.tryReturn(null);
    }
  }

  /** A snapshot of the live cells, taken under the lock; act on it outside. */
  final List<Live> liveCells() {
    synchronized (liveLock) {
      List<Live> snapshot = new ArrayList<>(liveCount);
      for (Live c = live.next; c != live; c = c.next) {
        snapshot.add(c);
      }
      return snapshot;
    }
  }

  /** The number of fibers spawned and not yet ended. */
  public final int liveFibers() {
    synchronized (liveLock) {
      return liveCount;
    }
  }

  @Override
  public final boolean isClosed() {
    return closeCause != null;
  }

  /**
   * Starts closing because the host went away (or close was called): cancels every live fiber
   * with a cause built from {@code why}. Does not wait.
   */
  final void beginClose(String why) {
    synchronized (this) {
      if (closeCause != null) {
        return;
      }
      closeCause = new SchedulerClosedException(why);
    }
    List<Live> snapshot = liveCells();
    for (Live cell : snapshot) {
      cell.fiber.computation().tryCancel(closeCause);
    }
    if (snapshot.isEmpty()) {
      terminated.tryReturn(null);
    }
  }

  @Override
  public final void close() {
    beginClose("Scheduler " + name + " was closed while this fiber was alive");
    Fiber self = Fiber.current();
    if (Fiber.inFiber() && handlerOf(self) == this) {
      // A fiber of ours cannot wait for itself; the last fiber to end releases the host.
      terminated.whenDone(this::stopHost);
      return;
    }
    Fiber.forbid(terminated::await);
    stopHost();
    awaitHostStopped();
  }

  /**
   * Releases the host's threads once no fiber is left, without waiting for them: it may run on
   * one of them. Idempotent.
   */
  abstract void stopHost();

  /** Waits until the threads released by {@link #stopHost()} are gone. */
  void awaitHostStopped() {}

  @Override
  public String toString() {
    return name;
  }
}
