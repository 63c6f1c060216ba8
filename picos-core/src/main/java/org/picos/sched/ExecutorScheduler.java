package org.picos.sched;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.SchedulerClosedException;
import org.picos.spi.Timer;
import org.picos.spi.Support;

/**
 * Any {@link Executor} as a Picos scheduler: each slice of a fiber (from a resume to its next
 * suspension) is one task given to the executor, so the fiber runs on the executor's threads.
 * On a single-threaded executor (an event loop) a fiber therefore never leaves that thread.
 * This is the base every bridge builds on; get one with {@link Schedulers#onExecutor} or
 * {@link #builder}.
 *
 * <h2>Placement</h2>
 * By default every fiber runs on the one executor. With {@link Builder#placement} each new
 * fiber picks its own executor once (for example {@code group.next()} of an event-loop group)
 * and stays on it for life.
 *
 * <h2>When the host goes away</h2>
 * When the {@linkplain Builder#shutdownWhen shutdown probe} (by default
 * {@link ExecutorService#isShutdown()}) turns true, the scheduler closes itself: every live
 * fiber is cancelled with a {@link org.picos.SchedulerClosedException} naming the shutdown, and
 * since the host can no longer run them, their remaining slices run on a fallback daemon thread
 * ({@code picos-orphans}) so that they unwind and end. Nothing is left suspended forever. The
 * probe is polled every {@value #PROBE_MILLIS} ms on the shared timer. Bridges whose host
 * reports its shutdown call {@link #hostClosed(String)} instead.
 *
 * <h2>When the host refuses a slice</h2>
 * A {@link RejectedExecutionException} means one of two things, told apart by the probe (and
 * {@code isShutdown()} of an {@code ExecutorService}): the host has shut down (the scheduler
 * closes itself, as above), or it is only saturated (a running {@link ThreadPoolExecutor} whose
 * queue is full). A saturated host refuses a new fiber: the spawn (or {@link #start}) throws a
 * {@code RejectedExecutionException} saying so, and its main never runs. A saturated host
 * refusing the slice of a fiber that is already running (a resume) cannot refuse the fiber: the
 * slice is handed over again later, backing off from 1 to {@value #MAX_RETRY_MILLIS} ms, until
 * the host takes it, or shuts down, or the scheduler closes (then the slice unwinds on the
 * fallback thread).
 *
 * <h2>Timers when the host goes away</h2>
 * {@link Computation#cancelAfter} arms the host's {@linkplain Builder#timer timer}. Hosts drop
 * their timers when they stop (Netty cancels scheduled tasks at shutdown, Vert.x drops its
 * timers, a disposed Reactor scheduler drops delayed tasks), which would leave a fiber sleeping
 * in protected cleanup forever and its scheduler unable to close. So every timer armed on the
 * host is kept in a set until it fires or is disarmed, and when the scheduler closes (for any
 * reason) each one still pending is armed again, for the time it has left, on the shared timer
 * thread, which lives on; timers armed after that go to the shared timer directly. A timer that
 * fires twice (host and shared timer) is harmless: cancelling a computation twice does nothing
 * the second time.
 *
 * <p>A host can also drop slices it had accepted ({@link ExecutorService#shutdownNow()} does).
 * Each slice handed to an executor is therefore marked, and the carrier that runs it claims the
 * mark first ({@code handedOver}: HANDED when handed over, IDLE once claimed, by one CAS; a
 * refused hand-over takes its mark back by the same CAS). Once the scheduler is closed, the same
 * poll looks for slices still unclaimed whose executor has terminated, or — when the host is gone
 * (the probe says so), whatever its lanes are (a Reactor or Rx worker per fiber) — that stayed
 * unclaimed from one round to the next, and runs them on the fallback thread, so that close()
 * does not wait for fibers nobody will run. The claim makes a slice run once, wherever.
 *
 * <h2>ForkJoinPool</h2>
 * A {@link ForkJoinPool} in its default LIFO mode runs a task submitted by one of its own workers
 * before anything else that worker has queued, so a fiber that yields would run again at once,
 * forever, while its siblings starve: slices for such a pool are submitted as external tasks
 * ({@link ForkJoinPool#externalSubmit}), which queue behind the others. A pool in FIFO mode (as
 * {@link Schedulers#multi} uses) gets {@code execute}, so a worker keeps its fibers on its own
 * queue and idle workers steal them; that call is made in a frame of its own (see
 * {@code handOver}), because a worker pushes onto its own queue without a lock, trusting
 * {@code Thread.currentThread()}, and fiber code that resumes another fiber may have been
 * compiled with the thread it ran on before its last suspension (see {@link org.picos.Fiber}).
 *
 * <h2>Fibers that must not move</h2>
 * On a multi-threaded executor a fiber's slices may run on different threads. Where the host
 * offers single-threaded lanes (Reactor and RxJava workers), give each fiber its own with
 * {@link Builder#placement(Supplier, Consumer)}, which also releases the lane when the fiber
 * ends.
 */
