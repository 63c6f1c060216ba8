package org.picos.bridge.reactor;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;

/**
 * The {@code Mono} of {@link PicosReactor#mono}: cold, one fiber per subscription, which runs
 * the body and hands its outcome to the subscription ({@link Run}).
 *
 * <h2>Where each outcome goes</h2>
 * Exactly one place, whatever the timing of the subscriber's cancel:
 * <ul>
 *   <li>decided before the cancel: to the subscriber ({@code onNext} + {@code onComplete},
 *       {@code onComplete}, or {@code onError});</li>
 *   <li>after the cancel (or after another outcome was decided): a value to Reactor's discard
 *       hook ({@link Operators#onDiscard}, set with {@code doOnDiscard}), a failure to
 *       {@code Hooks.onErrorDropped}, except the fiber's own cancellation cause (or a failure
 *       caused by it) unwinding the body, which is no error and goes nowhere.</li>
 * </ul>
 * The fiber's main never throws, so nothing reaches the carrier's uncaught-exception handler.
 */
final class FiberMono<T> extends Mono<T> {
  private final Scheduler scheduler;
  private final Callable<? extends T> body;

  /** {@code scheduler} null: the subscribing fiber's scheduler, or the shared one. */
  FiberMono(Scheduler scheduler, Callable<? extends T> body) {
    this.scheduler = scheduler;
    this.body = body;
  }

  @Override
  public void subscribe(CoreSubscriber<? super T> actual) {
    Objects.requireNonNull(actual, "subscriber");
    Run<T> run = new Run<>(actual);
    actual.onSubscribe(run);
    run.start(scheduler, body);
  }

  /**
   * One subscription.
   *
   * <h2>State machine</h2>
   * {@code state} is a set of flags, changed only by CAS:
   * <pre>
   *   {} or {REQUESTED} --request(n &gt; 0)----&gt; {REQUESTED}
   *   {}               --value (fiber)------&gt; {HAS_VALUE}   value stored before the CAS
   *   {REQUESTED}      --value (fiber)------&gt; DONE  the fiber sends onNext, onComplete
   *   {HAS_VALUE}      --request(n &gt; 0)----&gt; DONE  the requester sends onNext, onComplete
   *   {} or {REQUESTED} --empty / failure--&gt; DONE  the fiber sends onComplete / onError
   *   {} {REQUESTED} {HAS_VALUE} --cancel()-&gt; CANCELLED  the canceller cancels the fiber's
   *                                          computation and discards a stored value
   *   DONE, CANCELLED, {HAS_VALUE} --any later outcome--&gt; the hooks (see the class comment)
   * </pre>
   * DONE and CANCELLED are final; whoever wins the CAS into DONE is the only one to signal
   * the subscriber, so signals are serial. A failure is also an outcome when it is the
   * computation's cancellation by something other than the subscriber (a closing scheduler):
   * {@code start} registers {@code whenDone} to report it at once, so the subscriber hears of
   * the shutdown even while the body is still unwinding.
   *
   * <p>{@code computation} is published after the fiber starts and {@code state} read again;
   * {@code cancel()} writes {@code state} then reads {@code computation}: both volatile, so a
   * cancel racing with the start reaches the fiber.
   */
  static final class Run<T> implements Subscription {
    private static final int REQUESTED = 1;
    private static final int HAS_VALUE = 2;
    private static final int DONE = 4;
    private static final int CANCELLED = 8;
    private static final VarHandle STATE;

