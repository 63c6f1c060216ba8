package org.picos;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import org.picos.spi.BlockingGuards;

/**
 * A cancellable computation with a result: the cancellation token of fibers and the meeting
 * point of everything that waits for a result.
 *
 * <h2>State machine</h2>
 * <pre>
 *   RUNNING(triggers, balance) --tryReturn(v)-----> RETURNED(v)
 *   RUNNING(triggers, balance) --tryCancel(cause)--> CANCELED(cause)
 *   RUNNING --tryAttach(t)--> RUNNING(t :: triggers, balance + 1)
 *   RUNNING(t :: rest, b) --detach(t)--> RUNNING(rest, b - 1)     (t is the newest, b &gt; 0: popped)
 *   RUNNING --detach(t)-----> RUNNING(triggers, balance - 2)      (otherwise; t is signalled first)
 *   RUNNING --attach/detach finding balance &lt; 0--> RUNNING(live triggers, live count) (gc)
 * </pre>
 * One CAS decides completion: exactly one of racing {@code tryReturn}/{@code tryCancel} wins,
 * and its caller then signals, in its own thread, every trigger that was attached (in attach
 * order, or newest first for {@link Mode#LIFO}). A trigger attached successfully is always
 * signalled.
 *
 * <h2>Why detach is lazy</h2>
 * A fiber waiting on something attaches its trigger to its own computation so that cancellation
 * wakes it. After it wakes, the trigger is dead weight: {@link #detach} signals it and lowers the
 * balance by two without searching the list. An attach adds one. When an attach or detach finds
 * the balance negative it drops every signalled trigger and resets the balance to the number of
 * survivors. Dead entries therefore never outnumber live ones by more than a constant: a
 * computation that lives for hours while its fiber awaits millions of times stays small.
 *
 * <p>The common case is cheaper still: a fiber attaches one trigger, wakes and detaches it
 * before anything else was attached. Detaching the newest entry pops it (balance minus one, the
 * entry is gone, not dead; only while the balance is positive, so that the balance, which is
 * the number of live entries minus the number of dead ones, stays non-negative after a pop): the state goes back to the very object it was before the attach
 * (the shared empty state if the list was empty), so such an await allocates one list cell and
 * nothing else. The list is made of {@link Running}
 * cells themselves: each cell is a whole state (its trigger, the older cells, the balance), so
 * an attach allocates one object.
 *
 * <h2>Failures</h2>
 * {@link #await()} and {@link #resultNow()} return the value, or throw the cancellation cause:
 * a {@link RuntimeException} or {@link Error} as it is (same object, same stack), a checked
 * exception wrapped in a {@link CompletionException}.
 *
 * @param <T> the type of the result
 */
