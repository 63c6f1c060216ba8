package org.picos.spi;

import java.util.Objects;
import java.util.concurrent.locks.LockSupport;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.picos.internal.CoreAccess;

/**
 * The scheduler SPI: what a Picos scheduler implements, the Java form of Picos' effect handler.
 * Users never see it; they use {@link Trigger}, {@link Computation}, {@link Fiber} and a
 * {@link Scheduler}. Every fiber operation is routed to the handler of the fiber that performs
 * it; the fiber bound to a thread is set with {@link #mount}. The public abstract methods are
 * called by the core only (from the fiber performing the operation); a scheduler implements
 * them with the protected operations below, which are the only way to reach a fiber's and a
 * trigger's scheduler-side state.
 *
 * <h2>Contract (from Picos)</h2>
 * <ul>
 *   <li>{@link #await}: suspend the fiber until the trigger is signalled. When the fiber permits
 *       cancellation, the trigger must be attached to its computation while it is suspended, so
 *       that cancellation wakes it ({@link #trySuspend} does exactly that). Before resuming, the
 *       trigger must be signalled (by others, or {@linkplain #dispose disposed}). Answer
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
 * done by the core; a handler need not repeat them. {@link AbstractScheduler} implements the
 * rest of what a scheduler promises (the live set, {@code start}, the close protocol the
 * compatibility kit checks) for handlers that are also {@link Scheduler}s.
 */
public abstract class Handler {
  private static final CoreAccess CORE = CoreAccess.get();

  protected Handler() {}

  /**
   * Suspends {@code fiber}, the current fiber, until {@code trigger} (in its initial state) is
   * signalled, and returns {@link Fiber#canceled()} as read when the fiber resumes. Called by
   * {@link Trigger#await()}.
   */
  public abstract Throwable await(Fiber fiber, Trigger trigger);

  /** Lets other fibers run before {@code fiber} continues. Called by {@link Fiber#yield()}. */
  public abstract void yield(Fiber fiber);

  /**
   * Starts {@code child} running {@code main}; called on the spawning fiber {@code parent}, or
   * with a null {@code parent} for a root fiber started from anywhere ({@link #spawnRoot}).
   * Implementations call {@link #bind} on the child first, and run {@code main} through
   * {@link #runMain}.
   */
  public abstract void spawn(Fiber parent, Fiber child, Runnable main);

  /**
   * Called by {@link Computation#await()} on {@code fiber}, the current fiber, before it
   * suspends for {@code computation}, which is still running: a scheduler may now run the
   * fiber that will complete it, here, on this stack, if that fiber has not started yet (an
   * <em>inline join</em>, as a fork/join pool runs a task that its joiner takes back). The
   * child must run exactly as it would have run on its own: as its own fiber with its own
   * continuation, so that if it suspends, only it suspends, and the caller goes on to await as
   * usual. Returns whether it ran anything; the default runs nothing.
   *
   * @param fiber the awaiting fiber
   * @param computation what it is about to await
   * @return whether a fiber was run here (the computation may or may not have completed)
   */
  public boolean joinInline(Fiber fiber, Computation<?> computation) {
    return false;
  }

  /**
   * Arms a timer that cancels {@code computation} with {@code cause} after {@code nanos}. The
   * default uses {@link Timer#shared()}; hosts with a timer of their own override it and call
   * {@link #armTimer}. Called by {@link Computation#cancelAfter}.
   */
  public void cancelAfter(Fiber fiber, Computation<?> computation, long nanos, Throwable cause) {
    armTimer(Timer.shared(), computation, nanos, cause);
  }

  /**
   * Whether a fiber of this handler may block its carrier thread (sleep, a JDBC call, a
   * {@code Future.get()}) without holding up other fibers: {@code true} when each fiber has a
   * thread of its own ({@code threadPerFiber}, plain threads), {@code false} (the default) when
   * fibers share carriers, as on fifo and multi carriers, event loops and executors. The
   * blocked-carrier detector and the BlockHound integration watch only fibers of handlers that
   * answer {@code false}. Safe from any thread; must be cheap and constant.
   */
  public boolean mayBlockCarrier() {
    return false;
  }

  // ---------------------------------------------------------------------------------------
  // Timers

  /**
   * Arms {@code timer} to cancel {@code computation} with {@code cause} after {@code nanos}, and
   * attaches a trigger that disarms it when the computation completes first. A failure of a
   * trigger action run by the firing timer goes to {@link Support#reportUncaught}.
   */
  protected static void armTimer(Timer timer, Computation<?> computation, long nanos, Throwable cause) {
    Runnable disarm = timer.schedule(() -> Support.cancelReporting(computation, cause), nanos);
    computation.whenDone(disarm);
  }

  // ---------------------------------------------------------------------------------------
  // The scheduler side of triggers

