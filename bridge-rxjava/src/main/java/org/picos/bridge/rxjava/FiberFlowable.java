package org.picos.bridge.rxjava;

import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * The Flowable of {@link PicosRx#flowable}: each subscription runs the body in a fiber of its
 * own, which emits through the subscription itself ({@link Emission}, both the
 * {@link Subscription} handed to the subscriber and the {@link FiberEmitter} handed to the body).
 *
 * <h2>Design</h2>
 * The body's fiber is the only thread that ever signals the subscriber ({@code onNext},
 * {@code onComplete}, {@code onError}), so signals are serial (rule 1.3) without any lock or
 * queue. The subscriber's thread only moves numbers and wakes the fiber: {@code request(n)}
 * raises the demand and signals the trigger the fiber parked on; {@code cancel()} cancels the
 * fiber's token, which wakes it wherever it awaits. Even an invalid {@code request(n <= 0)} does
 * not signal from the subscriber's thread: it cancels the body with the
 * {@link IllegalArgumentException}, and the fiber delivers it as {@code onError} once the body
 * has unwound (rule 3.9). {@code request} never runs the body, so a request from inside
 * {@code onNext} cannot recurse (rule 3.3).
 */
final class FiberFlowable<T> extends Flowable<T> {
  private final Scheduler scheduler;
  private final FiberEmitter.Body<T> body;

  FiberFlowable(Scheduler scheduler, FiberEmitter.Body<T> body) {
    this.scheduler = scheduler;
    this.body = body;
  }

  @Override
  protected void subscribeActual(Subscriber<? super T> subscriber) {
    Emission<T> emission = new Emission<>(subscriber, body);
    subscriber.onSubscribe(emission);
    if (emission.requested == Emission.TERMINATED) {
      return;
    }
    try {
      PicosRx.launch(scheduler, emission.token, emission::produce);
    } catch (Throwable notStarted) {
      emission.finish(notStarted);
    }
  }

