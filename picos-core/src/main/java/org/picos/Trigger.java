package org.picos;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import org.picos.internal.FiberEvents;
import org.picos.spi.BlockingGuards;

/**
 * A one-shot awaitable signal: the one thing a fiber ever suspends on.
 *
 * <h2>State machine</h2>
 * One atomic cell, three states:
 * <pre>
 *   INITIAL  --signal()/dispose()--> SIGNALED
 *   INITIAL  --onSignal(action)----> AWAITING(action)
 *   AWAITING --signal()------------> SIGNALED   (the CAS winner runs action, once)
 * </pre>
 * There is no other transition; {@code SIGNALED} is final and holds no references.
 * {@code INITIAL} is {@code null} in the cell, {@code AWAITING} is the action itself and
 * {@code SIGNALED} a private sentinel, so a trigger is one object with one field.
 *
 * <h2>Who does what</h2>
 * A library creates a trigger, publishes it to whoever will signal it (for example by
 * {@linkplain Computation#tryAttach attaching} it to a computation or putting it in a waiter
 * queue), then its owner calls {@link #await()} once. Anybody may {@link #signal()} it, from any
 * thread, any number of times. Schedulers implement {@code await} and attach the resume action
 * through the scheduler SPI ({@link org.picos.spi.Handler}).
 *
 * <h2>Cancellation</h2>
 * {@code await()} returns {@code null} when the trigger was signalled, or the cancellation cause
 * when the awaiting fiber's computation was cancelled while it waited (and the fiber permits
 * cancellation). The answer is decided when the fiber is resumed: a fiber that was cancelled
 * <em>and</em> signalled gets the cause. A library that gets a cause must therefore re-check its
 * own state (for example a mutex that already handed ownership to the cancelled waiter passes
 * it on) and then rethrow the cause. After {@code await} returns, either way, the trigger is
 * signalled.
 */
