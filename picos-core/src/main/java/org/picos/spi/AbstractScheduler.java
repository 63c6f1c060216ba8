package org.picos.spi;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.internal.FiberEvents;
import org.picos.internal.FibersJmx;

/**
 * The base of a scheduler that is also its own {@link Handler}: the set of live fibers,
 * {@link #start}, {@link #spawn(Fiber, Runnable)} and the close protocol that the compatibility
 * kit ({@code org.picos.tck.SchedulerTck}) checks. Every core scheduler extends it, and so can a
 * third party's: implement {@link Handler}'s operations, call {@link #track} when a fiber is
 * spawned and {@link #untrack} when its main has returned, and release the host in
 * {@link #stopHost()}.
 *
 * <h2>Close protocol</h2>
 * <pre>
 *   OPEN --close()/hostClosed(why)--> CLOSING: closeCause is set, then every live fiber is
 *          closed with it (Handler.closeFiber: marked for life, its computation cancelled)
 *   CLOSING --last live fiber ends--> TERMINATED (decided under liveLock: 'drained' is set in
 *          the same critical section that sees the live count reach 0), then the 'terminated'
 *          computation returns and stopHost() releases the host's threads
 * </pre>
 * A spawn racing with close is decided under {@code liveLock} by {@link #track}: before
 * TERMINATED the child is linked (so TERMINATED waits for it) and, if close has begun, closed at
 * once; its main still runs (spawn is all or nothing) and ends at its first cancellation point.
 * Once TERMINATED, {@code track} refuses: the spawn throws and main never runs, since the host
 * that would run it is being released. Closing a fiber marks the fiber itself, not just the
 * computation it has at that moment, so a scope that discards its own cancelled computation
 * (a timeout that fired, a bundle that ended) cannot lose the close. Closing never throws: a
 * trigger action or completion callback that throws while a fiber is cancelled is reported to
 * the uncaught-exception handler and the remaining fibers are still closed.
 *
 * <h2>The live set</h2>
 * An intrusive doubly-linked ring of {@link Live} cells (a continuation fiber's task is its
 * cell, so tracking allocates nothing) guarded by {@code liveLock}, with a count. Only
 * {@link #track}, {@link #untrack}, {@link #liveFibers} and {@link #beginClose} touch it, each
 * for a few field writes under the lock; close cancels a snapshot outside the lock, so no
 * trigger action ever runs while it is held. {@code closeCause} is written before close takes
 * the snapshot and read by track after linking, which gives the race above.
 */
public abstract class AbstractScheduler extends Handler implements Scheduler {
  /** The scheduler's name, used in messages and cancellation causes. */
  protected final String name;
  private final Object liveLock = new Object();
  /** Sentinel of the live ring; guarded by liveLock. */
  private final Live live = new Live(null);
  /** Number of cells in the ring; guarded by liveLock. */
  private int liveCount;
  /** TERMINATED: closing and no fiber left; final; guarded by liveLock. */
  private boolean drained;
  private final Computation<Void> terminated = Computation.create();
  private volatile SchedulerClosedException closeCause;

  /** A scheduler named {@code name}, used in its messages and in its fibers' close causes. */
  protected AbstractScheduler(String name) {
    this.name = Objects.requireNonNull(name, "name");
    REGISTRY.add(new java.lang.ref.WeakReference<>(this));
    FibersJmx.registerOnce();
  }

  /** Every scheduler built, held weakly: a collected scheduler drops out (for fiber dumps). */
  private static final java.util.Queue<java.lang.ref.WeakReference<AbstractScheduler>> REGISTRY =
      new java.util.concurrent.ConcurrentLinkedQueue<>();

  /**
   * The schedulers of this JVM that are not yet collected, and not terminated with no fiber
   * left; for {@code org.picos.Fibers}. Safe from any thread; weakly consistent.
   *
   * @return a snapshot, in construction order
   */
  public static List<AbstractScheduler> registered() {
    List<AbstractScheduler> all = new ArrayList<>();
    for (java.util.Iterator<java.lang.ref.WeakReference<AbstractScheduler>> it = REGISTRY.iterator(); it.hasNext(); ) {
      AbstractScheduler s = it.next().get();
      if (s == null) {
        it.remove();
      } else if (!s.isClosed() || s.liveFibers() > 0) {
        all.add(s);
      }
    }
    return all;
  }

  /**
   * The fibers of this scheduler that are alive now. Safe from any thread; a snapshot taken
   * under the live-set lock for a few field reads.
   *
   * @return the live fibers, oldest first
   */
  public final List<Fiber> liveFiberSnapshot() {
    List<Live> cells = liveCells();
    List<Fiber> fibers = new ArrayList<>(cells.size());
    for (Live c : cells) {
      fibers.add(c.fiber);
    }
    return fibers;
  }

