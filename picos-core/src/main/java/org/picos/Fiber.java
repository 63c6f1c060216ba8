package org.picos;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.spi.Handler;
import org.picos.spi.Support;

/**
 * A thread of control scheduled by a Picos scheduler: a computation (its cancellation token),
 * fiber-local storage and a cancellation mask.
 *
 * <h2>Operations</h2>
 * {@link #current()}, {@link #yield()}, {@link #check()}, {@link #spawn(Fiber, Runnable)} and,
 * through {@link Trigger#await()} and {@link Computation#cancelAfter}, the two other Picos
 * effects, are answered by the scheduler that runs the calling fiber. Outside any scheduler they
 * are answered on the calling thread itself: every thread has an implicit fiber of its own,
 * {@code await} blocks the thread, {@code yield} is {@link Thread#yield()} and {@code spawn}
 * starts a virtual thread. (OCaml Picos raises there instead; we block, so that libraries built
 * on the core also work on plain and virtual threads.)
 *
 * <h2>Cancellation</h2>
 * A fiber is cancelled by cancelling its {@link #computation()}. The fiber is woken wherever it
 * awaits and sees the cause at its next cancellation point ({@code check}, any {@code await},
 * {@code yield}, {@code spawn}, {@code cancelAfter}), unless it has {@linkplain #forbid forbidden}
 * cancellation: the mask is a single flag, not a counter, and it only stops delivery; the
 * computation itself still becomes cancelled and the cause is delivered at the first
 * cancellation point after the mask is lifted.
 *
 * <p>A fiber is also cancelled when its scheduler closes, or its host shuts down, while it is
 * alive (a deliberate addition to Picos): the scheduler cancels the fiber's current computation
 * and marks the fiber itself, so the {@link SchedulerClosedException} is seen at every
 * cancellation point from then on, even after a scope that had given the fiber a computation of
 * its own has ended. {@link #isCanceled()} and {@link #canceled()} include that mark.
 *
 * <h2>Failures</h2>
 * A fiber whose main throws completes its computation with that failure (OCaml Picos treats it
 * as fatal and stops the scheduler; we keep the scheduler running). If the computation had
 * already completed, the failure goes to the thread's uncaught-exception handler: never lost.
 *
 * <h2>Threads, ThreadLocals and monitors</h2>
 * A continuation-based fiber runs on its scheduler's carrier thread itself, so
 * {@link Thread#currentThread()} and every {@link ThreadLocal} inside it are the carrier's,
 * and may change across an await on a multi-threaded scheduler. Keep fiber state in
 * {@link FiberLocal}; to carry ThreadLocal-based context (MDC, tracing) across suspensions,
 * register a {@link ThreadContext}.
 *
 * <p>On {@code multi(n)} (which balances load by work stealing) and on multi-threaded executors
 * given to {@code Schedulers.onExecutor} (or a bridge taking one), a fiber may resume on another
 * carrier than it suspended on. Code in such a fiber must not rely on carrier identity:
 * {@link Thread#currentThread()}, ThreadLocals and thread-owned locks ({@code ReentrantLock}) may
 * differ before and after an await, and the JIT may even reuse a value of
 * {@code Thread.currentThread()} read before a suspension. Picos' own operations are immune (they
 * find the current fiber, and hand slices to an executor, through calls the JIT cannot inline).
 * Single-threaded hosts (fifo, an event loop, a Reactor or RxJava worker, which the bridges give
 * each fiber) never move a fiber.
 *
 * <p>A fiber cannot suspend while it is <em>pinned</em>: a native frame or a class initializer on
 * its stack, and, on JDK 21 to 23, a held monitor ({@code synchronized}). Such an await throws an
 * {@link IllegalStateException} naming the reason, rather than hanging. On JDK 24 and later a
 * fiber <em>can</em> suspend inside {@code synchronized} and keeps the monitor while suspended.
 * That moves the hazard: if another fiber on the same carrier thread then blocks entering that
 * monitor, it blocks the carrier, and the owner can never be resumed there: a deadlock.
 * Do not hold a monitor across an await; use {@code org.picos.std.sync.Mutex}, which suspends
 * the fiber rather than the carrier.
 *
 * <h2>Thread safety</h2>
 * The operations on a {@code Fiber} object (other than reading {@link #computation()}) are for
 * the fiber itself, or for its scheduler while the fiber is not running.
 */
