package org.picos;

import java.lang.Thread.UncaughtExceptionHandler;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The scheduler SPI: what a Picos scheduler implements, the Java form of Picos' effect handler.
 * Users never call it; they use {@link Trigger}, {@link Computation}, {@link Fiber} and a
 * {@link Scheduler}. Every fiber operation is routed to the handler of the fiber that performs
 * it; the fiber bound to a thread is set with {@link #mount}.
 *
 * <h2>Contract (from Picos)</h2>
 * <ul>
 *   <li>{@link #await}: suspend the fiber until the trigger is signalled. When the fiber permits
 *       cancellation, the trigger must be attached to its computation while it is suspended, so
 *       that cancellation wakes it ({@link #trySuspend} does exactly that). Before resuming, the
 *       trigger must be signalled (by others, or {@linkplain Trigger#dispose disposed}). Answer
 *       {@link Fiber#canceled()} read at resumption: {@code null} or the cause. Never throw the
 *       cause.</li>
 *   <li>{@link #yield}: let other ready fibers run first.</li>
 *   <li>{@link #spawn}: all or nothing. Once it returns, {@code main} must eventually be called,
 *       even if the child's computation is already cancelled; if it throws, never.</li>
 *   <li>{@link #cancelAfter}: arm a timer that cancels the computation; disarm it when the
 *       computation completes first (attach a trigger), so nothing leaks.</li>
 *   <li>{@code current}: answered without the handler, from the fiber bound to the thread.</li>
 * </ul>
 * Cancellation checks before and after {@code yield}, {@code spawn} and {@code cancelAfter} are
 * done by the core; a handler need not repeat them.
 */
public abstract class Handler {
  private static volatile Runnable[] blockingGuards = new Runnable[0];

  protected Handler() {}

  /**
   * Suspends {@code fiber}, the current fiber, until {@code trigger} (in its initial state) is
   * signalled, and returns {@link Fiber#canceled()} as read when the fiber resumes.
   */
  protected abstract Throwable await(Fiber fiber, Trigger trigger);

  /** Lets other fibers run before {@code fiber} continues. */
  protected abstract void yield(Fiber fiber);

  /**
   * Starts {@code child} running {@code main}; called on the spawning fiber {@code parent}, or
   * with a null {@code parent} for a root fiber started from anywhere.
   * Implementations call {@link #bind} on the child first, and run {@code main} through
   * {@link #runMain}.
   */
  protected abstract void spawn(Fiber parent, Fiber child, Runnable main);

  /**
   * Arms a timer that cancels {@code computation} with {@code cause} after {@code nanos}. The
   * default uses a shared daemon timer thread; hosts with a timer of their own override it and
   * call {@link #armTimer}.
   */
  protected void cancelAfter(Fiber fiber, Computation<?> computation, long nanos, Throwable cause) {
    armTimer(DEFAULT_TIMER, computation, nanos, cause);
  }

  // ---------------------------------------------------------------------------------------
  // Timers

  /** A host's timer: runs {@code task} once after {@code nanos}; returns what cancels it. */
  @FunctionalInterface
  public interface Timer {
    /**
     * Schedules {@code task} to run once after {@code nanos} nanoseconds, on any thread.
     *
     * @return an action that cancels the task if it has not run yet
     */
    Runnable schedule(Runnable task, long nanos);
  }

  /** The shared timer used outside any scheduler: one daemon thread, {@code picos-timer}. */
  public static final Timer DEFAULT_TIMER = new DefaultTimer();

  private static final class DefaultTimer implements Timer {
    private final ScheduledThreadPoolExecutor executor;

    DefaultTimer() {
      executor = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "picos-timer");
        t.setDaemon(true);
        return t;
      });
      executor.setRemoveOnCancelPolicy(true);
    }

    @Override
    public Runnable schedule(Runnable task, long nanos) {
      ScheduledFuture<?> f = executor.schedule(task, nanos, TimeUnit.NANOSECONDS);
      return () -> f.cancel(false);
    }
  }

  /**
   * Arms {@code timer} to cancel {@code computation} with {@code cause} after {@code nanos}, and
   * attaches a trigger that disarms it when the computation completes first.
   */
  protected static void armTimer(Timer timer, Computation<?> computation, long nanos, Throwable cause) {
    Runnable disarm = timer.schedule(() -> cancelReporting(computation, cause), nanos);
    Trigger remover = Trigger.fromAction(disarm);
    if (!computation.tryAttach(remover)) {
      disarm.run();
    }
  }

  /**
   * {@code computation.tryCancel(cause)} for a timer or a host's callback, where nobody would see
   * a failure of a trigger's action: such a failure goes to {@link #reportUncaught}.
   */
  protected static void cancelReporting(Computation<?> computation, Throwable cause) {
    try {
      computation.tryCancel(cause);
    } catch (Throwable failure) {
      reportUncaught(failure);
    }
  }

  /**
   * Cancels {@code fiber} because its scheduler is closing or its host shut down: for the rest
   * of its life the fiber sees {@code cause} at every cancellation point (unless it forbids
   * cancellation), whatever computation it has then, and its current computation is cancelled
   * with {@code cause}, which wakes it wherever it waits. This, not cancelling whatever
   * computation the fiber has at the moment, is how a scheduler stops its fibers: a scope that
   * gave the fiber a narrower computation (a {@code Bundle}, a timeout) and then discarded it
   * cannot discard the close. Never throws: a failure of a trigger's action goes to
   * {@link #reportUncaught}.
   */
  protected static void closeFiber(Fiber fiber, Throwable cause) {
    try {
      fiber.closeWith(cause);
    } catch (Throwable failure) {
      reportUncaught(failure);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Binding fibers to threads

  /**
   * Starts a root fiber (one with no parent fiber, as {@link Scheduler#start} does) through
   * {@link #spawn} with a {@code null} parent. The child inherits the caller's
   * {@link Fiber.ThreadContext} state, as spawned fibers do.
   */
  protected final void spawnRoot(Fiber child, Runnable main) {
    Objects.requireNonNull(child, "fiber");
    Objects.requireNonNull(main, "main");
    if (child.handler != null) {
      throw new IllegalStateException("spawn: this fiber was already spawned; create a new one");
    }
    child.inheritContexts();
    spawn(null, child, main);
  }

  /** Makes this handler answer {@code child}'s operations; call first in {@link #spawn}. */
  protected final void bind(Fiber child) {
    child.handler = this;
  }

  /** The handler answering {@code fiber}'s operations (null before it is spawned). */
  protected static Handler handlerOf(Fiber fiber) {
    return fiber.handler;
  }

  /** Scheduler-private data attached to {@code fiber}. */
  protected static Object data(Fiber fiber) {
    return fiber.data;
  }

  /** Attaches scheduler-private data to {@code fiber}. */
  protected static void setData(Fiber fiber, Object data) {
    fiber.data = data;
  }

  /**
   * Makes {@code fiber} the current fiber of the calling thread, returning the previous one
   * (give it to {@link #unmount}). Call around every run of the fiber's code.
   */
  protected static Fiber mount(Fiber fiber) {
    return Fiber.mount(fiber);
  }

  /** Restores the thread's previous fiber after {@link #mount}. */
  protected static void unmount(Fiber previous) {
    Fiber.unmount(previous);
  }

  /** Installs {@code fiber}'s ThreadLocal context on this carrier; see {@link Fiber.ThreadContext}. */
  protected static Object[] swapInContexts(Fiber fiber) {
    return fiber.swapInContexts();
  }

  /** Saves {@code fiber}'s ThreadLocal context and restores the carrier's. */
  protected static void swapOutContexts(Fiber fiber, Object[] carrier) {
    fiber.swapOutContexts(carrier);
  }

  /**
   * Runs a fiber's main. A failure cancels the fiber's computation; if that has completed
   * already, the failure goes to the thread's uncaught-exception handler, so it is never lost
   * (unless it is that computation's own cancellation cause unwinding).
   */
  protected static void runMain(Fiber fiber, Runnable main) {
    try {
      main.run();
    } catch (Throwable failure) {
      Computation<?> c = fiber.computation();
      if (!c.tryCancel(failure) && !isCancellationOf(c, failure)) {
        reportUncaught(failure);
      }
    }
  }

  /**
   * A fiber main that runs {@code body} and completes {@code computation} with its value or
   * failure. If the computation was completed first (typically cancelled from outside), a value is
   * dropped, and so is the computation's own cancellation unwinding out of the body; any other
   * failure goes to {@link #reportUncaught}, so it is never lost.
   */
  public static <T> Runnable capturing(Computation<T> computation, Callable<? extends T> body) {
    Objects.requireNonNull(computation, "computation");
    Objects.requireNonNull(body, "body");
    return () -> {
      T value;
      try {
        value = body.call();
      } catch (Throwable failure) {
        if (!computation.tryCancel(failure) && !isCancellationOf(computation, failure)) {
          reportUncaught(failure);
        }
        return;
      }
      computation.tryReturn(value);
    };
  }

  private static boolean isCancellationOf(Computation<?> computation, Throwable failure) {
    Throwable cause = computation.canceled();
    return cause != null && (failure == cause || failure.getCause() == cause);
  }

  /** Hands {@code failure}, which nobody can receive, to the thread's uncaught-exception handler. */
  public static void reportUncaught(Throwable failure) {
    Thread t = Thread.currentThread();
    UncaughtExceptionHandler h = t.getUncaughtExceptionHandler();
    try {
      h.uncaughtException(t, failure);
    } catch (Throwable ignored) {
      failure.printStackTrace();
    }
  }

  // ---------------------------------------------------------------------------------------
  // The suspend/resume protocol

  /**
   * Prepares {@code fiber} to suspend on {@code trigger}: attaches the trigger to the fiber's
   * computation when it permits cancellation, then installs {@code resume} as the trigger's
   * action.
   *
   * @return {@code true} if the fiber is suspended and {@code resume} will run (on the
   *     signalling thread) when the trigger is signalled; {@code false} if the trigger is
   *     already signalled (or was disposed because the fiber is cancelled): resume it now
   */
  protected static boolean trySuspend(Fiber fiber, Trigger trigger, Runnable resume) {
    if (!fiber.hasForbidden()) {
      // Read after the fiber's last computation swap, so a close that read the computation
      // before that swap (and cancelled the old one) is seen here; see closeFiber.
      if (fiber.isClosed()) {
        trigger.dispose();
        return false;
      }
      Computation<?> c = fiber.computation();
      if (c.tryAttach(trigger)) {
        if (trigger.onSignal(resume)) {
          return true;
        }
        c.detach(trigger);
        return false;
      }
      if (c.isCanceled()) {
        trigger.dispose();
        return false;
      }
    }
    return trigger.onSignal(resume);
  }

  /**
   * Called when the fiber is about to resume after {@link #trySuspend}: lazily detaches the
   * trigger from the fiber's computation.
   *
   * @return {@code false} iff the fiber permits cancellation and is cancelled (schedulers may
   *     resume such fibers first)
   * @throws IllegalStateException if the trigger is not signalled
   */
  protected static boolean unsuspend(Fiber fiber, Trigger trigger) {
    if (!trigger.isSignaled()) {
      throw new IllegalStateException("unsuspend: trigger is not signaled");
    }
    if (fiber.hasForbidden()) {
      return true;
    }
    fiber.computation().detach(trigger);
    return !fiber.isCanceled();
  }

  /**
   * Implements {@link #await} by blocking the calling thread, for handlers whose fibers are
   * threads. Interrupts do not end the wait (cancel the fiber's computation for that); the
   * thread's interrupt status is kept.
   */
  protected static Throwable awaitBlocking(Fiber fiber, Trigger trigger) {
    Thread thread = Thread.currentThread();
    if (trySuspend(fiber, trigger, () -> LockSupport.unpark(thread))) {
      boolean interrupted = false;
      while (!trigger.isSignaled()) {
        LockSupport.park(trigger);
        if (Thread.interrupted()) {
          interrupted = true;
        }
      }
      if (interrupted) {
        thread.interrupt();
      }
      unsuspend(fiber, trigger);
    }
    return fiber.canceled();
  }

  // ---------------------------------------------------------------------------------------
  // Blocking guards

  /**
   * Registers a check run before a plain thread (outside any fiber) blocks in an await. A guard
   * throws, typically an {@link IllegalStateException} saying to use a fiber, when the calling
   * thread must never block, such as an event-loop thread whose blocking would deadlock it.
   */
  public static synchronized void addBlockingGuard(Runnable guard) {
    Objects.requireNonNull(guard, "guard");
    Runnable[] now = blockingGuards;
    Runnable[] next = Arrays.copyOf(now, now.length + 1);
    next[now.length] = guard;
    blockingGuards = next;
  }

  /** Removes a guard registered with {@link #addBlockingGuard}. */
  public static synchronized void removeBlockingGuard(Runnable guard) {
    blockingGuards = Arrays.stream(blockingGuards).filter(g -> g != guard).toArray(Runnable[]::new);
  }

  static void checkMayBlock() {
    for (Runnable guard : blockingGuards) {
      guard.run();
    }
  }

  /** The handler of plain threads' implicit fibers. */
  static Handler threads() {
    return PlainThreads.INSTANCE;
  }

  /**
   * Answers the operations of a thread that is not running any scheduler's fiber: await blocks
   * the thread, yield is {@link Thread#yield()}, spawn starts a virtual thread.
   */
  static final class PlainThreads extends Handler {
    static final PlainThreads INSTANCE = new PlainThreads();

    @Override
    protected Throwable await(Fiber fiber, Trigger trigger) {
      checkMayBlock();
      return awaitBlocking(fiber, trigger);
    }

    @Override
    protected void yield(Fiber fiber) {
      Thread.yield();
    }

    @Override
    protected void spawn(Fiber parent, Fiber child, Runnable main) {
      bind(child);
      Thread.ofVirtual().name("picos-fiber").start(() -> {
        mount(child);
        Object[] carrier = swapInContexts(child);
        runMain(child, main);
        swapOutContexts(child, carrier);
      });
    }

    @Override
    public String toString() {
      return "plain thread";
    }
  }
}