public final class Trigger {
  private static final Object SIGNALED = new Object() {
    @Override
    public String toString() {
      return "signaled";
    }
  };
  private static final Trigger SIGNALED_TRIGGER = new Trigger(SIGNALED);
  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(Trigger.class, "state", Object.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** {@code null} = initial, {@link #SIGNALED}, or the {@link Runnable} of an awaiting trigger. */
  private volatile Object state;
  /** What a fiber awaiting this trigger waits for (rendered lazily by dumps); may be null. */
  private final Object waitFor;

  private Trigger(Object state) {
    this(state, null);
  }

  private Trigger(Object state, Object waitFor) {
    this.state = state;
    this.waitFor = waitFor;
  }

  /**
   * A new trigger in the initial state that tells fiber dumps what its awaiter waits for. Safe
   * from any thread; not a cancellation point.
   *
   * @param waitFor a description (a String, or an object whose {@code toString()} describes the
   *     wait, called only when a dump or log asks); may be null
   * @return the trigger
   */
  public static Trigger create(Object waitFor) {
    return new Trigger(null, waitFor);
  }

  /**
   * What a fiber awaiting this trigger waits for, as given to {@link #create(Object)}. Safe from
   * any thread.
   *
   * @return the description, or {@code "a trigger"} when none was given
   */
  public String waitDescription() {
    Object w = waitFor;
    try {
      return w == null ? "a trigger" : w.toString();
    } catch (RuntimeException failure) {
      return "a trigger (its description failed: " + failure + ")";
    }
  }

  /** Returns a new trigger in the initial state. */
  public static Trigger create() {
    return new Trigger(null);
  }

  /** Returns a shared trigger that is already signalled. */
  public static Trigger signaled() {
    return SIGNALED_TRIGGER;
  }

  /**
   * A new trigger already awaiting with {@code action}: signalling it runs the action once (what
   * {@link Computation#whenDone} attaches); it cannot be awaited.
   *
   * @throws NullPointerException if {@code action} is null
   */
  static Trigger fromAction(Runnable action) {
    return new Trigger(Objects.requireNonNull(action, "action"));
  }

  /** Whether the trigger has been signalled (or disposed). Never throws. */
  public boolean isSignaled() {
    return state == SIGNALED;
  }

  /**
   * Whether the trigger is still in its initial state.
   *
   * @throws IllegalStateException if an action is already attached (the trigger is awaited)
   */
  public boolean isInitial() {
    Object s = state;
    if (s == null) {
      return true;
    }
    if (s == SIGNALED) {
      return false;
    }
    throw alreadyAwaiting();
  }

  /**
   * Signals the trigger. The first signal of an awaiting trigger runs its action synchronously
   * in the calling thread; later signals do nothing. Safe from any thread.
   */
  public void signal() {
    Object s;
    do {
      s = state;
      if (s == SIGNALED) {
        return;
      }
    } while (!STATE.compareAndSet(this, s, SIGNALED));
    if (s != null) {
      ((Runnable) s).run();
    }
  }

  /**
   * Scheduler side ({@code Handler.onSignal}): attaches the action that resumes the awaiting
   * fiber.
   *
   * @return {@code true} if the action was attached and will run on the first signal;
   *     {@code false} if the trigger is already signalled (the action will never run: resume
   *     the fiber yourself)
   * @throws IllegalStateException if an action is already attached
   * @throws NullPointerException if {@code action} is null
   */
  boolean onSignal(Runnable action) {
    Objects.requireNonNull(action, "action");
    if (STATE.compareAndSet(this, null, action)) {
      return true;
    }
    if (state == SIGNALED) {
      return false;
    }
    throw alreadyAwaiting();
  }

  /** Whether {@code action} is attached and has not run: the awaiter is suspended on it. */
  boolean awaitsWith(Runnable action) {
    return state == action;
  }

  /**
   * Scheduler side ({@code Handler.dispose}): moves an initial trigger to signalled without running anything, so that a
   * fiber resumed without a signal (because it was cancelled) leaves a signalled trigger behind.
   * Does nothing on a signalled trigger.
   *
   * @throws IllegalStateException if an action is attached
   */
  void dispose() {
    if (!STATE.compareAndSet(this, null, SIGNALED) && state != SIGNALED) {
      throw new IllegalStateException("Trigger.dispose: an action is attached; use signal()");
    }
  }

  /**
   * Suspends the current fiber until the trigger is signalled, or until the fiber is cancelled.
   * Only the trigger's owner may await it, once. An already signalled trigger returns
   * {@code null} at once, without suspending and without checking cancellation (but, outside a
   * fiber, after the {@linkplain BlockingGuards blocking guards}: a thread that must not block is
   * refused whether or not the trigger is signalled).
   *
   * <p>Outside any scheduler the calling thread (platform or virtual) blocks instead; that is a
   * deliberate difference from OCaml Picos, which raises there, so that every library written
   * on these triggers also works on plain threads.
   *
   * @return {@code null} when signalled; the cancellation cause when the fiber was cancelled
   *     while waiting (the caller cleans up and rethrows it)
   * @throws IllegalStateException if the trigger is already awaited, or the fiber cannot suspend
   *     because it is pinned to its carrier thread (the message says why and what to do), or a
   *     plain thread may not block here (for example an event-loop thread)
   */
  public Throwable await() {
    Object s = state;
    if (s == SIGNALED) {
      BlockingGuards.check(); // a refused thread is refused whatever the state
      return null;
    }
    if (s != null) {
      throw alreadyAwaiting();
    }
    Fiber fiber = Fiber.current();
    if (FiberEvents.Suspended.enabled()) {
      return awaitRecorded(fiber);
    }
    fiber.beginAwait(this);
    try {
      return fiber.handler.await(fiber, this);
    } finally {
      fiber.endAwait();
    }
  }

  /**
   * {@link #await()} while a recording enables the {@code FiberSuspended} event. Kept out of
   * {@code await()} because a suspended fiber's stack chunk holds the compiled frame it
   * suspended in: without the event's local and its second {@code finally} path that frame is
   * smaller (24 to 32 bytes less per suspended fiber, measured with heap histograms).
   */
  private Throwable awaitRecorded(Fiber fiber) {
    fiber.beginAwait(this);
    FiberEvents.Suspended event = FiberEvents.Suspended.beginIfEnabled();
    try {
      return fiber.handler.await(fiber, this);
    } finally {
      fiber.endAwait();
      if (event != null) {
        event.end(fiber, waitFor);
      }
    }
  }

  /**
   * Awaits this trigger like {@link #await()}, for code that registered it somewhere (a waiter
   * queue, a listener on a foreign future) and must take it back when the wait does not end with
   * the signal. Returns normally when the trigger was signalled. Otherwise — the fiber was
   * cancelled while waiting, or the wait was refused (a pinned fiber, a thread that must not
   * block) — runs {@code abandon} (withdraw the registration, cancel the foreign operation, pass
   * on what the signal may have handed over) and then throws: the cancellation cause (unchecked
   * as is, checked wrapped in a {@link java.util.concurrent.CompletionException}) or the refusal.
   * A failure of {@code abandon} is added to the thrown exception as suppressed.
   *
   * @throws RuntimeException the fiber's cancellation cause, after {@code abandon}
   * @throws IllegalStateException if the trigger is already awaited, or the wait was refused
   *     (see {@link #await()}), after {@code abandon}
   * @throws NullPointerException if {@code abandon} is null
   */
  public void awaitOrAbandon(Runnable abandon) {
    Objects.requireNonNull(abandon, "abandon");
    awaitOrWithdraw(() -> {
      abandon.run();
      return true;
    });
  }

  /**
   * Awaits this trigger like {@link #awaitOrAbandon}, for a registration that a signaller may
   * claim at the same moment the wait ends without the signal: a waiter queue whose matching side
   * hands an element over by claiming the waiter first. When the fiber was cancelled while
   * waiting, or the wait was refused, {@code withdraw} runs and says who won: {@code true} — it
   * withdrew the registration, nothing was handed over, and this method throws as
   * {@link #awaitOrAbandon} does; {@code false} — the signaller claimed the registration first,
   * what it hands over stands (it must not be dropped), and this method returns normally, as if
   * signalled: a pending cancellation is then seen at the fiber's next cancellation point.
   *
   * @param withdraw takes the registration back if it still can; a failure of it is added to the
   *     thrown exception as suppressed, and counts as withdrawn
   * @throws RuntimeException the fiber's cancellation cause, after a successful {@code withdraw}
   * @throws IllegalStateException if the trigger is already awaited, or the wait was refused
   *     (see {@link #await()}), after a successful {@code withdraw}
   * @throws NullPointerException if {@code withdraw} is null
   */
  public void awaitOrWithdraw(BooleanSupplier withdraw) {
    Objects.requireNonNull(withdraw, "withdraw");
    Throwable thrown;
    try {
      Throwable cause = await();
      if (cause == null) {
        return;
      }
      thrown = Computation.unchecked(cause);
    } catch (RuntimeException | Error refused) {
      thrown = refused;
    }
    boolean withdrawn;
    try {
      withdrawn = withdraw.getAsBoolean();
    } catch (Throwable failure) {
      if (failure != thrown) {
        thrown.addSuppressed(failure);
      }
      withdrawn = true;
    }
    if (!withdrawn) {
      return;
    }
    if (thrown instanceof Error error) {
      throw error;
    }
    throw (RuntimeException) thrown;
  }

  private static IllegalStateException alreadyAwaiting() {
    return new IllegalStateException(
        "Trigger is already awaited: a trigger is awaited once, by its owner; create a new one");
  }

  @Override
  public String toString() {
    Object s = state;
    return "Trigger[" + (s == null ? "initial" : s == SIGNALED ? "signaled" : "awaiting") + "]";
  }
}