public final class Fiber {
  static {
    Access.register(); // first: the scheduler SPI reaches fibers through it
  }

  private static final Object UNSET = new Object();
  private static final ThreadLocal<Carrier> CARRIER = ThreadLocal.withInitial(Carrier::new);

  private static final java.util.concurrent.atomic.AtomicLong IDS =
      new java.util.concurrent.atomic.AtomicLong();

  /**
   * A sequence number, unique in the JVM, shown in dumps; 0 until first asked for. Assigned
   * lazily so that starting a fiber never touches the shared counter (a contended atomic on
   * multi-threaded schedulers); only fibers that are dumped, logged or recorded get one.
   */
  private volatile long id;
  /** A name for dumps and logs; {@code null} when none was given. */
  private volatile String name;
  /** The scope this fiber was started in, for dumps (see {@link #setScope}); may be null. */
  private volatile Object scope;
  /**
   * The trigger this fiber awaits; cleared when the await returns. Written by the fiber with
   * opaque stores (plain moves: no fence on the await path), read by dumps with opaque loads,
   * which see each write whole and soon, in no promised order with other fields: dumps are
   * weakly consistent.
   */
  Trigger awaiting;
  /**
   * When {@link #awaiting} was set, in {@link System#currentTimeMillis()} to within about 100 ms
   * (the watchdog's coarse clock: no clock read per await); opaque like it.
   */
  long awaitingSince;
  private volatile Computation<?> computation;
  /** The computation the fiber was created with; closing cancels it first (see closeWith). */
  private final Computation<?> root;
  /**
   * The cause of this fiber's scheduler closing (or its host shutting down) while it was alive;
   * {@code null} until then, and written once. Unlike a computation's cancellation it belongs to
   * the fiber itself, so it survives every {@link #setComputation} a scope makes: a fiber whose
   * scope swallowed one cancellation still sees this at its next cancellation point.
   */
  private volatile Throwable closed;
  private boolean forbid;
  private Object[] locals;
  /**
   * The {@link ThreadContext}s this fiber carries and their saved states, fixed when it is
   * spawned: slot 0 holds the {@code ThreadContext[]} registered then, slot {@code i + 1} the
   * state saved for its context {@code i}. Keeping the fiber's own array (rather than indexing
   * the registry, which changes) means unregistering one context never hands another's state to
   * the wrong context. {@code null} when no context was registered at spawn.
   */
  private Object[] savedContexts;
  /**
   * Contexts added by {@link #withThreadContext} for fibers this one spawns (which inherit
   * them); {@code null} when none.
   */
  private ThreadContext<?>[] scopedContexts;
  /** The scheduler answering this fiber's operations; set when the fiber is spawned. */
  Handler handler;
  /** Scheduler-private data (for example the continuation); see {@code Handler.data}. */
  Object data;

  private Fiber(Computation<?> computation, boolean forbid) {
    this.computation = computation;
    this.root = computation;
    this.forbid = forbid;
  }

  /**
   * Creates a fiber that is not yet running; give it to {@link #spawn(Fiber, Runnable)}. A
   * fiber object must be spawned at most once.
   *
   * @param forbid whether the fiber starts with cancellation forbidden
   * @param computation its cancellation token; several fibers may share one
   */
  public static Fiber create(boolean forbid, Computation<?> computation) {
    return new Fiber(Objects.requireNonNull(computation, "computation"), forbid);
  }