public final class ExecutorScheduler extends ContinuationScheduler {
  static final long PROBE_MILLIS = 50;
  static final long MAX_RETRY_MILLIS = 64;
  /** See {@link #mayKeepBack}. */
  static final int KEEP_BACK_SURPLUS = 2;

  /** {@code Task.handedOver}: not handed to a host, or claimed by the carrier running it. */
  private static final int IDLE = 0;
  /** Handed to a host, not yet claimed: the host may still run it, or drop it. */
  private static final int HANDED = 1;
  /** Refused by a saturated host; a retry is armed on the shared timer. */
  private static final int RETRYING = 2;

  private static final Executor ORPHANS = orphanCarriers();
  private static final VarHandle HANDED_OVER;

  static {
    try {
      HANDED_OVER = MethodHandles.lookup().findVarHandle(Task.class, "handedOver", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final Executor executor;
  private final Supplier<? extends Executor> placement;
  private final Consumer<? super Executor> release;
  private final Timer timer;
  private final Runnable onStop;
  private final Runnable awaitStopped;
  private final BooleanSupplier probe;
  /**
   * Slices found handed over and unclaimed by the last round of {@link #rescueDropped}; read and
   * written only by the probe's rounds.
   */
  private Set<Task> handedLastRound = Set.of();
  /** Sentinel of the ring of {@link HostTimer}s still pending; guarded by itself. */
  private final HostTimer pendingTimers = new HostTimer(null, null, 0);

  private ExecutorScheduler(Builder b) {
    super(b.name);
    this.executor = b.executor;
    this.placement = b.placement;
    this.release = b.release;
    this.timer = b.timer;
    this.onStop = b.onStop;
    this.awaitStopped = b.awaitStopped;
    BooleanSupplier probe = b.shutdownWhen;
    if (probe == null && !b.ownsExecutor && executor instanceof ExecutorService service) {
      probe = service::isShutdown;
    }
    this.probe = probe;
    if (probe != null) {
      watch(new WeakReference<>(this), probe);
    }
  }

  /** Starts building a scheduler on {@code executor}. */
  public static Builder builder(Executor executor) {
    return new Builder(executor);
  }

  /**
   * Polls the probe until the scheduler is closed and empty. Whatever a round throws (a probe, or
   * a callback run by closing) is reported, and the polling goes on: a failure must not stop the
   * rescue of dropped slices.
   */
  private static void watch(WeakReference<ExecutorScheduler> ref, BooleanSupplier probe) {
    Timer.shared().schedule(() -> {
      ExecutorScheduler s = ref.get();
      if (s == null) {
        return;
      }
      try {
        if (!s.isClosed() && probe.getAsBoolean()) {
          s.hostClosed("The executor of scheduler " + s.name + " was shut down while this fiber was alive");
        }
        if (s.isClosed()) {
          s.rescueDropped();
          if (s.liveFibers() == 0) {
            return;
          }
        }
      } catch (Throwable failure) {
        Support.reportUncaught(failure);
      }
      watch(ref, probe);
    }, TimeUnit.MILLISECONDS.toNanos(PROBE_MILLIS));
  }

  /** Whether the host of {@code home} has shut down, as far as the probe and the executor say. */
  private boolean hostGone(Executor home) {
    try {
      return (probe != null && probe.getAsBoolean())
          || (home instanceof ExecutorService service && service.isShutdown());
    } catch (RuntimeException failure) {
      Support.reportUncaught(failure);
      return false;
    }
  }

  /** Runs on the fallback thread every slice that a terminated executor accepted and dropped. */
  private void rescueDropped() {
    boolean gone = hostGone(executor);
    Set<Task> handed = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    for (Live cell : liveCells()) {
      if (cell instanceof Task task && task.handedOver == HANDED) {
        boolean terminated = task.home instanceof ExecutorService host && host.isTerminated();
        if (terminated || (gone && handedLastRound.contains(task))) {
          ORPHANS.execute(task); // the claim in Task.run keeps the host from also running it
        } else {
          handed.add(task);
        }
      }
    }
    handedLastRound = handed;
  }

  /**
   * Tells the scheduler that its host has shut down (or is shutting down): it closes itself,
   * cancelling every live fiber with a {@link org.picos.SchedulerClosedException} whose message
   * is {@code why}, without waiting for them.
   */
  public void hostClosed(String why) {
    beginClose(Objects.requireNonNull(why, "why"));
  }

  @Override
  Object placeNewFiber() {
    return placement == null
        ? executor
        : Objects.requireNonNull(placement.get(), "placement returned null");
  }

  @Override
  boolean claim(Task task) {
    return HANDED_OVER.compareAndSet(task, HANDED, IDLE);
  }

  /** The claim a carrier makes: the copy the executor still holds then finds nothing to run. */
  @Override
  boolean takeBack(Task task) {
    return claim(task);
  }

  /**
   * A pool in FIFO mode whose worker running the spawner has more tasks queued than idle
   * workers could steal (the estimate of {@link ForkJoinTask#getSurplusQueuedTaskCount}, above
   * {@value #KEEP_BACK_SURPLUS}: the threshold fork/join code uses to stop forking) keeps the
   * child back: the other workers have work to take anyway, and the spawner will likely join it.
   * Computed from the spawner's recorded carrier, without reading the current thread.
   */
  @Override
  boolean mayKeepBack(Task spawner, Task child) {
    if (!(child.home instanceof ForkJoinPool pool) || !pool.getAsyncMode()
        || !(spawner.carrier instanceof ForkJoinWorkerThread worker) || worker.getPool() != pool) {
      return false;
    }
    int queued = worker.getQueuedTaskCount();
    if (queued <= KEEP_BACK_SURPLUS) {
      return false;
    }
    // As getSurplusQueuedTaskCount: the fewer workers are active, the more tasks they may steal.
    int active = pool.getActiveThreadCount();
    int p = pool.getParallelism();
    int stealable = active > (p >>>= 1) ? 0 : active > (p >>>= 1) ? 1 : active > (p >>>= 1) ? 2
        : active > (p >>>= 1) ? 4 : 8;
    return queued - stealable > KEEP_BACK_SURPLUS;
  }

  @Override
  void fiberEnded(Task task) {
    if (release != null) {
      release.accept((Executor) task.home);
    }
  }

  @Override
  void schedule(Task task, boolean urgent) {
    submit(task, false, 1);
  }

  @Override
  void scheduleFirst(Task task) {
    submit(task, true, 1);
  }

  /**
   * Hands {@code task} to its executor. On a refusal (see the class comment): a gone host closes
   * the scheduler and the slice runs on the fallback thread; so does any refused slice once the
   * scheduler is closed; a saturated host fails a first slice (the spawn throws) and has a later
   * one handed over again after {@code backoffMillis}.
   */
  private void submit(Task task, boolean first, long backoffMillis) {
    Executor home = (Executor) task.home;
    task.handedOver = HANDED;
    try {
      if (home instanceof ForkJoinPool pool && !pool.getAsyncMode()) {
        pool.externalSubmit(ForkJoinTask.adapt(task));
      } else {
        handOver(home, task);
      }
      return;
    } catch (RejectedExecutionException rejected) {
      boolean gone = hostGone(home);
      if (gone) {
        hostClosed("The executor of scheduler " + name + " rejected this fiber (" + rejected.getMessage()
            + "); it has shut down");
      }
      // The executor does not hold the task: take the hand-over mark back, unless the rescue of
      // dropped slices claimed it in the meantime (then it runs there, as if the host had).
      if (!HANDED_OVER.compareAndSet(task, HANDED, IDLE)) {
        return;
      }
      if (gone || isClosed()) {
        if (first) {
          // Nothing has run: refuse the fiber rather than start it on the fallback thread.
          throw new SchedulerClosedException("Scheduler " + name + " is closed (its executor rejected"
              + " the task: " + rejected.getMessage() + "); it cannot start new fibers");
        }
        task.handedOver = HANDED;
        ORPHANS.execute(task);
      } else if (first) {
        throw new RejectedExecutionException("Scheduler " + name + " cannot start a fiber: its executor"
            + " is saturated and rejected the task (" + rejected.getMessage() + "). Nothing was"
            + " started; retry later, or give the executor a larger queue or more threads.", rejected);
      } else {
        task.handedOver = RETRYING;
        long next = Math.min(backoffMillis * 2, MAX_RETRY_MILLIS);
        Timer.shared().schedule(() -> {
          if (HANDED_OVER.compareAndSet(task, RETRYING, IDLE)) {
            submit(task, false, next);
          }
        }, TimeUnit.MILLISECONDS.toNanos(backoffMillis));
      }
    }
  }

  @Override
  public void cancelAfter(Fiber fiber, Computation<?> computation, long nanos, Throwable cause) {
    if (isClosed()) {
      armTimer(Timer.shared(), computation, nanos, cause);
      return;
    }
    HostTimer t = new HostTimer(computation, cause, System.nanoTime() + nanos);
    link(t);
    Runnable disarmHost;
    try {
      disarmHost = timer.schedule(t, nanos);
    } catch (RuntimeException refused) {
      // A host that no longer takes timers is going away: the shared timer lives on.
      unlink(t);
      armTimer(Timer.shared(), computation, nanos, cause);
      return;
    }
    t.disarmHost = disarmHost;
    if (isClosed()) {
      t.moveToSharedTimer(); // closing began while this was armed: the host may drop it
    }
    computation.whenDone(t::disarm);
  }

  @Override
  protected void onClosing() {
    List<HostTimer> pending = new ArrayList<>();
    synchronized (pendingTimers) {
      for (HostTimer t = pendingTimers.next; t != pendingTimers; t = t.next) {
        pending.add(t);
      }
    }
    for (HostTimer t : pending) {
      t.moveToSharedTimer();
    }
  }

  private void link(HostTimer t) {
    synchronized (pendingTimers) {
      HostTimer last = pendingTimers.prev;
      t.prev = last;
      t.next = pendingTimers;
      last.next = t;
      pendingTimers.prev = t;
    }
  }

  private void unlink(HostTimer t) {
    synchronized (pendingTimers) {
      if (t.next != null) {
        t.prev.next = t.next;
        t.next.prev = t.prev;
        t.prev = t.next = null;
      }
    }
  }

  /**
   * A {@code cancelAfter} armed on the host's timer, linked in {@code pendingTimers} from arming
   * until it fires or its computation completes first (which disarms it).
   * <pre>
   *   PENDING --host or shared timer fires--> FIRED: unlinked, computation cancelled
   *   PENDING --computation completes-------> DISARMED: unlinked, both timers cancelled
   *   PENDING --scheduler closes------------> PENDING, also armed on the shared timer for the
   *                                           time left (once: 'moved' is set by one CAS)
   * </pre>
   * Firing and disarming are idempotent, and either may follow the other: cancelling a completed
   * computation does nothing.
   */
  private final class HostTimer implements Runnable {
    final Computation<?> computation;
    final Throwable cause;
    final long deadline;
    volatile Runnable disarmHost;
    volatile Runnable disarmShared;
    private final AtomicBoolean moved = new AtomicBoolean();
    /** Neighbours in pendingTimers while pending; guarded by pendingTimers. */
    HostTimer prev;
    HostTimer next;

    HostTimer(Computation<?> computation, Throwable cause, long deadline) {
      this.computation = computation;
      this.cause = cause;
      this.deadline = deadline;
      if (computation == null) {
        prev = next = this; // the sentinel
      }
    }

    @Override
    public void run() {
      unlink(this);
      Support.cancelReporting(computation, cause);
    }

    void disarm() {
      unlink(this);
      Runnable host = disarmHost;
      if (host != null) {
        host.run();
      }
      Runnable shared = disarmShared;
      if (shared != null) {
        shared.run();
      }
    }

    void moveToSharedTimer() {
      if (moved.compareAndSet(false, true)) {
        disarmShared = Timer.shared().schedule(this, Math.max(0, deadline - System.nanoTime()));
        if (!computation.isRunning()) {
          disarm(); // completed while moving: the remover may have missed disarmShared
        }
      }
    }
  }

  /**
   * {@code executor.execute(task)} in a frame of its own, through a method handle held in a
   * non-final field, which the JIT never inlines. A fiber resumed by another fiber is scheduled
   * from inside that other fiber's frames, and an executor may trust {@code
   * Thread.currentThread()} (a ForkJoinPool worker pushes onto its own queue without a lock):
   * read in a frame of its own, which never spans a suspension, it is the thread running now,
   * not one the calling fiber ran on before it last suspended (see {@link Fiber}).
   */
  private static void handOver(Executor executor, Runnable task) {
    try {
      executeHandle.invokeExact(executor, task);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable impossible) {
      throw new AssertionError(impossible);
    }
  }

  @SuppressWarnings("FieldMayBeFinal")
  private static MethodHandle executeHandle = execute();

  private static MethodHandle execute() {
    try {
      return MethodHandles.publicLookup().findVirtual(Executor.class, "execute",
          MethodType.methodType(void.class, Runnable.class));
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  @Override
  protected void stopHost() {
    if (onStop != null) {
      onStop.run();
    }
  }

  @Override
  protected void awaitHostStopped() {
    if (awaitStopped != null) {
      awaitStopped.run();
    }
  }

  private static Executor orphanCarriers() {
    ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 1, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "picos-orphans");
          t.setDaemon(true);
          return t;
        });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  /** Options of an {@link ExecutorScheduler}. */
  public static final class Builder {
    private final Executor executor;
    private String name;
    private Supplier<? extends Executor> placement;
    private Consumer<? super Executor> release;
    private Timer timer = Timer.shared();
    private BooleanSupplier shutdownWhen;
    private boolean ownsExecutor;
    private Runnable onStop;
    private Runnable awaitStopped;

    private Builder(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      this.name = "executor(" + executor.getClass().getSimpleName() + ")-" + System.identityHashCode(executor);
    }

    /** The scheduler's name, used in its error messages and cancellation causes. */
    public Builder name(String name) {
      this.name = Objects.requireNonNull(name, "name");
      return this;
    }

    /**
     * Chooses the executor of each new fiber (root or child); the fiber stays on it for life.
     */
    public Builder placement(Supplier<? extends Executor> placement) {
      this.placement = Objects.requireNonNull(placement, "placement");
      return this;
    }

    /**
     * Like {@link #placement(Supplier)}, and once a fiber has ended, {@code release} is given the
     * executor that was placed for it (on that executor's thread, after the fiber's last slice):
     * for hosts whose lanes are taken per fiber and must be given back, such as a Reactor or
     * RxJava {@code Worker}.
     */
    public Builder placement(Supplier<? extends Executor> placement, Consumer<? super Executor> release) {
      this.placement = Objects.requireNonNull(placement, "placement");
      this.release = Objects.requireNonNull(release, "release");
      return this;
    }

    /** The timer behind {@link Computation#cancelAfter}; by default a shared daemon thread. */
    public Builder timer(Timer timer) {
      this.timer = Objects.requireNonNull(timer, "timer");
      return this;
    }

    /**
     * A probe polled every {@value ExecutorScheduler#PROBE_MILLIS} ms: once it answers true,
     * the host is gone and the scheduler closes itself (see the class comment). By default
     * {@link ExecutorService#isShutdown()} when the executor is an ExecutorService.
     */
    public Builder shutdownWhen(BooleanSupplier probe) {
      this.shutdownWhen = Objects.requireNonNull(probe, "probe");
      this.ownsExecutor = false;
      return this;
    }

    /**
     * Says the scheduler owns its executor: nobody but the scheduler's own {@link #onClose}
     * shuts it down, so no shutdown probe is polled (replaces {@link #shutdownWhen}).
     */
    public Builder ownsExecutor() {
      this.shutdownWhen = null;
      this.ownsExecutor = true;
      return this;
    }

    /**
     * What {@link ExecutorScheduler#close()} does to the host once every fiber has ended:
     * {@code stop} must not block (it may run on the host's own thread); {@code awaitStopped}
     * then waits, on the closing thread, until the host's threads are gone. Both may be null.
     * By default the executor is left running: it belongs to the caller.
     */
    public Builder onClose(Runnable stop, Runnable awaitStopped) {
      this.onStop = stop;
      this.awaitStopped = awaitStopped;
      return this;
    }

    public ExecutorScheduler build() {
      return new ExecutorScheduler(this);
    }
  }
}
