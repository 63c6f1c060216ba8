package org.picos.sched;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.internal.FiberEvents;
import org.picos.spi.AbstractScheduler;
import org.picos.spi.Support;

/**
 * Base of the schedulers whose fibers are one-shot continuations run on carrier threads: a
 * fiber's code runs on the carrier itself (so it sees the carrier's identity, event loop and
 * context) and suspending costs a continuation yield, not a thread park.
 *
 * <h2>How a fiber runs</h2>
 * Each fiber has a {@link Task}: its continuation plus the operation it is suspending for. A
 * subclass decides only where a runnable task goes ({@link #schedule}). Running a task mounts
 * the fiber on the carrier and runs the continuation until it ends or suspends:
 * <pre>
 *   fiber calls await(trigger): records AWAIT + trigger, yields the continuation
 *   carrier, after the yield:   trySuspend(fiber, trigger, resumer)
 *        true  -> nothing more; the trigger's signal runs resumer, which schedules the task
 *                 (first in line if the fiber was cancelled)
 *        false -> already signalled or cancelled: schedule the task again at once
 *   fiber calls yield():        records YIELD, yields; the carrier schedules the task at the back
 * </pre>
 * Installing the resume action only after the continuation has yielded means a signal can never
 * try to run a continuation that is still mounted, and a fiber that cannot yield because it is
 * pinned has installed nothing: it gets an {@link IllegalStateException} naming the reason, and
 * its trigger stays in its initial state.
 *
 * <h2>Reading a suspended fiber's stack</h2>
 * A fiber dump reads the frames of a suspended continuation ({@link #suspendedStack}); the
 * continuation must not run meanwhile, so the dump holds the task's resume for that moment.
 * {@code Task.inspection} has three states:
 * <pre>
 *   FREE       --dump: CAS-------------------> HELD
 *   HELD       --dump done: CAS--------------> FREE
 *   HELD       --resume action: CAS----------> DEFERRED   (the resume returns at once)
 *   DEFERRED   --dump done: set FREE, then runs the deferred resume itself
 * </pre>
 * The dump takes HELD first and then checks that the trigger still holds this task's resume
 * action; the signaller moves the trigger to signalled first and then reads the inspection
 * state. Both are volatile, so at least one sees the other: either the dump sees the signal and
 * reads nothing, or the resume sees HELD and leaves the resume to the dump; exactly one of them
 * schedules the task. A resume costs one more volatile read; a dump holds one fiber at a time,
 * for the time of one stack walk.
 *
 * <h2>Inline joins</h2>
 * A fiber that awaits the computation of a child it spawned here, which no carrier has started
 * yet, runs that child itself, at once, on its own stack ({@link #joinInline}), as a fork/join
 * pool runs a task its joiner takes back: no suspension of the parent, no queue round trip. The
 * child still runs as itself: its own fiber (so {@code Fiber.current()}, its computation, its
 * fiber-locals, its cancellation mask and its thread contexts are its own) and its own
 * continuation, run nested inside the parent's. If the child suspends or yields, only its
 * continuation unwinds back to the parent's await, which then suspends as usual; the child is
 * from then on an ordinary suspended fiber, resumed on whichever carrier its signal picks. So
 * nothing a fiber can observe changes except the order fibers run in, which is the scheduler's
 * to choose. Per task:
 * <pre>
 *   spawned here, same home as the parent --> remembered by the parent with the computation
 *                                             it was spawned with (newest last, at most
 *                                             {@value #REMEMBERED}; the oldest is forgotten)
 *   a carrier runs it first ----------------> started (the parent's takeBack then fails)
 *   the parent awaits that computation, the nesting is below
 *   {@value #MAX_INLINE_DEPTH}, and takeBack wins it from the
 *   queue (fifo: removed from the carrier's own deque; executors: the hand-over claim, so the
 *   copy still queued finds it claimed and does nothing; a child kept back, below, needs no
 *   taking back) ---------------------------> its first slice runs nested
 * </pre>
 *
 * <h2>Children kept back</h2>
 * Making a child runnable costs a queue push, and on a pool an offer to idle workers (a wake-up)
 * and later a pop of the copy an inline join left claimed. When the subclass says the carrier
 * has work to spare anyway ({@link #mayKeepBack}: a {@link java.util.concurrent.ForkJoinPool}
 * when the spawning worker's queue holds more tasks than idle workers could steal; fifo keeps
 * nothing back, since there a spawn costs only a push on the carrier's own deque, and keeping
 * back measured no gain on fan-out and slower ping-pong in more JMH forks), a spawn
 * keeps the child back: it is tracked and remembered, but in no queue. The spawner's slice then
 * either joins it inline, or, when the slice ends (the spawner suspends, yields or ends), or when
 * it is forgotten for a newer one, or when the spawner tries to suspend or yield and cannot
 * (it is pinned), makes it runnable as a spawn would have — before a suspension is published,
 * while the slice still owns its list. So a kept-back child runs no later than
 * the spawner's next suspension, as lazily created tasks do in work-stealing runtimes; code that
 * blocks its carrier thread on it (instead of awaiting it) can wait for ever, as on fifo.
 * <pre>
 *   spawn, mayKeepBack ---> KEPT BACK --joined inline by the spawner--> runs nested (above)
 *                           KEPT BACK --slice ends / forgotten--------> runnable (schedule)
 * </pre>
 */