public final class Computation<T> {
  /** Order in which completion signals the attached triggers. */
  public enum Mode {
    /** Oldest attached first (the default). */
    FIFO,
    /** Newest attached first: for scopes whose innermost waiters should wake first. */
    LIFO
  }

  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(Computation.class, "state", Object.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final Running EMPTY_FIFO = new Running(null, null, 0);
  private static final Running EMPTY_LIFO = new Running(null, null, 0);

  /** {@link Running}, {@link Returned} or {@link Canceled}. */
  private volatile Object state;

  private Computation(Object state) {
    this.state = state;
  }

  /** A new running computation whose triggers are signalled oldest first. */
  public static <T> Computation<T> create() {
    return new Computation<>(EMPTY_FIFO);
  }

  /** A new running computation with the given signalling order. */
  public static <T> Computation<T> create(Mode mode) {
    return new Computation<>(mode == Mode.LIFO ? EMPTY_LIFO : EMPTY_FIFO);
  }

  /** A computation that has already returned {@code value}. */
  public static <T> Computation<T> returned(T value) {
    return new Computation<>(new Returned(value));
  }

  /** A computation that is already cancelled with {@code cause}. */
  public static <T> Computation<T> canceled(Throwable cause) {
    return new Computation<>(new Canceled(Objects.requireNonNull(cause, "cause")));
  }

  // ---------------------------------------------------------------------------------------
  // Completion

  /** Completes with {@code value} unless already completed; returns whether this call did it. */
  public boolean tryReturn(T value) {
    return complete(new Returned(value));
  }

  /**
   * Cancels with {@code cause} unless already completed; returns whether this call did it.
   * Fibers whose computation this is are woken wherever they await (unless they forbid
   * cancellation) and see {@code cause}.
   *
   * @throws NullPointerException if {@code cause} is null
   */
  public boolean tryCancel(Throwable cause) {
    return complete(new Canceled(Objects.requireNonNull(cause, "cause")));
  }

  /**
   * Calls {@code body} (always, even if already completed), then returns its value or cancels
   * with what it threw. Returns whether the result was stored.
   */
  public boolean tryCapture(Callable<? extends T> body) {
    Objects.requireNonNull(body, "body");
    T value;
    try {
      value = body.call();
    } catch (Throwable failure) {
      return tryCancel(failure);
    }
    return tryReturn(value);
  }

  private boolean complete(Object done) {
    for (;;) {
      Object s = state;
      if (!(s instanceof Running r)) {
        return false;
      }
      if (STATE.compareAndSet(this, s, done)) {
        signalAll(r);
        return true;
      }
    }
  }

  /**
   * Signals every trigger of {@code r} in its order. A trigger's action that throws does not
   * stop the others: the first failure is rethrown after all were signalled, the rest are added
   * to it as suppressed.
   */
  private static void signalAll(Running r) {
    if (r.isEmpty()) {
      return;
    }
    Throwable failure = null;
    if (r.older.isEmpty() || lifo(r)) {
      for (Running n = r; !n.isEmpty(); n = n.older) {
        failure = signalOne(n.trigger, failure);
      }
    } else {
      int count = 0;
      for (Running n = r; !n.isEmpty(); n = n.older) {
        count++;
      }
      Trigger[] inOrder = new Trigger[count];
      for (Running n = r; !n.isEmpty(); n = n.older) {
        inOrder[--count] = n.trigger;
      }
      for (Trigger t : inOrder) {
        failure = signalOne(t, failure);
      }
    }
    if (failure != null) {
      throw Computation.unchecked(failure);
    }
  }

  private static Throwable signalOne(Trigger t, Throwable failure) {
    try {
      t.signal();
    } catch (Throwable e) {
      if (failure == null) {
        return e;
      }
      failure.addSuppressed(e);
    }
    return failure;
  }

  // ---------------------------------------------------------------------------------------
  // Observation

  /** Whether the computation has not completed yet. */
  public boolean isRunning() {
    return state instanceof Running;
  }

  /** Whether the computation was cancelled. */
  public boolean isCanceled() {
    return state instanceof Canceled;
  }

  /** Whether the computation completed with a value. */
  public boolean isReturned() {
    return state instanceof Returned;
  }

  /** The cancellation cause, or {@code null} if running or returned. */
  public Throwable canceled() {
    return state instanceof Canceled c ? c.cause : null;
  }

  /**
   * Returns the value if returned, throws the cause if cancelled (see the class comment).
   *
   * @throws IllegalStateException if still running
   */
  @SuppressWarnings("unchecked")
  public T resultNow() {
    Object s = state;
    if (s instanceof Returned r) {
      return (T) r.value;
    }
    if (s instanceof Canceled c) {
      throw unchecked(c.cause);
    }
    throw new IllegalStateException("Computation is still running; await() it instead");
  }

  /**
   * Whether {@code thrown} is this computation's cancellation unwinding rather than a failure of
   * its own: the cancellation cause itself, or an exception whose cause it is (such as the
   * {@link CompletionException} that {@link #unchecked} wraps a checked cause in). False while
   * running or returned. Scopes and fiber mains use it to tell a member that stopped because it
   * was cancelled from one that failed.
   */
  public boolean isCancellation(Throwable thrown) {
    Throwable cause = canceled();
    return cause != null && thrown != null && (thrown == cause || thrown.getCause() == cause);
  }

  /** Throws the cancellation cause if cancelled; does nothing if running or returned. */
  public void check() {
    if (state instanceof Canceled c) {
      throw unchecked(c.cause);
    }
  }

  /**
   * Waits for the computation and returns its value or throws its cause. In a fiber this
   * suspends; on a plain thread it blocks. A completed computation answers at once without
   * suspending.
   *
   * <p>Cancellation: if the <em>awaiting</em> fiber is cancelled while waiting, its trigger is
   * detached and the fiber's own cause is thrown, even if this computation completed meanwhile.
   *
   * <p>Outside a fiber, a thread that must not block (an event loop, a Reactor non-blocking
   * thread: see {@link BlockingGuards}) is refused on entry, even when the computation has
   * already completed.
   *
   * @return the value the computation returned
   * @throws RuntimeException its cause (a checked one wrapped in a {@link CompletionException}),
   *     or the awaiting fiber's cancellation cause
   * @throws IllegalStateException if the fiber cannot suspend, or the calling thread must not
   *     block (the message names the host and what to do)
   */
  public T await() {
    return awaitDescribed(this);
  }

  /**
   * {@link #await()}, telling fiber dumps what the wait is for: a library that waits on a
   * computation of its own (a pool's lease, a bridge's result) passes a description, made once
   * where it can be, such as {@code Support.waitDescription("Pool.acquire", pool)}, so that the
   * dump of a fiber waiting there reads {@code Pool.acquire on Pool[0 free, 3 waiting]} rather
   * than {@code Computation[running]}. Same semantics, threading and exceptions as
   * {@code await()}. (A name of its own rather than an overload, so that
   * {@code computation::await} stays an unambiguous method reference.)
   *
   * @param waitFor the description (its {@code toString()} is called only when a dump or log
   *     asks); {@code null} for none
   * @return the value the computation returned
   */
  public T awaitDescribed(Object waitFor) {
    if (state instanceof Running) {
      Fiber fiber = Fiber.current();
      if (fiber.handler.joinInline(fiber, this) && !(state instanceof Running)) {
        // The fiber that completes this computation ran here instead of after a suspension;
        // answer as that suspension would have: the awaiting fiber's cancellation wins.
        Throwable cause = fiber.canceled();
        if (cause != null) {
          throw unchecked(cause);
        }
        return resultNow();
      }
      Trigger trigger = Trigger.create(waitFor);
      if (tryAttach(trigger)) {
        trigger.awaitOrAbandon(() -> detach(trigger)); // the trigger's await checks the guards
        return resultNow();
      }
    }
    BlockingGuards.check(); // a refused thread is refused even when the result is there
    return resultNow();
  }

  // ---------------------------------------------------------------------------------------
  // Triggers

  /**
   * Attaches {@code trigger}, to be signalled when the computation completes.
   *
   * @return {@code false}, attaching nothing, if the computation has completed or the trigger is
   *     already signalled
   */
  public boolean tryAttach(Trigger trigger) {
    Objects.requireNonNull(trigger, "trigger");
    for (;;) {
      Object s = state;
      if (!(s instanceof Running r) || trigger.isSignaled()) {
        return false;
      }
      Running next = r.balance < 0 ? gc(r, trigger) : new Running(trigger, r, r.balance + 1);
      if (STATE.compareAndSet(this, s, next)) {
        return true;
      }
    }
  }

  /**
   * Signals {@code trigger} (running its action now, if it has one and was not signalled) and
   * forgets it. Removal is lazy unless the trigger is the newest one attached (see the class
   * comment); it never searches the list.
   */
  public void detach(Trigger trigger) {
    trigger.signal();
    for (;;) {
      Object s = state;
      if (!(s instanceof Running r)) {
        return;
      }
      Running next;
      if (r.trigger == trigger && r.balance > 0) {
        Running older = r.older;
        // The state before t was attached, unless a lazy detach lowered the balance since.
        next = older.isEmpty() || older.balance == r.balance - 1
            ? older
            : new Running(older.trigger, older.older, r.balance - 1);
      } else {
        next = r.balance < 0 ? gc(r, null) : new Running(r.trigger, r.older, r.balance - 2);
      }
      if (STATE.compareAndSet(this, s, next)) {
        return;
      }
    }
  }

  /** Drops signalled triggers, keeping order; prepends {@code adding} if non-null. */
  private static Running gc(Running r, Trigger adding) {
    int live = 0;
    for (Running n = r; !n.isEmpty(); n = n.older) {
      if (!n.trigger.isSignaled()) {
        live++;
      }
    }
    Trigger[] keep = new Trigger[live];
    int i = 0;
    for (Running n = r; !n.isEmpty() && i < live; n = n.older) {
      if (!n.trigger.isSignaled()) {
        keep[i++] = n.trigger;
      }
    }
    Running list = lifo(r) ? EMPTY_LIFO : EMPTY_FIFO;
    for (int j = i - 1; j >= 0; j--) {
      list = new Running(keep[j], list, list.balance + 1);
    }
    return adding == null ? list : new Running(adding, list, list.balance + 1);
  }

  /**
   * Whether {@code r}'s triggers are signalled newest first: every list ends in one of the two
   * shared empty states, which holds the order (so that a cell need not: one attach is one
   * 24-byte cell).
   */
  private static boolean lifo(Running r) {
    Running n = r;
    while (!n.isEmpty()) {
      n = n.older;
    }
    return n == EMPTY_LIFO;
  }

  /**
   * The number of trigger entries this running computation holds: live ones and signalled ones
   * awaiting lazy removal (see the class comment); 0 once completed. Exposed for monitoring
   * through {@code org.picos.spi.Handler.triggerEntries}.
   */
  int triggerEntries() {
    int count = 0;
    if (state instanceof Running r) {
      for (Running n = r; !n.isEmpty(); n = n.older) {
        count++;
      }
    }
    return count;
  }

  // ---------------------------------------------------------------------------------------
  // Timeouts and cancellation propagation

  /**
   * Asks the current scheduler's timer to {@link #tryCancel cancel} this computation with
   * {@code cause} after {@code delay}. Completing the computation first disarms the timer.
   * Outside any scheduler a shared daemon timer thread is used.
   *
   * @throws IllegalArgumentException if {@code delay} is negative or too long to represent in
   *     nanoseconds
   * @throws NullPointerException if an argument is null
   * @throws RuntimeException the current fiber's cancellation cause, if it is already cancelled
   *     (and permits cancellation): the timer is then not armed
   */
  public void cancelAfter(Duration delay, Throwable cause) {
    Objects.requireNonNull(delay, "delay");
    Objects.requireNonNull(cause, "cause");
    if (delay.isNegative()) {
      throw new IllegalArgumentException("cancelAfter: delay must not be negative, was " + delay);
    }
    long nanos;
    try {
      nanos = delay.toNanos();
    } catch (ArithmeticException tooLong) {
      throw new IllegalArgumentException(
          "cancelAfter: delay " + delay + " does not fit in a long of nanoseconds (about 292 years)");
    }
    Fiber fiber = Fiber.current();
    fiber.checkCanceled();
    if (state instanceof Running) {
      fiber.handler.cancelAfter(fiber, this, nanos, cause);
    }
  }

  /**
   * Makes cancellation of {@code from} cancel {@code into} with the same cause, for as long as
   * the returned trigger stays attached to {@code from}. Detach it from {@code from} to stop.
   * If {@code from} has completed already, nothing is attached: a cancelled {@code from}
   * cancels {@code into} at once; a returned one does nothing. The returned trigger is then
   * already signalled.
   */
  public static Trigger attachCanceler(Computation<?> from, Computation<?> into) {
    Objects.requireNonNull(into, "into");
    Trigger canceler = Trigger.fromAction(() -> {
      Throwable cause = from.canceled();
      if (cause != null) {
        into.tryCancel(cause);
      }
    });
    if (!from.tryAttach(canceler)) {
      canceler.signal();
    }
    return canceler;
  }

  /**
   * Runs {@code action} once when the computation completes: at once, in the calling thread, if
   * it already has; otherwise in the completing thread. Returns the trigger that carries it, so
   * it can be {@linkplain #detach detached} (which runs the action at once, so make the action
   * check what it needs).
   */
  public Trigger whenDone(Runnable action) {
    Trigger trigger = Trigger.fromAction(action);
    if (!tryAttach(trigger)) {
      trigger.signal();
    }
    return trigger;
  }

  /**
   * Returns {@code cause} as an unchecked exception to throw: itself if it is a
   * {@link RuntimeException} or {@link Error}, otherwise wrapped in a {@link CompletionException}.
   * Throwing is left to the caller: {@code throw Computation.unchecked(cause)}.
   */
  public static RuntimeException unchecked(Throwable cause) {
    if (cause instanceof RuntimeException re) {
      return re;
    }
    if (cause instanceof Error e) {
      throw e;
    }
    return new CompletionException(cause);
  }

  @Override
  public String toString() {
    Object s = state;
    String what = s instanceof Running ? "running"
        : s instanceof Returned r ? "returned " + r.value
        : "canceled " + ((Canceled) s).cause;
    return "Computation[" + what + "]";
  }

  // ---------------------------------------------------------------------------------------
  // States

  /**
   * A running state, and a cell of its trigger list: {@code trigger} is the newest attached,
   * {@code older} the state before it was attached. The empty state has neither. The balance is
   * the top cell's (see the class comment). The order of signalling is that of the empty state
   * at the bottom ({@link #lifo}).
   */
  private record Running(Trigger trigger, Running older, int balance) {
    boolean isEmpty() {
      return trigger == null;
    }
  }

  private record Returned(Object value) {}

  private record Canceled(Throwable cause) {}
}