  /**
   * For fiber dumps: the frames of {@code fiber} if it is a live fiber of this scheduler,
   * suspended now, and its frames can be read without running or delaying it beyond the read;
   * otherwise null. Safe from any thread; never blocks. This default reads nothing.
   *
   * @param fiber a fiber, of this scheduler or not
   * @return its stack, innermost frame first, or null
   */
  public StackTraceElement[] suspendedStack(Fiber fiber) {
    return null;
  }

  @Override
  public <T> Computation<T> start(Callable<T> main) {
    Objects.requireNonNull(main, "main");
    Computation<T> c = Computation.create();
    spawn(Fiber.create(false, c), Support.capturing(c, main));
    return c;
  }

  @Override
  public void spawn(Fiber fiber, Runnable main) {
    if (closeCause != null) {
      throw new SchedulerClosedException(
          "Scheduler " + name + " is closed: it cannot start new fibers");
    }
    spawnRoot(fiber, main);
  }

  /** A fiber's cell in the live set; a cell is tracked at most once. */
  protected static class Live {
    /** The fiber this cell tracks. */
    protected final Fiber fiber;
    /** Neighbours in the ring while tracked; guarded by the scheduler's liveLock. */
    private Live prev = this;
    private Live next = this;

    /** A cell for {@code fiber}, not yet tracked. */
    public Live(Fiber fiber) {
      this.fiber = fiber;
    }
  }

  /**
   * Registers a spawned fiber's cell as live; closes the fiber at once if the scheduler is
   * closing.
   *
   * @throws SchedulerClosedException if the scheduler has terminated (the fiber must not start)
   */
  protected final void track(Live cell) {
    synchronized (liveLock) {
      if (drained) {
        throw new SchedulerClosedException(
            "Scheduler " + name + " is closed and all its fibers have ended: it cannot start new fibers");
      }
      Live last = live.prev;
      cell.prev = last;
      cell.next = live;
      last.next = cell;
      live.prev = cell;
      liveCount++;
    }
    FiberEvents.started(cell.fiber, this);
    SchedulerClosedException cause = closeCause;
    if (cause != null) {
      closeFiber(cell.fiber, cause);
    }
  }

  /** Called when a fiber's main has returned, with the cell given to {@link #track}. */
  protected final void untrack(Live cell) {
    FiberEvents.ended(cell.fiber, this);
    boolean nowDrained;
    synchronized (liveLock) {
      cell.prev.next = cell.next;
      cell.next.prev = cell.prev;
      cell.prev = cell;
      cell.next = cell;
      nowDrained = --liveCount == 0 && closeCause != null && !drained;
      if (nowDrained) {
        drained = true;
      }
    }
    if (nowDrained) {
      terminate();
    }
  }

  /** TERMINATED: releases whoever waits in close (never throws; see the class comment). */
  private void terminate() {
    try {
      terminated.tryReturn(null);
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
    }
  }

  /** A snapshot of the live cells, taken under the lock; act on it outside. */
  protected final List<Live> liveCells() {
    synchronized (liveLock) {
      return liveCellsLocked();
    }
  }

  private List<Live> liveCellsLocked() {
    List<Live> snapshot = new ArrayList<>(liveCount);
    for (Live c = live.next; c != live; c = c.next) {
      snapshot.add(c);
    }
    return snapshot;
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
  protected final void beginClose(String why) {
    SchedulerClosedException cause;
    synchronized (this) {
      if (closeCause != null) {
        return;
      }
      cause = closeCause = new SchedulerClosedException(why);
    }
    try {
      onClosing();
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
    }
    List<Live> snapshot;
    boolean nowDrained;
    synchronized (liveLock) {
      snapshot = liveCellsLocked();
      nowDrained = snapshot.isEmpty() && !drained;
      if (nowDrained) {
        drained = true;
      }
    }
    for (Live cell : snapshot) {
      closeFiber(cell.fiber, cause);
    }
    if (nowDrained) {
      terminate();
    }
  }

  /**
   * Called once when closing begins, after {@code closeCause} is set and before fibers are
   * closed: for a subclass to move what the host may drop (its timers) somewhere that lives on.
   */
  protected void onClosing() {}

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
  protected abstract void stopHost();

  /** Waits until the threads released by {@link #stopHost()} are gone. */
  protected void awaitHostStopped() {}

  @Override
  public String toString() {
    return name;
  }
}