  /**
   * Attaches the action that resumes the fiber awaiting {@code trigger}.
   *
   * @return {@code true} if the action was attached and will run (on the signalling thread) on
   *     the first signal; {@code false} if the trigger is already signalled (the action will
   *     never run: resume the fiber yourself)
   * @throws IllegalStateException if an action is already attached
   * @throws NullPointerException if {@code action} is null
   */
  protected static boolean onSignal(Trigger trigger, Runnable action) {
    return CORE.onSignal(trigger, action);
  }

  /**
   * Whether {@code action} is attached to {@code trigger} and has not run yet: the fiber that
   * attached it (after it stopped running) is still suspended. A volatile read of the trigger's
   * state; safe from any thread.
   */
  protected static boolean awaitsWith(Trigger trigger, Runnable action) {
    return CORE.awaitsWith(trigger, action);
  }

  /**
   * Moves an initial trigger to signalled without running anything, so that a fiber resumed
   * without a signal (because it was cancelled) leaves a signalled trigger behind. Does nothing
   * on a signalled trigger.
   *
   * @throws IllegalStateException if an action is attached
   */
  protected static void dispose(Trigger trigger) {
    CORE.dispose(trigger);
  }

  /**
   * The number of trigger entries a running computation holds, live ones and signalled ones
   * awaiting lazy removal (see {@link Computation}); 0 once completed. For monitoring and tests:
   * it stays proportional to the number of live waiters however many come and go.
   */
  public static int triggerEntries(Computation<?> computation) {
    return CORE.triggerEntries(Objects.requireNonNull(computation, "computation"));
  }

  // ---------------------------------------------------------------------------------------
  // Binding fibers to threads

  /**
   * Starts a root fiber (one with no parent fiber, as {@link Scheduler#start} does) through
   * {@link #spawn} with a {@code null} parent. The child inherits the caller's
   * {@link Fiber.ThreadContext} state, as spawned fibers do.
   *
   * @throws IllegalStateException if {@code child} was already spawned
   */
  protected final void spawnRoot(Fiber child, Runnable main) {
    Objects.requireNonNull(child, "fiber");
    Objects.requireNonNull(main, "main");
    if (CORE.handler(child) != null) {
      throw new IllegalStateException("spawn: this fiber was already spawned; create a new one");
    }
    CORE.inheritContexts(child);
    spawn(null, child, main);
  }

  /** Makes this handler answer {@code child}'s operations; call first in {@link #spawn}. */
  protected final void bind(Fiber child) {
    CORE.bind(child, this);
  }

  /**
   * Undoes {@link #bind} (and {@link #setData}) for a spawn that is refused before main could
   * run, so that the fiber object may be spawned again.
   */
  protected static void unbind(Fiber child) {
    CORE.bind(child, null);
    CORE.setData(child, null);
  }

  /** The handler answering {@code fiber}'s operations (null before it is spawned). */
  protected static Handler handlerOf(Fiber fiber) {
    return CORE.handler(fiber);
  }

  /** Scheduler-private data attached to {@code fiber}. */
  protected static Object data(Fiber fiber) {
    return CORE.data(fiber);
  }

  /** Attaches scheduler-private data to {@code fiber}. */
  protected static void setData(Fiber fiber, Object data) {
    CORE.setData(fiber, data);
  }

  /**
   * Makes {@code fiber} the current fiber of the calling thread, returning the previous one
   * (give it to {@link #unmount}). Call around every run of the fiber's code.
   */
  protected static Fiber mount(Fiber fiber) {
    return CORE.mount(fiber);
  }

  /** Restores the thread's previous fiber after {@link #mount}. */
  protected static void unmount(Fiber previous) {
    CORE.unmount(previous);
  }

  /** Installs {@code fiber}'s ThreadLocal context on this carrier; see {@link Fiber.ThreadContext}. */
  protected static Object[] swapInContexts(Fiber fiber) {
    return CORE.swapInContexts(fiber);
  }

  /** Saves {@code fiber}'s ThreadLocal context and restores the carrier's. */
  protected static void swapOutContexts(Fiber fiber, Object[] carrier) {
    CORE.swapOutContexts(fiber, carrier);
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
      if (!c.tryCancel(failure) && !c.isCancellation(failure)) {
        Support.reportUncaught(failure);
      }
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
   * {@link Support#reportUncaught}.
   */
  protected static void closeFiber(Fiber fiber, Throwable cause) {
    try {
      CORE.closeWith(fiber, cause);
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
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
      if (CORE.isClosed(fiber)) {
        CORE.dispose(trigger);
        return false;
      }
      Computation<?> c = fiber.computation();
      if (c.tryAttach(trigger)) {
        if (CORE.onSignal(trigger, resume)) {
          return true;
        }
        c.detach(trigger);
        return false;
      }
      if (c.isCanceled()) {
        CORE.dispose(trigger);
        return false;
      }
    }
    return CORE.onSignal(trigger, resume);
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
}
