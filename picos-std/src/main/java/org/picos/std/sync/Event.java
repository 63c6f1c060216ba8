package org.picos.std.sync;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Support;

/**
 * A first-class synchronous operation, in the style of Concurrent ML and Picos' event: a value
 * describing something to wait for, which happens only when a fiber {@linkplain #sync() syncs}
 * on it. Combine events with {@link #choose} (or sync on a choice at once with {@link #select}),
 * transform their results with {@link #map}, and build them from channel operations
 * ({@link Channel#sendEvent}, {@link Channel#receiveEvent}), computations
 * ({@link #fromComputation}), timeouts ({@link #after}), constants ({@link #always},
 * {@link #never}) or code run at sync time ({@link #guard}).
 *
 * <h2>Sync</h2>
 * {@code sync} offers every primitive event of the choice, in list order, to its source,
 * stopping as soon as one commits; if none committed at once, the fiber waits until one does.
 * Exactly one commits, through a single commit point shared by all offers (a channel exchange
 * commits the partner's wait in the same step); the others are then withdrawn before
 * {@code sync} returns. The functions given to {@code map} run afterwards, in the syncing
 * fiber, and what they throw escapes {@code sync}.
 *
 * <h2>Cancellation</h2>
 * {@code sync} is a cancellation point, and cancellation is ordinary control flow there: it
 * never loses a result.
 * <ul>
 *   <li>A fiber already cancelled when it calls {@code sync} throws its cause at once, having
 *       offered nothing (an element waiting in a channel buffer stays there).</li>
 *   <li>Offering is not a cancellation point ({@link #after} arms its timer without checking),
 *       so a cancellation that arrives while the offers are made is seen by the wait that
 *       follows.</li>
 *   <li>A fiber cancelled while it waits withdraws every offer and throws the cause, unless an
 *       event committed first: then the committed result is returned (a received element is
 *       never dropped, a send never half-happens) and the cancellation is seen at the next
 *       cancellation point.</li>
 *   <li>An exception thrown while offering (by a {@code guard} supplier) withdraws the offers
 *       and escapes {@code sync} if nothing had committed yet. If an earlier offer of the same
 *       sync had already committed (another fiber took its element, say), that result is
 *       returned instead, and the exception, which nobody can receive any more, goes to the
 *       thread's uncaught-exception handler; the fiber's own cancellation cause is not
 *       reported that way: it stays pending for the next cancellation point.</li>
 * </ul>
 *
 * <p>Events are immutable and may be synced any number of times, by any fibers.
 *
 * @param <T> the type of the result
 */
public abstract class Event<T> {
  private static final String SELECT = "Event.sync (a select over its offers)";

  /** One sync in progress: its fiber, its commit point and how to withdraw its offers. */
  static final class Sync {
    final Fiber fiber;
    final Pick pick = new Pick(SELECT);
    private List<Runnable> withdrawals;

    Sync(Fiber fiber) {
      this.fiber = fiber;
    }

    /** Registers the undoing of an offer, run when the sync ends. */
    void onWithdraw(Runnable withdrawal) {
      if (withdrawals == null) {
        withdrawals = new ArrayList<>(4);
      }
      withdrawals.add(withdrawal);
    }

    void withdrawAll() {
      if (withdrawals != null) {
        for (Runnable w : withdrawals) {
          w.run();
        }
        withdrawals = null;
      }
    }
  }

  Event() {}

  /**
   * Offers this event within {@code sync}: commits {@code sync.pick} now if possible (with
   * {@code finish} composed after this event's own result), otherwise registers an offer and its
   * withdrawal. Must tolerate a pick already done, and must not be a cancellation point: an
   * earlier offer of the same sync may have committed already, and throwing would lose it.
   */
  abstract void issue(Sync sync, Function<Object, Object> finish);

  /**
   * Waits for this event to commit and returns its result. See the class comment for
   * cancellation.
   *
   * @throws RuntimeException what the committed event throws (a poisoned or cancelled source, a
   *     closed channel, a {@code map} function); the caller's cancellation cause if it was
   *     cancelled on entry, or while waiting before anything committed; what a {@code guard}
   *     supplier threw before anything committed
   * @throws IllegalStateException if the caller cannot suspend here (see {@link Trigger#await()})
   */
  @SuppressWarnings("unchecked")
  public final T sync() {
    BlockingGuards.check();
    Fiber fiber = Fiber.current();
    Throwable canceled = fiber.canceled();
    if (canceled != null) {
      throw Computation.unchecked(canceled);
    }
    Sync sync = new Sync(fiber);
    Pick pick = sync.pick;
    try {
      issue(sync, null);
    } catch (RuntimeException | Error e) {
      if (pick.claim()) {
        pick.publish(null, null);
        sync.withdrawAll();
        throw e;
      }
      // An offer made before the failure has committed: its result must not be lost.
      sync.withdrawAll();
      if (!fiber.computation().isCancellation(e)) {
        Support.reportUncaught(e);
      }
      return (T) pick.result();
    }
    if (!pick.isDone()) {
      pick.trigger.awaitOrWithdraw(() -> {
        if (!pick.claim()) {
          return false; // an offer committed meanwhile: its result stands
        }
        pick.publish(null, null);
        sync.withdrawAll();
        return true;
      });
    }
    sync.withdrawAll();
    return (T) pick.result();
  }

