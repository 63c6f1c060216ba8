package org.picos.spi;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
 *   CLOSING --last live fiber ends--> TERMINATED (decided by the 'remaining' counter, see the
 *          live set below, reaching 0), then the 'terminated' computation returns and
 *          stopHost() releases the host's threads
 * </pre>
 * A spawn racing with close is decided by {@link #track}: before TERMINATED the child is linked
 * (so TERMINATED waits for it) and, if close has begun, closed at once; its main still runs
 * (spawn is all or nothing) and ends at its first cancellation point.
 * Once TERMINATED, {@code track} refuses: the spawn throws and main never runs, since the host
 * that would run it is being released. Closing a fiber marks the fiber itself, not just the
 * computation it has at that moment, so a scope that discards its own cancelled computation
 * (a timeout that fired, a bundle that ended) cannot lose the close. Closing never throws: a
 * trigger action or completion callback that throws while a fiber is cancelled is reported to
 * the uncaught-exception handler and the remaining fibers are still closed.
 *
 * <h2>The live set</h2>
 * Striped, so that carriers spawning and ending fibers at once do not contend on one lock (with
 * a single lock, fib(25) on {@code multi(2)} spent most of its time handing that lock's cache
 * line between the two workers). Each {@link Stripe} is an intrusive doubly-linked ring of
 * {@link Live} cells (a continuation fiber's task is its cell, so tracking allocates nothing)
 * guarded by the stripe itself, with a count; a cell goes to the stripe of the thread that
 * tracks it (threads take stripe numbers in turn) and remembers which. Only {@link #track},
 * {@link #untrack}, {@link #liveFibers}, {@link #liveCells} and {@link #beginClose} touch it,
 * each for a few field writes under one stripe's lock, except beginClose, which takes every
 * stripe's lock (in index order: the only place that holds two) to switch the set to closing:
 * <pre>
 *   OPEN:    track/untrack link/unlink in their stripe and count there, nothing shared
 *   beginClose, all stripe locks held: closing = true, remaining = the sum of the counts,
 *            snapshot every cell; remaining == 0 -> TERMINATED at once
 *   CLOSING: untrack, under its stripe's lock, decrements remaining; reaching 0 -> TERMINATED
 *            track, under its stripe's lock, increments remaining unless it is 0 (CAS), and
 *            refuses the spawn if it is: remaining never leaves 0, so TERMINATED is final
 * </pre>
 * A stripe operation either happens before the switch (and is in the sum) or after it (and
 * sees {@code closing}), since the switch holds every stripe's lock. Close cancels its snapshot
 * outside the locks, so no trigger action ever runs while one is held. {@code closeCause} is
 * written before close takes the snapshot and read by track after linking, which gives the race
 * above.
 */
public abstract class AbstractScheduler extends Handler implements Scheduler {
  /** The scheduler's name, used in messages and cancellation causes. */
  protected final String name;
  /** The live set; see the class comment. The length is a power of two. */
  private final Stripe[] stripes = newStripes();
  /** Set with every stripe's lock held when closing begins; read under any one of them. */
  private boolean closing;
  /** Live fibers once closing began; TERMINATED when it reaches 0 (see the class comment). */
  private final AtomicLong remaining = new AtomicLong();
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
    /** Neighbours in the ring while tracked; guarded by the stripe's lock. */
    private Live prev = this;
    private Live next = this;
    /** The index of the stripe it is tracked in. */
    private byte stripe;

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
    int index = stripeIndex();
    Stripe stripe = stripes[index];
    cell.stripe = (byte) index;
    synchronized (stripe) {
      if (closing) {
        long r;
        do {
          r = remaining.get();
          if (r == 0) {
            throw new SchedulerClosedException("Scheduler " + name
                + " is closed and all its fibers have ended: it cannot start new fibers");
          }
        } while (!remaining.compareAndSet(r, r + 1));
      }
      Live last = stripe.ring.prev;
      cell.prev = last;
      cell.next = stripe.ring;
      last.next = cell;
      stripe.ring.prev = cell;
      stripe.count++;
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
    Stripe stripe = stripes[cell.stripe];
    boolean nowDrained;
    synchronized (stripe) {
      cell.prev.next = cell.next;
      cell.next.prev = cell.prev;
      cell.prev = cell;
      cell.next = cell;
      stripe.count--;
      nowDrained = closing && remaining.decrementAndGet() == 0;
    }
    if (nowDrained) {
      terminate();
    }
  }

  /** One stripe of the live set: a ring of cells and their number, guarded by the stripe. */
  private static final class Stripe {
    final Live ring = new Live(null);
    int count;
  }

  private static Stripe[] newStripes() {
    int cpus = Math.max(1, Runtime.getRuntime().availableProcessors());
    int n = Math.min(64, Integer.highestOneBit(2 * cpus - 1) << 1); // a power of two >= 2 x cpus
    Stripe[] stripes = new Stripe[n];
    for (int i = 0; i < n; i++) {
      stripes[i] = new Stripe();
    }
    return stripes;
  }

  /** Threads take stripe numbers in turn, so that carriers of one scheduler get distinct ones. */
  private static final AtomicInteger STRIPES_TAKEN = new AtomicInteger();
  private static final ThreadLocal<Integer> STRIPE_OF_THREAD =
      ThreadLocal.withInitial(STRIPES_TAKEN::getAndIncrement);

  /**
   * The stripe of the calling thread. (A hash of the thread id put the two workers of one
   * {@code multi(2)} on the same stripe as often as not.) Called from fiber code it may read a
   * carrier the fiber ran on before it last moved (see {@link Fiber}): then it only picks
   * another stripe.
   */
  private int stripeIndex() {
    return STRIPE_OF_THREAD.get() & (stripes.length - 1);
  }

  /** TERMINATED: releases whoever waits in close (never throws; see the class comment). */
  private void terminate() {
    try {
      terminated.tryReturn(null);
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
    }
  }

  /**
   * A snapshot of the live cells, one stripe at a time under its lock (oldest first within a
   * stripe); act on it outside.
   */
  protected final List<Live> liveCells() {
    List<Live> snapshot = new ArrayList<>();
    for (Stripe stripe : stripes) {
      synchronized (stripe) {
        addCells(stripe, snapshot);
      }
    }
    return snapshot;
  }

  private static void addCells(Stripe stripe, List<Live> to) {
    for (Live c = stripe.ring.next; c != stripe.ring; c = c.next) {
      to.add(c);
    }
  }

  /** The number of fibers spawned and not yet ended (summed one stripe at a time). */
  public final int liveFibers() {
    int n = 0;
    for (Stripe stripe : stripes) {
      synchronized (stripe) {
        n += stripe.count;
      }
    }
    return n;
  }

  /** Runs {@code action} holding the locks of stripes {@code from} and after, in index order. */
  private void withStripesLocked(int from, Runnable action) {
    if (from == stripes.length) {
      action.run();
      return;
    }
    synchronized (stripes[from]) {
      withStripesLocked(from + 1, action);
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
    List<Live> snapshot = new ArrayList<>();
    withStripesLocked(0, () -> {
      closing = true;
      long total = 0;
      for (Stripe stripe : stripes) {
        total += stripe.count;
        addCells(stripe, snapshot);
      }
      remaining.set(total);
    });
    boolean nowDrained = snapshot.isEmpty();
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