  /**
   * Finds the fiber bound to the calling thread, through a call the JIT can never inline.
   *
   * <p>Why: a fiber's frames are compiled like any code, and HotSpot treats the value of
   * {@code Thread.currentThread()} as fixed for the life of a compiled frame, so it may read it
   * once, before a suspension, and reuse it after the fiber has resumed on another carrier: a
   * ThreadLocal read inlined into a fiber's loop can then read the previous carrier's map (seen as
   * fibers of a multi-threaded scheduler that lost track of themselves). Calling through a
   * method handle held in a non-final field is never inlined (the handle is not a constant), so
   * the lookup runs in a frame of its own, which never spans a suspension, and reads the carrier
   * the fiber is on now.
   */
  @SuppressWarnings("FieldMayBeFinal")
  private static MethodHandle boundLookup = boundLookup();

  private static MethodHandle boundLookup() {
    try {
      return MethodHandles.lookup().findStatic(Fiber.class, "bound", MethodType.methodType(Fiber.class));
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static Fiber bound() {
    return CARRIER.get().fiber;
  }

  private static Fiber boundFiber() {
    try {
      return (Fiber) boundLookup.invokeExact();
    } catch (Throwable impossible) {
      throw new AssertionError(impossible);
    }
  }

  /** Returns the calling fiber: the implicit fiber of the calling thread outside any scheduler. */
  public static Fiber current() {
    Fiber f = boundFiber();
    if (f == null) {
      f = new Fiber(Computation.create(), false);
      f.handler = PlainThreads.INSTANCE;
      CARRIER.get().fiber = f;
    }
    return f;
  }

  /** Whether the calling code runs in a fiber of some scheduler (not a thread's implicit one). */
  public static boolean inFiber() {
    Fiber f = boundFiber();
    return f != null && f.handler != PlainThreads.INSTANCE;
  }

  /**
   * What a thread carries: the fiber mounted on it and how many times a fiber was mounted on it,
   * one per thread that ever asked for its fiber. The thread itself writes both (opaque writes:
   * plain moves, no fence); the blocked-carrier watchdog ({@link BlockedCarriers}) reads them
   * from its own thread and calls a carrier blocked when it sees the same fiber and the same
   * count across a whole threshold: the fiber has run that long without suspending.
   *
   * <p>Only carriers that mounted a fiber of a handler whose {@code mayBlockCarrier()} is
   * false are watched; {@code watched} flips once, on the first such mount.
   */
  static final class Carrier {
    private static final VarHandle FIBER;
    private static final VarHandle SLICES;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        FIBER = l.findVarHandle(Carrier.class, "fiber", Fiber.class);
        SLICES = l.findVarHandle(Carrier.class, "slices", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final Thread thread = Thread.currentThread();
    /** The fiber bound to the thread (a scheduler's, or the thread's implicit one); or null. */
    Fiber fiber;
    /** Mounts so far; wraps around, which only equality ever compares. */
    int slices;
    /** Whether the watchdog knows this carrier; written and read by the thread only. */
    boolean watched;

    /** The watchdog's read of {@link #fiber}. */
    Fiber mountedFiber() {
      return (Fiber) FIBER.getOpaque(this);
    }

    /** The watchdog's read of {@link #slices}. */
    int mounts() {
      return (int) SLICES.getOpaque(this);
    }

    Fiber mount(Fiber next) {
      Fiber previous = fiber;
      FIBER.setOpaque(this, next);
      SLICES.setOpaque(this, slices + 1);
      if (!watched && !next.handler.mayBlockCarrier()) {
        watched = true;
        BlockedCarriers.watch(this);
      }
      return previous;
    }
  }

  private static final VarHandle ID;
  private static final VarHandle AWAITING;
  private static final VarHandle AWAITING_SINCE;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      ID = l.findVarHandle(Fiber.class, "id", long.class);
      AWAITING = l.findVarHandle(Fiber.class, "awaiting", Trigger.class);
      AWAITING_SINCE = l.findVarHandle(Fiber.class, "awaitingSince", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Called by {@code Trigger.await} before it suspends: what dumps show. */
  void beginAwait(Trigger trigger) {
    AWAITING_SINCE.setOpaque(this, BlockedCarriers.coarseMillis());
    AWAITING.setOpaque(this, trigger);
  }

  /** Called by {@code Trigger.await} when the wait is over. */
  void endAwait() {
    AWAITING.setOpaque(this, null);
  }

  /** A dump's read of the trigger this fiber awaits, or null. */
  Trigger awaitingTrigger() {
    return (Trigger) AWAITING.getOpaque(this);
  }

  /** A dump's read of when the current wait began. */
  long awaitingSinceMillis() {
    return (long) AWAITING_SINCE.getOpaque(this);
  }

  /** The scheduler-side binding; see {@code Handler.mount}. */
  static Fiber mount(Fiber fiber) {
    return CARRIER.get().mount(fiber);
  }

  /**
   * Puts back the fiber {@link #mount} replaced (null on a carrier that had none: the
   * thread-local entry stays, so the next mount allocates nothing).
   */
  static void unmount(Fiber previous) {
    Carrier.FIBER.setOpaque(CARRIER.get(), previous);
  }

  /**
   * This fiber's sequence number, unique in the JVM, assigned when first asked for (so ids
   * follow the order fibers are first dumped, logged or recorded, not the order they started).
   * Safe from any thread.
   *
   * @return the id, shown in dumps and {@link #toString()}
   */
  public long id() {
    long i = id;
    return i != 0 ? i : assignId();
  }

  private long assignId() {
    long mine = IDS.incrementAndGet();
    return ID.compareAndSet(this, 0L, mine) ? mine : id;
  }

  /**
   * This fiber's name, or {@code null}. Safe from any thread.
   *
   * @return the name given by {@link #setName}
   */
  public String name() {
    return name;
  }

  /**
   * Names this fiber for dumps and logs. Safe from any thread; not a cancellation point.
   *
   * @param name the name, or {@code null} to remove it
   */
  public void setName(String name) {
    this.name = name;
  }

  /**
   * The scope this fiber was started in, as given to {@link #setScope}, or {@code null}. Safe
   * from any thread.
   *
   * @return the scope
   */
  public Object scope() {
    return scope;
  }

  /**
   * Tells fiber dumps which scope this fiber belongs to: a structured-concurrency scope (such as
   * std's {@code Bundle}) sets itself on each child before spawning it, a bridge the channel or
   * deployment the fiber serves. Only its {@code toString()} is used, and only when a dump asks.
   * It has no other effect: cancellation still flows through computations. Safe from any
   * thread; not a cancellation point.
   *
   * @param scope the scope, or {@code null} to remove it
   */
  public void setScope(Object scope) {
    this.scope = scope;
  }

  /** This fiber's computation (its cancellation token). Safe from any thread. */
  public Computation<?> computation() {
    return computation;
  }

  /**
   * Replaces this fiber's computation, returning the old one; used by scopes that give a fiber a
   * narrower cancellation token for a while. Only from the fiber itself.
   */
  public Computation<?> setComputation(Computation<?> c) {
    Computation<?> old = computation;
    computation = Objects.requireNonNull(c, "computation");
    return old;
  }

  /**
   * Whether this fiber permits cancellation and is cancelled: its computation is cancelled, or
   * its scheduler was closed while it was alive.
   */
  public boolean isCanceled() {
    return !forbid && (computation.isCanceled() || closed != null);
  }

  /**
   * The cause this fiber would see at a cancellation point now, or {@code null}: its
   * computation's cancellation cause, else the {@link SchedulerClosedException} of a scheduler
   * that closed while it was alive; {@code null} while cancellation is forbidden.
   */
  public Throwable canceled() {
    if (forbid) {
      return null;
    }
    Throwable cause = computation.canceled();
    return cause != null ? cause : closed;
  }

  /**
   * Scheduler side of closing: marks the fiber as cancelled by {@code cause} for the rest of its
   * life (whatever computation it has now or later), then cancels the computation it was created
   * with — so the close flows through the cancelers of every scope the fiber is in, outermost
   * first, and each scope sees the close rather than a failure of its own — and then its current
   * computation, which wakes it wherever it waits (even in a scope nothing links to the root).
   * The mark is written before the computation is read, so a fiber that swaps its computation
   * concurrently (a scope entered or left) still sees the mark: it reads the mark after its swap,
   * at its next cancellation point or before it suspends (see {@code Handler.trySuspend}).
   */
  void closeWith(Throwable cause) {
    if (closed == null) {
      closed = cause;
    }
    Throwable failure = null;
    try {
      root.tryCancel(cause);
    } catch (RuntimeException | Error e) {
      failure = e;
    }
    Computation<?> now = computation;
    if (now != root) {
      try {
        now.tryCancel(cause);
      } catch (RuntimeException | Error e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw Computation.unchecked(failure);
    }
  }


  /** Whether {@link #closeWith} has marked this fiber. */
  boolean isClosed() {
    return closed != null;
  }

  /** Whether cancellation is currently forbidden for this fiber. */
  public boolean hasForbidden() {
    return forbid;
  }

  /** Sets the cancellation mask and returns the previous value. Only from the fiber itself. */
  public boolean exchangeForbid(boolean forbid) {
    boolean old = this.forbid;
    this.forbid = forbid;
    return old;
  }

  /**
   * Throws this fiber's cancellation cause if it is cancelled and permits cancellation (the
   * instance form of {@link #check()}, for code that already holds the current fiber).
   */
  public void checkCanceled() {
    Throwable cause = canceled();
    if (cause != null) {
      throw Computation.unchecked(cause);
    }
  }

  /** Throws the current fiber's cancellation cause if it is cancelled and permits it. */
  public static void check() {
    current().checkCanceled();
  }

  /**
   * Lets other fibers of the scheduler run, then continues. A cancellation point.
   */
  public static void yield() {
    Fiber f = current();
    f.checkCanceled();
    f.handler.yield(f);
    f.checkCanceled();
  }

  /** The cause a sleep's private timer completes with; never escapes {@link #sleep}. */
  private static final RuntimeException SLEPT = new IllegalStateException("Fiber.sleep: slept") {
    private static final long serialVersionUID = 1L;

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  };

  /** What a sleeping fiber's dump entry says; rendered only when a dump asks. */
  private record SleepUntil(long wallMillis) {
    @Override
    public String toString() {
      return "Fiber.sleep until " + java.time.Instant.ofEpochMilli(wallMillis);
    }
  }

  /**
   * Suspends the current fiber for {@code duration}, using its scheduler's timer (outside any
   * scheduler the thread blocks, on the shared timer). A cancellation point: a cancelled fiber
   * wakes at once and throws its cause, and the timer is disarmed.
   *
   * @throws IllegalArgumentException if {@code duration} is negative or too long
   * @throws RuntimeException the fiber's cancellation cause
   * @throws NullPointerException if {@code duration} is null
   */
  public static void sleep(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    Computation<Void> timer = Computation.create(Computation.Mode.LIFO);
    try {
      timer.cancelAfter(duration, SLEPT);
      timer.awaitDescribed(new SleepUntil(System.currentTimeMillis() + duration.toMillis()));
    } catch (RuntimeException e) {
      if (e != SLEPT) {
        throw e;
      }
    } finally {
      timer.tryReturn(null);
    }
  }

  /**
   * Runs {@code body} with cancellation forbidden for the current fiber (not delivered; the
   * computation may still become cancelled), restoring the previous mask afterwards even if it
   * throws. Nested calls are no-ops; {@link #permit} inside re-enables.
   *
   * @return the body's value; a checked exception thrown by it is wrapped in a
   *     {@link java.util.concurrent.CompletionException}
   */
  public static <T> T forbid(Callable<T> body) {
    return withMask(true, body);
  }

  /** Runs {@code body} with cancellation permitted; the converse of {@link #forbid}. */
  public static <T> T permit(Callable<T> body) {
    return withMask(false, body);
  }

  private static <T> T withMask(boolean forbid, Callable<T> body) {
    Objects.requireNonNull(body, "body");
    Fiber f = current();
    if (f.forbid == forbid) {
      return call(body);
    }
    f.forbid = forbid;
    try {
      return call(body);
    } finally {
      f.forbid = !forbid;
    }
  }

  static <T> T call(Callable<T> body) {
    try {
      return body.call();
    } catch (Exception e) {
      throw Computation.unchecked(e);
    }
  }

  /**
   * Starts {@code fiber} running {@code main} on the current fiber's scheduler. All or nothing:
   * if this returns, {@code main} will be called (even if the new fiber's computation is already
   * cancelled); if it throws, {@code main} is never called. A cancellation point: a cancelled
   * caller gets its cause and nothing is started.
   *
   * <p>If {@code main} throws, the failure cancels the fiber's computation (or, if that has
   * completed, goes to the thread's uncaught-exception handler).
   *
   * @throws IllegalStateException if the scheduler is closed
   */
  public static void spawn(Fiber fiber, Runnable main) {
    Objects.requireNonNull(fiber, "fiber");
    Objects.requireNonNull(main, "main");
    if (fiber.handler != null) {
      throw new IllegalStateException("Fiber.spawn: this fiber was already spawned; create a new one");
    }
    Fiber parent = current();
    parent.checkCanceled();
    fiber.inheritContexts();
    parent.handler.spawn(parent, fiber, main);
  }

  /**
   * Starts a child fiber with a computation of its own, running {@code body}; returns that
   * computation, which completes with the body's value or failure. Cancel it to cancel the
   * child. The child runs on the current fiber's scheduler. A failure of the body after the
   * computation was completed from outside (other than the cancellation itself unwinding) goes
   * to the uncaught-exception handler.
   */
  public static <T> Computation<T> spawn(Callable<T> body) {
    Objects.requireNonNull(body, "body");
    Computation<T> c = Computation.create();
    spawn(Fiber.create(false, c), Support.capturing(c, body));
    return c;
  }

  // ---------------------------------------------------------------------------------------
  // Fiber-local storage (used by FiberLocal)

  Object local(int index) {
    Object[] l = locals;
    return l != null && index < l.length ? l[index] : UNSET;
  }

  void setLocal(int index, Object value) {
    Object[] l = locals;
    if (l == null) {
      l = locals = newLocals(Math.max(8, index + 1));
    } else if (index >= l.length) {
      int size = l.length;
      l = locals = Arrays.copyOf(l, Math.max(size * 2, index + 1));
      Arrays.fill(l, size, l.length, UNSET);
    }
    l[index] = value;
  }

  private static Object[] newLocals(int size) {
    Object[] l = new Object[size];
    Arrays.fill(l, UNSET);
    return l;
  }

  void clearLocal(int index) {
    Object[] l = locals;
    if (l != null && index < l.length) {
      l[index] = UNSET;
    }
  }

  static boolean isUnset(Object value) {
    return value == UNSET;
  }

  // ---------------------------------------------------------------------------------------
  // ThreadLocal-based context carried across suspensions

  /**
   * Carries ThreadLocal-based context (MDC, tracing spans, security context) with a fiber
   * across suspensions, for continuation-based schedulers whose fibers run on shared carrier
   * threads. {@link #capture()} reads the context of the calling thread; {@link #restore}
   * installs a captured one. Around every run of a fiber on a carrier the scheduler captures
   * the carrier's context and restores the fiber's; when the fiber suspends (or ends) it captures
   * the fiber's and gives the carrier's back with {@link #restoreCarrier}. A spawned fiber starts
   * with its parent's context (the spawning thread's, for a fiber started from outside any
   * fiber). The methods must be cheap. A failure of any goes to the uncaught-exception handler
   * (that context is then left as it was on the carrier) and never stops the scheduler.
   *
   * <p>Which fibers carry a context:
   * <ul>
   *   <li>JVM-wide, every fiber spawned from then on: contexts found by {@link
   *       java.util.ServiceLoader} (a jar on the class path that lists an implementation in
   *       {@code META-INF/services/org.picos.Fiber$ThreadContext}, such as picos-context's
   *       bridge to Micrometer's context-propagation), and those given to
   *       {@link Fiber#registerThreadContext};</li>
   *   <li>scoped, for a library that must not change the JVM for others:
   *       {@link Fiber#withThreadContext} adds a context to the fibers spawned inside a body, and
   *       to their descendants.</li>
   * </ul>
   * A fiber carries the contexts it got at spawn for its whole life.
   *
   * @param <S> the captured state
   */
  public interface ThreadContext<S> {
    /** Reads the calling thread's context. */
    S capture();

    /**
     * Installs {@code state} (captured earlier; may be null) as the calling thread's context: a
     * fiber's state as the fiber is resumed on the calling carrier.
     */
    void restore(S state);

    /**
     * Gives the calling carrier its own context back as a fiber leaves it (suspends or ends):
     * {@code carrierState} is what {@link #capture()} returned on this thread just before
     * {@link #restore} installed the fiber's state, at the start of the same slice. The default
     * calls {@link #restore}. A context whose ThreadLocal holds a stack of scopes (Micrometer's
     * {@code ThreadLocalAccessor.restore}, an Observation scope) overrides it to close what
     * {@code restore} opened, rather than open yet another scope at each suspension.
     */
    default void restoreCarrier(S carrierState) {
      restore(carrierState);
    }
  }

  /** The JVM-wide contexts: those found by ServiceLoader on first use, then registered ones. */
  private static final class Contexts {
    static volatile ThreadContext<?>[] all = discover();

    @SuppressWarnings("rawtypes")
    private static ThreadContext<?>[] discover() {
      java.util.List<ThreadContext<?>> found = new java.util.ArrayList<>();
      try {
        for (ThreadContext c : java.util.ServiceLoader.load(ThreadContext.class, Fiber.class.getClassLoader())) {
          found.add(c);
        }
      } catch (java.util.ServiceConfigurationError broken) {
        Support.reportUncaught(broken);
      }
      return found.toArray(ThreadContext<?>[]::new);
    }
  }

  /**
   * Registers a {@link ThreadContext} for every fiber spawned from now on, in the whole JVM.
   * Registering the same context twice has no further effect. A library that should not change
   * other code's fibers uses {@link #withThreadContext} instead.
   *
   * @throws NullPointerException if {@code context} is null
   */
  public static void registerThreadContext(ThreadContext<?> context) {
    Objects.requireNonNull(context, "context");
    synchronized (Contexts.class) {
      ThreadContext<?>[] now = Contexts.all;
      if (!Arrays.asList(now).contains(context)) {
        ThreadContext<?>[] next = Arrays.copyOf(now, now.length + 1);
        next[now.length] = context;
        Contexts.all = next;
      }
    }
  }

  /**
   * Removes a registered (or discovered) {@link ThreadContext}: fibers spawned from now on do not
   * carry it; fibers spawned before keep carrying it (and every other context they captured)
   * until they end.
   */
  public static void unregisterThreadContext(ThreadContext<?> context) {
    synchronized (Contexts.class) {
      Contexts.all = Arrays.stream(Contexts.all).filter(c -> c != context)
          .toArray(ThreadContext<?>[]::new);
    }
  }

  /**
   * Runs {@code body} in the current fiber (or thread) so that every fiber spawned inside it —
   * children of this fiber, and root fibers started from here with {@code Scheduler.start} —
   * also carries {@code context}, as do their own descendants, on every scheduler. Nothing
   * changes for other fibers, nor for this one: its own context was fixed at its spawn.
   *
   * @return the body's value; a checked exception from it is wrapped in a
   *     {@link java.util.concurrent.CompletionException}
   * @throws NullPointerException if an argument is null
   */
  public static <T> T withThreadContext(ThreadContext<?> context, Callable<T> body) {
    Objects.requireNonNull(context, "context");
    Objects.requireNonNull(body, "body");
    Fiber f = current();
    ThreadContext<?>[] before = f.scopedContexts;
    f.scopedContexts = union(before, new ThreadContext<?>[] {context});
    try {
      return call(body);
    } finally {
      f.scopedContexts = before;
    }
  }

  /** {@code a} followed by the members of {@code b} it lacks; either may be null. */
  private static ThreadContext<?>[] union(ThreadContext<?>[] a, ThreadContext<?>[] b) {
    if (a == null || a.length == 0) {
      return b;
    }
    if (b == null || b.length == 0) {
      return a;
    }
    java.util.List<ThreadContext<?>> all = new java.util.ArrayList<>(Arrays.asList(a));
    for (ThreadContext<?> c : b) {
      if (!all.contains(c)) {
        all.add(c);
      }
    }
    return all.toArray(ThreadContext<?>[]::new);
  }

  /**
   * On the spawning thread: fixes the contexts this new fiber carries (the JVM-wide ones and the
   * spawner's scoped ones, which it inherits) and captures their states from the spawner.
   */
  void inheritContexts() {
    Fiber spawner = boundFiber();
    ThreadContext<?>[] scoped = spawner == null ? null : spawner.scopedContexts;
    scopedContexts = scoped;
    ThreadContext<?>[] cs = union(Contexts.all, scoped);
    if (cs != null && cs.length != 0) {
      Object[] saved = new Object[cs.length + 1];
      saved[0] = cs;
      for (int i = 0; i < cs.length; i++) {
        saved[i + 1] = captureQuietly(cs[i]);
      }
      savedContexts = saved;
    }
  }

  /**
   * Installs this fiber's context on the calling carrier; returns the carrier's, or null. A hook
   * that throws is reported to the uncaught-exception handler and skipped: it must never stop a
   * carrier's loop.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  Object[] swapInContexts() {
    Object[] mine = savedContexts;
    if (mine == null) {
      return null;
    }
    ThreadContext[] cs = (ThreadContext[]) mine[0];
    Object[] carrier = new Object[cs.length];
    for (int i = 0; i < cs.length; i++) {
      carrier[i] = captureQuietly(cs[i]);
      restoreQuietly(cs[i], mine[i + 1]);
    }
    return carrier;
  }

  /** Saves this fiber's context and puts back the carrier's, from {@link #swapInContexts()}. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  void swapOutContexts(Object[] carrier) {
    if (carrier == null) {
      return;
    }
    Object[] mine = savedContexts;
    ThreadContext[] cs = (ThreadContext[]) mine[0];
    for (int i = 0; i < cs.length; i++) {
      mine[i + 1] = captureQuietly(cs[i]);
      restoreCarrierQuietly(cs[i], carrier[i]);
    }
  }

  private static Object captureQuietly(ThreadContext<?> context) {
    try {
      return context.capture();
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
      return null;
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void restoreQuietly(ThreadContext context, Object state) {
    try {
      context.restore(state);
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void restoreCarrierQuietly(ThreadContext context, Object state) {
    try {
      context.restoreCarrier(state);
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
    }
  }

  @Override
  public String toString() {
    String n = name;
    return "Fiber#" + id + (n == null ? "" : " \"" + n + "\"") + "["
        + (handler == null ? "not spawned" : handler) + ", " + computation
        + (forbid ? ", cancellation forbidden" : "") + "]";
  }
}
