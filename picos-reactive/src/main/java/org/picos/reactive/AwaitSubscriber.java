package org.picos.reactive;

import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicReference;
import org.picos.Computation;
import org.picos.Trigger;
import org.picos.spi.BlockingGuards;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * The subscriber behind the await family of {@link Reactive}: one subscription, whose outcome
 * completes {@code result}.
 *
 * <pre>
 *   mode    requests    on onNext                        on onComplete
 *   FIRST   1           result = value, cancel upstream  result = EMPTY (nothing came)
 *   LAST    unbounded   keep it                          result = last kept, or EMPTY
 *   SINGLE  unbounded   keep it; a second one: result =  result = the one kept, or EMPTY
 *                       IllegalArgumentException, cancel
 * </pre>
 * {@code result} decides once (a CAS inside the computation). Whatever arrives after it is
 * decided (after our cancel, or a broken publisher's extra signals) is ignored, except an
 * error, which goes to {@link ReactiveHooks#dropped} so that it is never lost. The awaiting
 * fiber's cancellation (or a thread refusing to block) cancels the subscription and is thrown.
 * Signals are serial (rule 1.3), so {@code kept} needs no synchronisation.
 */
final class AwaitSubscriber<T> implements Subscriber<T> {
  enum Mode { FIRST, LAST, SINGLE }

  /** The outcome of a publisher that completed without any element. */
  static final Object EMPTY = new Object();

  private final Mode mode;
  private final String verb;
  private final ReactiveHooks hooks;
  private final Computation<Object> result = Computation.create();
  private final AtomicReference<Subscription> upstream = new AtomicReference<>();
  private Object kept = EMPTY;

  private final Publisher<?> publisher;

  private AwaitSubscriber(Publisher<?> publisher, Mode mode, String verb, ReactiveHooks hooks) {
    this.publisher = publisher;
    this.mode = mode;
    this.verb = verb;
    this.hooks = hooks;
  }

  /**
   * Subscribes to {@code publisher} and waits: returns its element or {@link #EMPTY}; throws
   * its error (unchecked as {@link Computation#await()} does), the IllegalArgumentException of a
   * SINGLE that saw two elements, or the awaiting fiber's cancellation cause.
   */
  static Object await(Publisher<?> publisher, Mode mode, String verb, ReactiveHooks hooks) {
    BlockingGuards.check(); // on entry, before subscribing: refused even when the answer is ready
    @SuppressWarnings({"unchecked", "rawtypes"})
    AwaitSubscriber<Object> s = new AwaitSubscriber<>(publisher, mode, verb, hooks);
    @SuppressWarnings("unchecked")
    Publisher<Object> p = (Publisher<Object>) publisher;
    hooks.subscribe(p, s);
    Computation<Object> result = s.result;
    if (result.isRunning()) {
      Trigger trigger = Trigger.create(s); // a fiber dump shows s.toString()
      if (result.tryAttach(trigger)) {
        trigger.awaitOrAbandon(() -> {
          result.detach(trigger);
          s.cancelUpstream();
        });
      }
    }
    return result.resultNow();
  }

  @Override
  public void onSubscribe(Subscription s) {
    if (upstream.compareAndSet(null, s)) {
      s.request(mode == Mode.FIRST ? 1 : Long.MAX_VALUE);
    } else {
      s.cancel(); // rule 2.5, or cancelled before the subscription arrived
    }
  }

  @Override
  public void onNext(T value) {
    if (!result.isRunning()) {
      return;
    }
    if (mode == Mode.FIRST) {
      if (result.tryReturn(value)) {
        cancelUpstream();
      }
    } else if (mode == Mode.SINGLE && kept != EMPTY) {
      if (result.tryCancel(new IllegalArgumentException(verb + ": the publisher emitted more than"
          + " one element; use awaitFirst to take the first one"))) {
        cancelUpstream();
      }
    } else {
      kept = value;
    }
  }

  @Override
  public void onError(Throwable error) {
    if (!result.tryCancel(error)) {
      hooks.dropped(error, this);
    }
  }

  @Override
  public void onComplete() {
    result.tryReturn(kept);
  }

  private void cancelUpstream() {
    Subscription s = upstream.getAndSet(Reactive.CANCELLED);
    if (s != null) {
      s.cancel();
    }
  }

  /** What a fiber dump says an awaiting fiber waits for: {@code awaitSingle on MonoNever}. */
  @Override
  public String toString() {
    return "Reactive." + verb + " on " + publisher;
  }

  /** Throws the NoSuchElementException of {@code verb} over an empty publisher. */
  static NoSuchElementException noElement(String verb) {
    return new NoSuchElementException(verb + ": the publisher completed without any element;"
        + " use the OrNull or OrDefault form where empty is possible");
  }
}
