package org.picos.bridge.reactor;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Operators;

/**
 * The {@code Flux} of {@link PicosReactor#flux}: cold, one fiber per subscription, whose body
 * emits through a {@link FluxEmitter} that suspends without demand.
 *
 * <h2>Design</h2>
 * Every subscriber signal comes from the producing fiber: {@code onNext} from {@code emit}, and
 * the terminal signal from the fiber after the body has ended. Signals are therefore serial
 * without any lock or queue, and backpressure is exact: {@code emit} delivers only against
 * outstanding demand and otherwise suspends the fiber on a {@link Trigger} that the next
 * {@code request} signals. {@code request} and {@code cancel} come from any thread and only
 * change state, cancel the fiber's computation and signal the trigger; they never call the
 * subscriber, with one exception: a fiber that cannot be started (closed scheduler) is reported
 * from {@code subscribe} itself, before any other signal exists.
 */
final class FiberFlux<T> extends Flux<T> {
  private final Scheduler scheduler;
  private final PicosReactor.FluxBody<T> body;

  /** {@code scheduler} null: the subscribing fiber's scheduler, or the shared one. */
  FiberFlux(Scheduler scheduler, PicosReactor.FluxBody<T> body) {
    this.scheduler = scheduler;
    this.body = body;
  }

  @Override
  public void subscribe(CoreSubscriber<? super T> actual) {
    Objects.requireNonNull(actual, "subscriber");
    Production<T> production = new Production<>(actual, body);
    actual.onSubscribe(production);
    production.start(scheduler);
  }