  /**
   * An event whose result is {@code f} applied to this event's result. {@code f} runs in the
   * syncing fiber after the commit (Picos' {@code map}/{@code wrap}).
   */
  public final <R> Event<R> map(Function<? super T, ? extends R> f) {
    Objects.requireNonNull(f, "f");
    Event<T> self = this;
    @SuppressWarnings("unchecked")
    Function<Object, Object> g = (Function<Object, Object>) f;
    return new Event<>() {
      @Override
      void issue(Sync sync, Function<Object, Object> finish) {
        self.issue(sync, Pick.then(g, finish));
      }
    };
  }

  /** An event that commits at once with {@code value}. In a choice, the first one wins. */
  public static <T> Event<T> always(T value) {
    return new Event<>() {
      @Override
      void issue(Sync sync, Function<Object, Object> finish) {
        if (sync.pick.claim()) {
          sync.pick.publish(finish, value);
        }
      }
    };
  }

  private static final Event<Object> NEVER = new Event<>() {
    @Override
    void issue(Sync sync, Function<Object, Object> finish) {}
  };

  /** An event that never commits: syncing on it alone waits until the fiber is cancelled. */
  @SuppressWarnings("unchecked")
  public static <T> Event<T> never() {
    return (Event<T>) NEVER;
  }

  /**
   * The choice of {@code events}: commits with the first of them to commit. Offered in list
   * order; an empty choice never commits.
   */
  @SafeVarargs
  public static <T> Event<T> choose(Event<? extends T>... events) {
    return choose(List.of(events));
  }

  /** The choice of {@code events}; see {@link #choose(Event[])}. */
  public static <T> Event<T> choose(List<? extends Event<? extends T>> events) {
    List<? extends Event<? extends T>> all = List.copyOf(events);
    return new Event<>() {
      @Override
      void issue(Sync sync, Function<Object, Object> finish) {
        for (Event<? extends T> e : all) {
          if (sync.pick.isDone()) {
            return;
          }
          e.issue(sync, finish);
        }
      }
    };
  }

  /**
   * Syncs on the choice of {@code events}: waits for the first to commit and returns its result.
   * Same as {@code choose(events).sync()}; see {@link #sync()} for what it throws.
   */
  @SafeVarargs
  public static <T> T select(Event<? extends T>... events) {
    return Event.<T>choose(events).sync();
  }

  /** Syncs on the choice of {@code events}; see {@link #select(Event[])}. */
  public static <T> T select(List<? extends Event<? extends T>> events) {
    return Event.<T>choose(events).sync();
  }

  /**
   * An event built at each sync by {@code supplier}, called in the syncing fiber when the event
   * is offered. What the supplier throws escapes {@code sync}, unless an offer made before it
   * has committed (see the class comment). Keep suppliers short and free of cancellation
   * points: the offers made before them are already out.
   */
  public static <T> Event<T> guard(Supplier<? extends Event<? extends T>> supplier) {
    Objects.requireNonNull(supplier, "supplier");
    return new Event<>() {
      @Override
      void issue(Sync sync, Function<Object, Object> finish) {
        supplier.get().issue(sync, finish);
      }
    };
  }

  /**
   * An event that commits when {@code computation} completes: its result is the computation's
   * value, or syncing throws its cancellation cause. Losing a choice does not cancel the
   * computation.
   */
  public static <T> Event<T> fromComputation(Computation<? extends T> computation) {
    Objects.requireNonNull(computation, "computation");
    Function<Object, Object> value = ignored -> computation.resultNow();
    return new Event<>() {
      @Override
      void issue(Sync sync, Function<Object, Object> finish) {
        Function<Object, Object> f = Pick.then(value, finish);
        Trigger trigger = computation.whenDone(() -> sync.pick.fire(f, null));
        if (!trigger.isSignaled()) {
          sync.onWithdraw(() -> computation.detach(trigger));
        }
      }
    };
  }

  /**
   * An event that commits with {@code null} once {@code delay} has passed since it was offered
   * (when the sync began), measured by the syncing fiber's scheduler's timer. Withdrawing it
   * disarms the timer. Arming the timer is not a cancellation point.
   *
   * @throws IllegalArgumentException if {@code delay} is negative, or too long for a timer (it
   *     must fit in a {@code long} of nanoseconds, about 292 years)
   */
  public static Event<Void> after(Duration delay) {
    Objects.requireNonNull(delay, "delay");
    if (delay.isNegative()) {
      throw new IllegalArgumentException("Event.after: delay must not be negative, was " + delay);
    }
    try {
      delay.toNanos();
    } catch (ArithmeticException tooLong) {
      throw new IllegalArgumentException("Event.after: delay " + delay
          + " is too long for a timer; it must fit in a long of nanoseconds (about 292 years)");
    }
    return new Event<>() {
      @Override
      void issue(Sync sync, Function<Object, Object> finish) {
        if (sync.pick.isDone()) {
          return;
        }
        Computation<Void> timer = Computation.create();
        sync.onWithdraw(() -> timer.tryReturn(null));
        timer.whenDone(() -> {
          if (timer.isCanceled()) {
            sync.pick.fire(finish, null);
          }
        });
        // Computation.cancelAfter is a cancellation point; an earlier offer of this sync may
        // have committed, so arm with cancellation forbidden (the wait sees the cancellation).
        boolean forbade = sync.fiber.exchangeForbid(true);
        try {
          timer.cancelAfter(delay, ELAPSED);
        } finally {
          sync.fiber.exchangeForbid(forbade);
        }
      }
    };
  }

  /** The cause a timer of {@link #after} completes with; never escapes. */
  private static final RuntimeException ELAPSED = new RuntimeException("Event.after: elapsed", null, false, false) {
    private static final long serialVersionUID = 1L;
  };
}