    static {
      try {
        STATE = MethodHandles.lookup().findVarHandle(Run.class, "state", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final CoreSubscriber<? super T> actual;
    private volatile int state;
    /** The body's value while it waits for a request; written before the CAS to HAS_VALUE. */
    private T value;
    /** Written by cancel() before its CAS, so whoever sees CANCELLED can use it. */
    private volatile CancellationException cancelCause;
    private volatile Computation<Void> computation;

    Run(CoreSubscriber<? super T> actual) {
      this.actual = actual;
    }

    void start(Scheduler scheduler, Callable<? extends T> body) {
      if ((state & CANCELLED) != 0) {
        return; // cancelled in onSubscribe: no fiber
      }
      Computation<Void> c;
      try {
        c = ReactorThreadLocals.start(scheduler, actual.currentContext(), () -> main(body));
      } catch (Throwable notStarted) {
        failed(notStarted, null);
        return;
      }
      computation = c;
      if ((state & CANCELLED) != 0) {
        c.tryCancel(cancelCause);
      }
      c.whenDone(() -> {
        Throwable cause = c.canceled();
        if (cause != null) {
          failed(cause, c);
        }
      });
    }

    /** The fiber's main; never throws. */
    private Void main(Callable<? extends T> body) {
      PicosReactor.CONTEXT.set(actual.currentContext());
      Computation<?> own = Fiber.current().computation();
      T v;
      try {
        v = body.call();
      } catch (Throwable failure) {
        failed(failure, own);
        return null;
      }
      succeeded(v);
      return null;
    }

    private void succeeded(T v) {
      for (;;) {
        int s = state;
        if ((s & (DONE | CANCELLED | HAS_VALUE)) != 0) {
          if (v != null) {
            Operators.onDiscard(v, actual.currentContext());
          }
          return;
        }
        if (v == null || (s & REQUESTED) != 0) {
          if (STATE.compareAndSet(this, s, DONE)) {
            emit(v);
            return;
          }
        } else {
          value = v;
          if (STATE.compareAndSet(this, s, HAS_VALUE)) {
            return;
          }
          value = null;
        }
      }
    }

    /**
     * A failure of the body, or the computation's cancellation ({@code c} is the fiber's
     * computation; null when no fiber was started).
     */
    private void failed(Throwable failure, Computation<?> c) {
      for (;;) {
        int s = state;
        if ((s & (DONE | CANCELLED | HAS_VALUE)) != 0) {
          if (c == null || !c.isCancellation(failure)) {
            Operators.onErrorDropped(failure, actual.currentContext());
          }
          return;
        }
        if (STATE.compareAndSet(this, s, DONE)) {
          try {
            actual.onError(failure);
          } catch (Throwable subscriberFailure) {
            Operators.onErrorDropped(subscriberFailure, actual.currentContext());
          }
          return;
        }
      }
    }

    /** Sends the value (null: empty) and completion; only the winner of the CAS to DONE. */
    private void emit(T v) {
      try {
        if (v != null) {
          actual.onNext(v);
        }
        actual.onComplete();
      } catch (Throwable subscriberFailure) {
        // The subscriber broke rule 2.13; the signal cannot be taken back.
        Operators.onErrorDropped(subscriberFailure, actual.currentContext());
      }
    }

    @Override
    public void request(long n) {
      if (!Operators.validate(n)) {
        return;
      }
      for (;;) {
        int s = state;
        if ((s & (REQUESTED | DONE | CANCELLED)) != 0) {
          return;
        }
        if ((s & HAS_VALUE) != 0) {
          if (STATE.compareAndSet(this, s, DONE)) {
            T v = value;
            value = null;
            emit(v);
            return;
          }
        } else if (STATE.compareAndSet(this, s, REQUESTED)) {
          return;
        }
      }
    }

    @Override
    public void cancel() {
      CancellationException cause = null;
      for (;;) {
        int s = state;
        if ((s & (DONE | CANCELLED)) != 0) {
          return;
        }
        if (cause == null) {
          cause = new CancellationException("The Mono subscriber cancelled its subscription");
          cancelCause = cause;
        }
        if (STATE.compareAndSet(this, s, CANCELLED)) {
          if ((s & HAS_VALUE) != 0) {
            T v = value;
            value = null;
            Operators.onDiscard(v, actual.currentContext());
          }
          Computation<Void> c = computation;
          if (c != null) {
            c.tryCancel(cause);
          }
          return;
        }
      }
    }
  }
}
