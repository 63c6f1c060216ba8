package org.picos.reactive;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.picos.sched.Schedulers;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * The publisher of {@link Reactive#publisher}: cold, one fiber per subscription, whose body
 * emits through the subscription itself ({@link Production}: the {@link Subscription} the
 * subscriber sees and the {@link Emitter} the body sees).
 *
 * <p>Design: the body's fiber is the only one that ever signals the subscriber ({@code onNext}
 * from {@link Emitter#next}, the terminal signal after the body has ended), so signals are
 * serial (rule 1.3) without a lock or a queue, and {@code request} never runs the body, so a
 * request from inside {@code onNext} cannot recurse (rule 3.3). The subscriber's thread only
 * moves numbers, cancels the fiber's computation and signals the trigger the fiber parked on.
 * The one exception: a fiber that cannot be started (closed scheduler) is reported from
 * {@code subscribe} itself, before any other signal exists.
 */
final class FiberPublisher<T> implements Publisher<T> {
  private final Scheduler scheduler;
  private final Emitter.Body<T> body;
  private final ReactiveHooks hooks;

  /** {@code scheduler} null: the subscribing fiber's scheduler, or the shared one. */
  FiberPublisher(Scheduler scheduler, Emitter.Body<T> body, ReactiveHooks hooks) {
    this.scheduler = scheduler;
    this.body = body;
    this.hooks = hooks;
  }

  @Override
  public void subscribe(Subscriber<? super T> subscriber) {
    Objects.requireNonNull(subscriber, "subscriber (Reactive Streams rule 1.9)");
    Production<T> production = new Production<>(subscriber, body, hooks);
    subscriber.onSubscribe(production);
    if (production.requested == Production.TERMINATED) {
      return; // cancelled in onSubscribe: no fiber
    }
    try {
      Fiber producer = Fiber.create(false, production.token);
      producer.setScope(production); // a fiber dump names the subscription the fiber serves
      hooks.spawn(scheduler, producer, production::produce, subscriber);
    } catch (Throwable notStarted) {
      production.finish(notStarted); // no fiber exists: this thread is the only signaller
    }
  }

  @Override
  public String toString() {
    return "Reactive.publisher(" + (scheduler == null ? "caller's scheduler" : scheduler) + ")";
  }

  /**
   * One subscription.
   *
   * <pre>
   * 'requested' holds the outstanding demand, or TERMINATED:
   *   d          --request(n), n &gt; 0---&gt; min(d + n, UNBOUNDED), then signal 'parked'
   *   d &gt; 0      --next (fiber)--------&gt; d - 1, then onNext        (UNBOUNDED is never decremented)
   *   0          --next (fiber)--------&gt; parks: publishes a fresh trigger in 'parked', re-reads
   *                                     'requested', 'stop' and the token, then awaits
   *   any        --cancel()------------&gt; TERMINATED, after 'stop' is set and before the token is
   *                                     cancelled (so the woken fiber cannot signal); drops the
   *                                     subscriber
   *   any        --body ends (fiber)---&gt; TERMINATED; only if the fiber swapped it in first, and
   *                                     'stop' is no cancel, does it send onComplete / onError
   *   TERMINATED: request and cancel do nothing; next throws
   *
   * 'stop' (null until the first of these, then final):
   *   null --cancel()-------------&gt; Stop(cause "cancelled", no error)
   *   null --request(n &lt;= 0)------&gt; Stop(cause "rule 3.9", IllegalArgumentException): the demand
   *                                 is left alone; when the body has unwound the fiber ends the
   *                                 stream with onError(that IllegalArgumentException)
   *   Entering a Stop cancels the fiber's computation ('token') with its cause, a
   *   CancellationException, which wakes the fiber wherever it awaits.
   * </pre>
   * An item {@code next} does not deliver goes to {@link ReactiveHooks#discarded} before
   * {@code next} throws; one it hands to {@code onNext} is the subscriber's. A failure of the
   * body nobody can receive goes to {@link ReactiveHooks#dropped}, unless it is the stop's
   * cause or the token's cancellation unwinding ({@link Computation#isCancellation}): the
   * fiber may see the stop before the canceller has cancelled the token.
   *
   * <p>No lost wake-up: the fiber writes {@code parked} and then reads {@code requested} and
   * {@code stop}; a requester writes {@code requested} and then reads {@code parked}; a
   * canceller writes {@code stop}, cancels the token (which signals the trigger the fiber
   * awaits) and signals {@code parked}. All volatile, so one side sees the other.
   */
  static final class Production<T> implements Subscription, Emitter<T> {
    static final long TERMINATED = Long.MIN_VALUE;
    static final long UNBOUNDED = Long.MAX_VALUE;
    private static final VarHandle REQUESTED;
    private static final VarHandle STOP;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        REQUESTED = l.findVarHandle(Production.class, "requested", long.class);
        STOP = l.findVarHandle(Production.class, "stop", Stop.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** Why the producer must stop; {@code error} non-null for a rule 3.9 violation. */
    private record Stop(CancellationException cause, IllegalArgumentException error) {}

    /** The fiber's computation: cancelled by a Stop. */
    final Computation<Void> token = Computation.create();
    private final Emitter.Body<T> body;
    private final ReactiveHooks hooks;
    volatile long requested;
    private volatile Stop stop;
    /** Nulled on cancel and termination, so a cancelled subscriber is not kept (rule 3.13). */
    private volatile Subscriber<? super T> downstream;
    /** The subscriber as the hooks see it; nulled when the stream has ended. */
    private volatile Subscriber<? super T> hookTarget;
    private volatile Trigger parked;
    /** The fiber running the body; written by it before the body starts. */
    private volatile Fiber producer;
    /** Items sent since the fiber last suspended; fiber only. */
    private int sinceSuspend;

    Production(Subscriber<? super T> subscriber, Emitter.Body<T> body, ReactiveHooks hooks) {
      this.downstream = subscriber;
      this.hookTarget = subscriber;
      this.body = body;
      this.hooks = hooks;
    }

    // ---------------------------------------------------------------------------------------
    // Subscription: any thread

    @Override
    public void request(long n) {
      if (n <= 0) {
        stopWith(new Stop(new CancellationException("The subscriber requested " + n
            + " elements, breaking Reactive Streams rule 3.9; the stream ends with an"
            + " IllegalArgumentException"), new IllegalArgumentException(
                "Reactive Streams rule 3.9: request(" + n + ") needs n > 0")));
        return;
      }
      for (;;) {
        long r = requested;
        if (r == TERMINATED || r == UNBOUNDED) {
          return;
        }
        long next = r + n;
        if (next < 0) {
          next = UNBOUNDED;
        }
        if (REQUESTED.compareAndSet(this, r, next)) {
          break;
        }
      }
      wake();
    }

    @Override
    public void cancel() {
      if (requested == TERMINATED) {
        return;
      }
      Stop s = new Stop(new CancellationException("The subscriber cancelled its subscription"), null);
      if (STOP.compareAndSet(this, null, s)) {
        // TERMINATED before the token is cancelled: the woken fiber must not signal.
        REQUESTED.getAndSet(this, TERMINATED);
        downstream = null;
        token.tryCancel(s.cause);
        wake();
      } else if ((long) REQUESTED.getAndSet(this, TERMINATED) != TERMINATED) {
        downstream = null; // after a rule 3.9 stop: no onError after a cancel either
      }
    }

    private void stopWith(Stop s) {
      if (requested != TERMINATED && STOP.compareAndSet(this, null, s)) {
        token.tryCancel(s.cause);
        wake();
      }
    }

    private void wake() {
      Trigger t = parked;
      if (t != null) {
        t.signal();
      }
    }

    @Override
    public boolean isCancelled() {
      return stop != null || token.isCanceled();
    }

    // ---------------------------------------------------------------------------------------
    // The body's side: its fiber only

    /** The fiber's main: runs the body, then ends the stream. */
    void produce() {
      producer = Fiber.current();
      Throwable failure = null;
      try {
        Subscriber<? super T> s = hookTarget;
        if (s != null) {
          hooks.entering(s);
        }
        body.run(this);
      } catch (Throwable t) {
        failure = t;
      }
      finish(failure);
    }

    /** Ends the stream with {@code failure} (null: completed), unless cancelled first. */
    void finish(Throwable failure) {
      Subscriber<? super T> target = hookTarget;
      hookTarget = null;
      Stop s = stop;
      if (s != null && s.error != null) {
        dropUnlessCancellation(failure, target);
        failure = s.error;
      }
      boolean cancelled = s != null && s.error == null; // cancel() sets 'stop' first
      // Read before taking TERMINATED: a cancel() racing in drops the subscriber only after its
      // own swap, so if this swap wins, 'd' was read before anyone could drop it.
      Subscriber<? super T> d = downstream;
      if ((long) REQUESTED.getAndSet(this, TERMINATED) == TERMINATED || cancelled) {
        downstream = null;
        if (s == null || s.error == null) {
          dropUnlessCancellation(failure, target);
        }
        return;
      }
      downstream = null;
      try {
        if (failure == null) {
          d.onComplete();
        } else {
          d.onError(failure);
        }
      } catch (Throwable subscriberFailure) {
        hooks.dropped(subscriberFailure, d); // the subscriber broke rule 2.13
      }
    }

    /** Reports {@code failure} unless it is the stop's cause or the token's cancellation. */
    private void dropUnlessCancellation(Throwable failure, Subscriber<?> target) {
      Stop s = stop;
      boolean stopping = s != null && failure != null
          && (failure == s.cause || failure.getCause() == s.cause);
      if (failure != null && !stopping && !token.isCancellation(failure)) {
        hooks.dropped(failure, target);
      }
    }

    @Override
    public void next(T item) {
      Objects.requireNonNull(item, "Emitter.next: null item; Reactive Streams forbids null"
          + " elements (rule 2.13)");
      if (!Fiber.inFiber() || Fiber.current() != producer || hookTarget == null) {
        throw new IllegalStateException("Emitter.next must be called from the fiber running the"
            + " body, while the body runs; to produce from other fibers or threads, hand their"
            + " items to the body's fiber (for example through a Channel)");
      }
      for (;;) {
        long r = requested;
        Stop s = stop;
        if (s != null) {
          discard(item);
          throw s.cause;
        }
        Throwable cancelled = token.canceled();
        if (cancelled != null) {
          discard(item);
          throw Computation.unchecked(cancelled);
        }
        if (r == 0) {
          park(item);
          continue;
        }
        if (r != UNBOUNDED && !REQUESTED.compareAndSet(this, r, r - 1)) {
          continue;
        }
        Subscriber<? super T> d = downstream;
        if (d == null) {
          continue; // cancelled after the demand was taken: the next round throws
        }
        d.onNext(item);
        if (++sinceSuspend == Reactive.YIELD_EVERY) {
          sinceSuspend = 0;
          Fiber.yield();
        }
        return;
      }
    }

    private void discard(T item) {
      Subscriber<? super T> target = hookTarget;
      hooks.discarded(item, target);
    }

    /** Suspends the fiber until the demand is raised or a stop; throws its cancellation. */
    private void park(T item) {
      sinceSuspend = 0;
      Trigger t = Trigger.create(this); // a fiber dump shows "... subscription[demand 0]"
      parked = t;
      if (requested == 0 && stop == null && token.isRunning()) {
        t.awaitOrAbandon(() -> {
          parked = null;
          discard(item);
        });
      }
      parked = null;
    }

    @Override
    public String toString() {
      long r = requested;
      return "Reactive.publisher subscription[" + (r == TERMINATED ? "terminated"
          : r == UNBOUNDED ? "unbounded demand" : "demand " + r) + "]";
    }
  }
}