abstract class ContinuationScheduler extends AbstractScheduler {
  private static final int NONE = 0;
  private static final int AWAIT = 1;
  private static final int YIELD = 2;

  static final String FLAG = "--add-exports java.base/jdk.internal.vm=ALL-UNNAMED";

  /** Children a fiber remembers as candidates for an inline join. */
  static final int REMEMBERED = 8;
  /** Inline joins nest at most this deep on one stack (then a join suspends as usual). */
  static final int MAX_INLINE_DEPTH = 48;
  /**
   * Inline joins need JDK 24 or later, where holding a monitor no longer pins a continuation:
   * on 21 to 23 a join inside {@code synchronized}, which is refused there, would run the child
   * nested under the monitor, and the child's own first suspension would be refused instead.
   */
  static final boolean INLINE_JOINS = Runtime.version().feature() >= 24;

  private static final int FREE = 0;
  private static final int HELD = 1;
  private static final int DEFERRED = 2;
  private static final VarHandle INSPECTION;

  static {
    try {
      INSPECTION = MethodHandles.lookup().findVarHandle(Task.class, "inspection", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  ContinuationScheduler(String name) {
    super(name);
    checkContinuationsAvailable();
  }

  /** Fails with a message naming the JVM flag when continuations are not accessible. */
  static void checkContinuationsAvailable() {
    Module base = Object.class.getModule();
    if (!base.isExported("jdk.internal.vm", ContinuationScheduler.class.getModule())) {
      throw new IllegalStateException("Picos fibers on continuations need the JVM flag " + FLAG
          + " (on the java command line, in surefire's argLine, or in JDK_JAVA_OPTIONS)."
          + " Schedulers.threadPerFiber() works without it.");
    }
  }

  /** A fiber of this scheduler: its continuation and the operation it suspended for. */
  final class Task extends Live implements Runnable {
    final LoomContinuation continuation;
    /** Where this task runs; chosen by the subclass at spawn. */
    final Object home;
    /** Written by the fiber before it yields, read by the carrier after. */
    int op;
    Trigger trigger;
    /** 1 from being handed to a host that may drop it until a carrier claims it (CAS to 0). */
    volatile int handedOver;
    /** FREE, HELD or DEFERRED: see "Reading a suspended fiber's stack" above. */
    volatile int inspection;
    private final Runnable resumer = this::resume;
    /**
     * The carrier thread running this fiber's slice now, or the last one that did; null until
     * the first slice. Set at the start of each slice, in a frame that never spans a
     * suspension, so fiber code reading it while the slice runs gets the thread it runs on (not
     * one a compiled frame read before it last moved; see {@link Fiber}). Written and read on
     * carriers without a fence: exact on the carrier running the slice; anywhere else only a
     * hint that the fiber has started (the claim in {@link #takeBack} decides).
     */
    Thread carrier;
    /** How many inline joins deep the current slice runs: 0 when a carrier runs it. */
    byte depth;
    /**
     * Children this fiber spawned here, remembered for inline joins (see the class comment),
     * newest last: child i at [2i], the computation it was spawned with at [2i + 1]. Read and
     * written only by this fiber's own slices, which never touch the children's own fields to
     * keep this list (a child may be running on another carrier, writing them).
     */
    private Object[] remembered;
    private byte rememberedCount;
    /** Bit i: remembered child i is kept back, in no queue ("Children kept back" above). */
    private byte keptBack;
    /** The fiber's main until its first slice takes it. */
    private Runnable main;

    Task(Fiber fiber, Runnable main, Object home) {
      super(fiber);
      this.home = home;
      this.main = main;
      this.continuation = Body.of(this);
    }

    /** The continuation's body: the fiber's main, which it then lets go of. */
    void runBody() {
      Runnable m = main;
      main = null;
      runMain(fiber, m);
    }

    /** Runs the fiber until it suspends or ends, if {@link #claim} lets this carrier do it. */
    @Override
    public void run() {
      if (!claim(this)) {
        return;
      }
      depth = 0;
      runSlice();
    }

    /** One slice: runs the fiber on the calling thread (a carrier, or a joiner's stack). */
    void runSlice() {
      carrier = Thread.currentThread();
      Fiber previous = mount(fiber);
      Object[] carrierContext = swapInContexts(fiber);
      try {
        continuation.run();
      } finally {
        swapOutContexts(fiber, carrierContext);
        unmount(previous);
      }
      releaseIfKeepingBack(); // before the suspension is published: this slice still owns the list
      if (continuation.isDone()) {
        try {
          fiberEnded(this);
        } catch (Throwable failure) {
          Support.reportUncaught(failure);
        } finally {
          untrack(this);
        }
        return;
      }
      int suspendedFor = op;
      op = NONE;
      if (suspendedFor == YIELD) {
        schedule(this, false);
      } else if (suspendedFor == AWAIT && !trySuspend(fiber, trigger, resumer)) {
        trigger = null;
        schedule(this, fiber.isCanceled());
      }
    }

    /** The trigger's action: runs on the signalling thread. */
    private void resume() {
      if (inspection != FREE && INSPECTION.compareAndSet(this, HELD, DEFERRED)) {
        return; // a dump is reading the stack: it resumes the fiber when done
      }
      resumeNow();
    }

    private void resumeNow() {
      Trigger t = trigger;
      trigger = null;
      boolean notCanceled = unsuspend(fiber, t);
      schedule(this, !notCanceled);
    }

    /** The frames of the suspended continuation, or null if it is not suspended now. */
    StackTraceElement[] suspendedStack() {
      Trigger t = trigger;
      if (t == null || !awaitsWith(t, resumer) || !INSPECTION.compareAndSet(this, FREE, HELD)) {
        return null;
      }
      try {
        return awaitsWith(t, resumer) ? continuation.getStackTrace() : null;
      } finally {
        if (!INSPECTION.compareAndSet(this, HELD, FREE)) {
          inspection = FREE;
          resumeNow();
        }
      }
    }

    ContinuationScheduler scheduler() {
      return ContinuationScheduler.this;
    }

    /**
     * Called by this task's own fiber when it spawns {@code child}, with the computation the
     * child was spawned with, and whether it was kept back; see the class comment.
     */
    void remember(Task child, Object computation, boolean kept) {
      Object[] r = remembered;
      if (r == null) {
        r = remembered = new Object[4]; // most fibers spawn one or two before they join
      }
      int n = rememberedCount;
      if (2 * n == r.length) {
        if (n < REMEMBERED) {
          r = remembered = Arrays.copyOf(r, 2 * Math.min(2 * n, REMEMBERED));
        } else {
          if ((keptBack & 1) != 0) {
            schedule((Task) r[0], false); // forgotten: a child kept back must be made runnable now
          }
          keptBack = (byte) ((keptBack & 0xff) >>> 1);
          System.arraycopy(r, 2, r, 0, 2 * --n);
        }
      }
      r[2 * n] = child;
      r[2 * n + 1] = computation;
      if (kept) {
        keptBack |= (byte) (1 << n);
      }
      rememberedCount = (byte) (n + 1);
    }

    /**
     * {@link #releaseKeptBack} if this slice keeps children back: at the end of each slice, and
     * when the fiber cannot suspend.
     */
    void releaseIfKeepingBack() {
      if (keptBack != 0) {
        releaseKeptBack();
      }
    }

    /** Makes every child this slice kept back runnable. */
    private void releaseKeptBack() {
      int kept = keptBack & 0xff;
      keptBack = 0;
      Object[] r = remembered;
      for (int i = 0; kept != 0; i++, kept >>>= 1) {
        if ((kept & 1) != 0) {
          schedule((Task) r[2 * i], false);
        }
      }
    }

    /** The index of the remembered child spawned with {@code computation}, or -1. */
    int find(Object computation) {
      Object[] r = remembered;
      for (int i = rememberedCount - 1; i >= 0; i--) {
        if (r[2 * i + 1] == computation) {
          return i;
        }
      }
      return -1;
    }

    /** Whether remembered child {@code i} is kept back. */
    boolean keptBack(int i) {
      return (keptBack & (1 << i)) != 0;
    }

    /** Forgets remembered child {@code i} and returns it. */
    Task forget(int i) {
      Object[] r = remembered;
      int n = rememberedCount;
      Task t = (Task) r[2 * i];
      int mask = keptBack & 0xff;
      keptBack = (byte) ((mask & ((1 << i) - 1)) | ((mask >>> (i + 1)) << i));
      System.arraycopy(r, 2 * i + 2, r, 2 * i, 2 * (n - 1 - i));
      r[2 * n - 2] = null;
      r[2 * n - 1] = null;
      rememberedCount = (byte) (n - 1);
      return t;
    }

    @Override
    public String toString() {
      return "fiber task on " + name;
    }
  }

  @Override
  public final StackTraceElement[] suspendedStack(Fiber fiber) {
    return data(fiber) instanceof Task task && task.scheduler() == this
        ? task.suspendedStack() : null;
  }

  /**
   * Makes {@code task} runnable: some carrier must eventually call {@code task.run()}, never two
   * at once. {@code urgent} asks to run it before other ready tasks (a cancelled fiber).
   */
  abstract void schedule(Task task, boolean urgent);

  /**
   * Called by a carrier about to run {@code task}: whether it may. Schedulers whose host may drop
   * tasks (see {@link ExecutorScheduler}) make this an exclusive claim, so that a task they
   * rescue is never also run by the host.
   */
  boolean claim(Task task) {
    return true;
  }

  /**
   * Makes a new fiber's task runnable for the first time. Like {@link #schedule}, but may refuse:
   * a {@link RuntimeException} thrown here fails the spawn, and the task never runs.
   */
  void scheduleFirst(Task task) {
    schedule(task, false);
  }

  /**
   * Called once {@code task}'s fiber has ended, before it stops being live: on the carrier, or on
   * the spawning thread when the spawn was refused.
   */
  void fiberEnded(Task task) {}

  /** Where a new fiber will run (an executor, a loop); {@code null} if the subclass has one place. */
  Object placeNewFiber() {
    return null;
  }

  /**
   * All or nothing: once {@link #track} has accepted the task and its first slice is handed
   * over, main will run; if either refuses (a terminated scheduler, a saturated executor), the
   * spawn throws, the task is forgotten and main never runs.
   */
  @Override
  public final void spawn(Fiber parent, Fiber child, Runnable main) {
    Task task = new Task(child, main, placeNewFiber());
    try {
      track(task);
    } catch (RuntimeException | Error refused) {
      endQuietly(task, refused);
      throw refused;
    }
    bind(child);
    setData(child, task);
    Task spawner = parent != null && data(parent) instanceof Task t && t.scheduler() == this
        && t.home == task.home ? t : null;
    boolean keep = spawner != null && INLINE_JOINS && mayKeepBack(spawner, task);
    try {
      if (!keep) {
        scheduleFirst(task);
      }
    } catch (RuntimeException | Error refused) {
      unbind(child); // nothing ran: the fiber object may be spawned again
      endQuietly(task, refused);
      untrack(task);
      throw refused;
    }
    if (spawner != null) {
      spawner.remember(task, child.computation(), keep);
    }
  }

  /**
   * Whether {@code child}, just spawned by {@code spawner}'s running slice with the same home,
   * may be kept back by that slice instead of made runnable now (see "Children kept back" in
   * the class comment); {@code spawner.carrier} is the thread it runs on. The default keeps
   * nothing back.
   */
  boolean mayKeepBack(Task spawner, Task child) {
    return false;
  }

  /**
   * A fiber's continuation, whose body is its task's {@link Task#runBody}. Made by {@link #of},
   * which returns the base type, so that verifying {@code Task} does not load this class (and
   * with it {@code jdk.internal.vm.Continuation}, which fails without the JVM flag the
   * scheduler's constructor checks for first).
   */
  private static final class Body extends LoomContinuation {
    private final Task task;

    private Body(Task task) {
      this.task = task;
    }

    static LoomContinuation of(Task task) {
      return new Body(task);
    }

    @Override
    void body() {
      task.runBody();
    }
  }

  /** See "Inline joins" in the class comment. */
  @Override
  public final boolean joinInline(Fiber fiber, org.picos.Computation<?> computation) {
    if (!INLINE_JOINS || !(data(fiber) instanceof Task joiner) || joiner.rememberedCount == 0
        || joiner.depth >= MAX_INLINE_DEPTH) {
      return false;
    }
    int i = joiner.find(computation);
    if (i < 0) {
      return false;
    }
    boolean kept = joiner.keptBack(i);
    Task child = joiner.forget(i);
    if (!kept && !takeBack(child)) { // a child kept back was never queued: nothing to take back
      return false;
    }
    child.depth = (byte) (joiner.depth + 1);
    runNested(child);
    return true;
  }

  /**
   * {@code task.runSlice()} in a frame of its own, through a method handle held in a non-final
   * field, which the JIT never inlines. An inline join runs the child from inside the joiner's
   * own frames, and those may have been compiled with the carrier thread the joiner ran on
   * before its last suspension (see {@link Fiber}); the slice mounts the child on, swaps the
   * thread contexts of, and queues tasks from the carrier it reads, which must be the one it
   * runs on now. (Called directly, on multi(2) under load, the fiber dump of a hung fan-out
   * showed a fiber RUNNING on a carrier parked idle in its pool: its slice had been mounted on
   * the record of the carrier the joiner ran on before it last moved.)
   */
  private static void runNested(Task task) {
    try {
      runSliceHandle.invokeExact(task);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable impossible) {
      throw new AssertionError(impossible);
    }
  }

  @SuppressWarnings("FieldMayBeFinal")
  private static MethodHandle runSliceHandle = runSlice();

  private static MethodHandle runSlice() {
    try {
      return MethodHandles.lookup().findVirtual(Task.class, "runSlice", MethodType.methodType(void.class));
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * Takes {@code task}, made runnable once by its spawn and not started, back from wherever it
   * waits to run, so that the calling carrier runs it instead; called on a carrier of this
   * scheduler. Whether it did: false leaves the task to run as queued. The default takes
   * nothing back (no inline joins).
   */
  boolean takeBack(Task task) {
    return false;
  }

  /** {@link #fiberEnded} for a refused spawn: a failure of it is added to the refusal. */
  private void endQuietly(Task task, Throwable refusal) {
    try {
      fiberEnded(task);
    } catch (Throwable failure) {
      refusal.addSuppressed(failure);
    }
  }

  @Override
  public final Throwable await(Fiber fiber, Trigger trigger) {
    if (fiber.isCanceled()) {
      dispose(trigger);
      return fiber.canceled();
    }
    Task task = (Task) data(fiber);
    task.trigger = trigger;
    task.op = AWAIT;
    String pinned = LoomContinuation.suspend(task.continuation);
    if (pinned != null) {
      task.op = NONE;
      task.trigger = null;
      task.releaseIfKeepingBack(); // the slice goes on: children kept back must not wait for its end
      FiberEvents.pinnedAwait(fiber, this, pinned);
      throw new IllegalStateException("Fiber on " + name + " cannot suspend because " + pinned
          + ". Move the await out of the pinning code: out of static initializers and native"
          + " callbacks, and, on JDK 21-23, out of synchronized (use org.picos.std.sync.Mutex"
          + " or a java.util.concurrent lock).");
    }
    return fiber.canceled();
  }

  @Override
  public final void yield(Fiber fiber) {
    Task task = (Task) data(fiber);
    task.op = YIELD;
    if (LoomContinuation.suspend(task.continuation) != null) {
      // Pinned: yielding is only a hint, so let the carrier's other threads run instead; but a
      // yield promises the children kept back that they may run now.
      task.op = NONE;
      task.releaseIfKeepingBack();
      Thread.yield();
    }
  }
}