  /**
   * One subscription.
   *
   * <h2>State machine</h2>
   * {@code requested} holds the outstanding demand, or {@code TERMINATED}:
   * <pre>
   *   d          --request(n), n &gt; 0--> min(d + n, UNBOUNDED)   then signal 'parked' (if any)
   *   d &gt; 0      --emit (fiber)-------> d - 1, then onNext       (UNBOUNDED is never decremented)
   *   0          --emit (fiber)-------> 0: the fiber parks: publishes a fresh trigger in
   *                                     'parked', re-reads 'requested' and the token, awaits
   *   any        --cancel()-----------> TERMINATED: the first cancel() records its cause, swaps
   *                                     in TERMINATED, drops the subscriber, then cancels the
   *                                     token with that cause (waking the fiber wherever it
   *                                     awaits); emit then throws that same cause, so the body
   *                                     unwinds with it and it is recognised as no error
   *   any        --body ends (fiber)--> TERMINATED; whoever swaps TERMINATED in first wins, and
   *                                     only the fiber as winner signals onComplete/onError
   *   TERMINATED: request and cancel are no-ops; emit throws
   * </pre>
   * {@code request(n <= 0)} leaves the demand alone: it records the violation and cancels the
   * token with it; the body unwinds and the fiber, winning the swap, signals
   * {@code onError(violation)}.
   *
   * <p>No lost wake-up: the fiber writes {@code parked} and then reads {@code requested}; a
   * requester writes {@code requested} and then reads {@code parked}. All four accesses are
   * volatile, so either the fiber sees the new demand (and does not await) or the requester
   * sees the trigger (and signals it). Cancellation needs no such care: the parked trigger is
   * attached to the token by the core, so cancelling the token signals it; {@code cancel()}
   * signals {@code parked} as well for a body that forbids cancellation.
   */
  static final class Emission<T> implements Subscription, FiberEmitter<T> {
    static final long TERMINATED = Long.MIN_VALUE;
    static final long UNBOUNDED = Long.MAX_VALUE;
    private static final VarHandle REQUESTED;
    private static final VarHandle VIOLATION;
    private static final VarHandle CANCEL_CAUSE;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        REQUESTED = l.findVarHandle(Emission.class, "requested", long.class);
        VIOLATION = l.findVarHandle(Emission.class, "violation", IllegalArgumentException.class);
        CANCEL_CAUSE = l.findVarHandle(Emission.class, "cancelCause", CancellationException.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** The fiber's cancellation token: cancelled by {@link #cancel()} and by rule 3.9. */
    final Computation<Void> token = Computation.create();
    private final FiberEmitter.Body<T> body;
    volatile long requested;
    /** Nulled on cancel and termination, so a cancelled subscriber is not retained (3.13). */
    private volatile Subscriber<? super T> downstream;
    private volatile Trigger parked;
    private volatile IllegalArgumentException violation;
    /** Set once, by the first cancel(), before it swaps in TERMINATED. */
    private volatile CancellationException cancelCause;
    /** Whether the body has returned; fiber only. */
    private boolean ended;
    /** Items emitted since the fiber last suspended; fiber only. */
    private int sinceSuspend;

    Emission(Subscriber<? super T> downstream, FiberEmitter.Body<T> body) {
      this.downstream = downstream;
      this.body = body;
    }

    // -------------------------------------------------------------------------------------
    // Subscription: any thread

    @Override
    public void request(long n) {
      if (n <= 0) {
        if (requested != TERMINATED) {
          IllegalArgumentException v = new IllegalArgumentException("Reactive Streams rule 3.9:"
              + " request(" + n + ") must ask for a positive number of items; the stream is"
              + " cancelled");
          if (VIOLATION.compareAndSet(this, null, v)) {
            token.tryCancel(v);
            wake();
          }
        }
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
      CancellationException cause = PicosRx.disposed("Flowable");
      if (!CANCEL_CAUSE.compareAndSet(this, null, cause)) {
        return;
      }
      if ((long) REQUESTED.getAndSet(this, TERMINATED) != TERMINATED) {
        downstream = null;
      }
      token.tryCancel(cause);
      wake();
    }

    private void wake() {
      Trigger t = parked;
      if (t != null) {
        t.signal();
      }
    }

    @Override
    public boolean isCancelled() {
      return token.isCanceled();
    }

    // -------------------------------------------------------------------------------------
    // The body's side: its fiber only

    /** The fiber's main: runs the body, then terminates the stream. */
    void produce() {
      Throwable failure = null;
      try {
        body.run(this);
      } catch (Throwable t) {
        failure = t;
      }
      ended = true;
      finish(failure);
    }

    /** Ends the stream with {@code failure} (null: completed), unless cancelled first. */
    void finish(Throwable failure) {
      IllegalArgumentException v = violation;
      if (v != null) {
        failure = v;
      }
      if ((long) REQUESTED.getAndSet(this, TERMINATED) == TERMINATED) {
        if (failure != null) {
          CancellationException cause = cancelCause;
          PicosRx.undeliverable(cause != null ? cause : token.canceled(), failure);
        }
        return;
      }
      Subscriber<? super T> s = downstream;
      downstream = null;
      try {
        if (failure == null) {
          s.onComplete();
        } else {
          s.onError(failure);
        }
      } catch (Throwable subscriberFailure) {
        RxJavaPlugins.onError(subscriberFailure);
      }
    }

    @Override
    public void emit(T item) {
      Objects.requireNonNull(item, PicosRx.NULL_ITEM);
      for (;;) {
        long r = requested;
        if (r == TERMINATED) {
          CancellationException cause = cancelCause;
          if (cause == null || ended) {
            throw new IllegalStateException(PicosRx.EMIT_AFTER_END);
          }
          throw cause;
        }
        PicosRx.throwIfCanceled(token);
        if (r == 0) {
          park();
          continue;
        }
        if (r != UNBOUNDED && !REQUESTED.compareAndSet(this, r, r - 1)) {
          continue;
        }
        Subscriber<? super T> s = downstream;
        if (s == null) {
          continue; // cancelled after the demand was taken: the next round throws
        }
        s.onNext(item);
        if (++sinceSuspend == PicosRx.YIELD_EVERY) {
          sinceSuspend = 0;
          Fiber.yield();
        }
        return;
      }
    }

    /** Suspends the fiber until the demand is raised, or throws its cancellation cause. */
    private void park() {
      sinceSuspend = 0;
      Trigger t = Trigger.create();
      parked = t;
      Throwable cause = null;
      try {
        if (requested == 0 && token.isRunning()) {
          cause = t.await();
        }
      } finally {
        parked = null;
      }
      if (cause != null) {
        throw Computation.unchecked(cause);
      }
    }

    @Override
    public String toString() {
      long r = requested;
      return "PicosRx.flowable subscription[" + (r == TERMINATED ? "terminated"
          : r == UNBOUNDED ? "unbounded demand" : "demand " + r) + "]";
    }
  }
}