  /**
   * One subscription: the subscription the subscriber sees and the emitter the body sees.
   *
   * <h2>State machine</h2>
   * {@code state} (one CAS cell):
   * <pre>
   *   ACTIVE (null)  --cancel()---------------> Canceled(cause)
   *   ACTIVE         --request(n &lt;= 0)-------> BadRequest(error, cause)
   *   BadRequest     --cancel()---------------> Canceled(cause)
   *   ACTIVE         --body ends (fiber)------> DONE   fiber sends onComplete / onError(failure)
   *   BadRequest     --body ends (fiber)------> DONE   fiber sends onError(IllegalArgument...)
   *   Canceled       --body ends (fiber)------> stays  nothing sent; a failure other than the
   *                                                    cancellation goes to onErrorDropped
   * </pre>
   * A value {@code emit} does not deliver because the state is no longer ACTIVE (or because the
   * fiber was cancelled while it waited for demand) goes to the discard hook
   * ({@link Operators#onDiscard}) before {@code emit} throws; one it delivers is the
   * subscriber's, even if a cancel races with the delivery. So every emitted value reaches
   * exactly one of the two.
   * Entering Canceled or BadRequest cancels the fiber's computation with {@code cause} (a
   * {@link CancellationException}; it wakes the fiber wherever it awaits) and signals the
   * waiter. DONE and Canceled are final.
   *
   * <p>{@code demand}: requested minus emitted. {@code request(n > 0)} adds n, capped at
   * {@link Long#MAX_VALUE}, which means unbounded and is never decremented; only {@code emit}
   * (the fiber) decrements, before calling {@code onNext}.
   *
   * <p>{@code waiter}: the trigger {@code emit} suspends on when demand is zero. The fiber
   * publishes it and then re-reads demand and state; {@code request} and {@code cancel} write
   * demand or state and then read the waiter. All three fields are volatile, so at least one side
   * sees the other's write: no lost wake-up. Signalling a stale trigger is harmless.
   *
   * <p>{@code computation}: the fiber's computation, published once the fiber is started; the
   * same write-then-read pattern with {@code state} makes a cancel that races with the start
   * reach the fiber.
   */
  static final class Production<T> implements Subscription, FluxEmitter<T> {
    private static final Object DONE = new Object();
    private static final VarHandle STATE;
    private static final VarHandle DEMAND;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        STATE = l.findVarHandle(Production.class, "state", Object.class);
        DEMAND = l.findVarHandle(Production.class, "demand", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private record Canceled(CancellationException cause) {}

    private record BadRequest(IllegalArgumentException error, CancellationException cause) {}

    private final CoreSubscriber<? super T> actual;
    private final PicosReactor.FluxBody<T> body;
    /** null (ACTIVE), {@link Canceled}, {@link BadRequest} or {@link #DONE}. */
    private volatile Object state;
    private volatile long demand;
    private volatile Trigger waiter;
    private volatile Computation<?> computation;
    /** The fiber running the body; written by it before the body starts. */
    private volatile Fiber producer;

    Production(CoreSubscriber<? super T> actual, PicosReactor.FluxBody<T> body) {
      this.actual = actual;
      this.body = body;
    }

    /** Starts the fiber, unless the subscriber cancelled in onSubscribe. */
    void start(Scheduler scheduler) {
      if (state instanceof Canceled) {
        return;
      }
      Computation<Void> c;
      try {
        c = ReactorThreadLocals.start(scheduler, actual.currentContext(), this::produce);
      } catch (Throwable notStarted) {
        // No fiber exists, so this thread may signal: it is the only one.
        terminate(notStarted, null);
        return;
      }
      computation = c;
      Object s = state;
      if (s instanceof Canceled k) {
        c.tryCancel(k.cause);
      } else if (s instanceof BadRequest b) {
        c.tryCancel(b.cause);
      }
    }

    /** The fiber's main. */
    private Void produce() {
      Fiber self = Fiber.current();
      producer = self;
      PicosReactor.CONTEXT.set(actual.currentContext());
      Throwable failure = null;
      if (state == null) {
        try {
          body.produce(this);
        } catch (Throwable t) {
          failure = t;
        }
      }
      terminate(failure, self.computation());
      return null;
    }

    /**
     * Sends the terminal signal the state calls for; see the state machine. {@code fiberToken}
     * is the producing fiber's computation (null if none was started).
     */
    private void terminate(Throwable failure, Computation<?> fiberToken) {
      for (;;) {
        Object s = state;
        if (s == null) {
          if (STATE.compareAndSet(this, null, DONE)) {
            if (failure == null) {
              actual.onComplete();
            } else {
              actual.onError(failure);
            }
            return;
          }
        } else if (s instanceof BadRequest b) {
          if (STATE.compareAndSet(this, s, DONE)) {
            dropUnlessCancellation(failure, b.cause, fiberToken);
            actual.onError(b.error);
            return;
          }
        } else if (s instanceof Canceled k) {
          dropUnlessCancellation(failure, k.cause, fiberToken);
          return;
        } else {
          return;
        }
      }
    }

    /**
     * A failure nobody can receive any more goes to Reactor's dropped-error hook, unless it is
     * just the cancellation unwinding the body (the subscriber's, or whatever cancelled the
     * fiber's computation), or a failure caused by it, as for {@link PicosReactor#mono}.
     */
    private void dropUnlessCancellation(
        Throwable failure, CancellationException cause, Computation<?> fiberToken) {
      if (failure == null || failure == cause || failure.getCause() == cause) {
        return;
      }
      if (fiberToken != null && PicosReactor.isCancellationOf(fiberToken, failure)) {
        return;
      }
      Operators.onErrorDropped(failure, actual.currentContext());
    }

    @Override
    public void emit(T value) {
      Objects.requireNonNull(value, "emit: Reactive Streams forbids null elements (rule 2.13)");
      if (Fiber.current() != producer) {
        throw new IllegalStateException("FluxEmitter.emit must be called from the fiber running the"
            + " flux body; to produce from other fibers, hand their values to the body's fiber"
            + " (for example through a channel)");
      }
      for (;;) {
        Object s = state;
        if (s != null) {
          Operators.onDiscard(value, actual.currentContext());
          throw stopped(s);
        }
        long d = demand;
        if (d > 0) {
          if (d == Long.MAX_VALUE || DEMAND.compareAndSet(this, d, d - 1)) {
            actual.onNext(value);
            return;
          }
          continue;
        }
        Trigger t = Trigger.create();
        waiter = t;
        if (demand > 0 || state != null) {
          waiter = null;
          continue;
        }
        Throwable cause;
        try {
          cause = t.await();
        } finally {
          waiter = null;
        }
        if (cause != null) {
          Operators.onDiscard(value, actual.currentContext());
          throw Computation.unchecked(cause);
        }
      }
    }

    private static RuntimeException stopped(Object s) {
      if (s instanceof Canceled k) {
        return k.cause;
      }
      if (s instanceof BadRequest b) {
        return b.cause;
      }
      return new IllegalStateException("FluxEmitter.emit: this Flux has already completed");
    }

    @Override
    public boolean isCanceled() {
      Object s = state;
      return s instanceof Canceled || s instanceof BadRequest;
    }

    @Override
    public void request(long n) {
      if (n <= 0) {
        badRequest(n);
        return;
      }
      for (;;) {
        long d = demand;
        if (d == Long.MAX_VALUE) {
          break;
        }
        long next = d + n;
        if (next < 0) {
          next = Long.MAX_VALUE;
        }
        if (DEMAND.compareAndSet(this, d, next)) {
          break;
        }
      }
      Trigger t = waiter;
      if (t != null) {
        t.signal();
      }
    }

    private void badRequest(long n) {
      BadRequest b = new BadRequest(
          new IllegalArgumentException(
              "Reactive Streams rule 3.9: request(n) needs n > 0, was " + n),
          new CancellationException("The Flux subscriber requested " + n
              + " elements (rule 3.9); the Flux ends with an IllegalArgumentException"));
      if (STATE.compareAndSet(this, null, b)) {
        wake(b.cause);
      }
    }

    @Override
    public void cancel() {
      Canceled k = null;
      for (;;) {
        Object s = state;
        if (s == DONE || s instanceof Canceled) {
          return;
        }
        if (k == null) {
          k = new Canceled(
              new CancellationException("The Flux subscriber cancelled its subscription"));
        }
        if (STATE.compareAndSet(this, s, k)) {
          wake(k.cause);
          return;
        }
      }
    }

    private void wake(CancellationException cause) {
      Computation<?> c = computation;
      if (c != null) {
        c.tryCancel(cause);
      }
      Trigger t = waiter;
      if (t != null) {
        t.signal();
      }
    }
  }
}
