package org.picos.bridge.rxjava;

import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.core.FlowableSubscriber;
import java.io.IOException;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;

/**
 * The Reactive Streams TCK ({@link PublisherVerification}, a TestNG class run on the JUnit
 * platform by the TestNG engine) against {@link PicosRx#flowable}.
 *
 * <p>{@code Flowable.subscribe(Subscriber)} wraps a plain Reactive Streams subscriber in RxJava's
 * {@code StrictSubscriber}, which enforces some rules itself (3.9 among them). To check the
 * fiber-backed subscription's own state machine as well, the TCK's subscribers reach it through
 * a pass-through {@link FlowableSubscriber}, which RxJava does not wrap; {@link Wrapped} runs the
 * whole TCK once more on the publisher exactly as users get it.
 *
 * <p>Every required and every optional test runs and passes; the optional multi-subscribe
 * ({@code spec111}) tests pass because the Flowable is cold, so every subscriber gets the same
 * sequence. The TCK itself reports its seven {@code untested_*} rules (1.6, 1.7 on error, 1.8,
 * 1.9 non-fatal throw, 1.10, 3.4, 3.5) as skipped in each class: it has no test for them.
 */
public class FlowableTckTest extends PublisherVerification<Long> {
  /**
   * Generous timeouts: the machine is small and shared. The no-signal wait is what most tests
   * spend, so it stays short.
   */
  static TestEnvironment environment() {
    return new TestEnvironment(2_000, 100, 2_000);
  }

  public FlowableTckTest() {
    super(environment(), 5_000);
  }

  static Flowable<Long> counting(long elements) {
    return PicosRx.flowable(emitter -> {
      for (long i = 0; i < elements; i++) {
        emitter.next(i);
      }
    });
  }

  static Flowable<Long> failing() {
    return PicosRx.flowable(emitter -> {
      throw new IOException("failed on purpose");
    });
  }

  @Override
  public Publisher<Long> createPublisher(long elements) {
    Flowable<Long> flowable = counting(elements);
    return subscriber -> flowable.subscribe(new PassThrough<>(subscriber));
  }

  @Override
  public Publisher<Long> createFailedPublisher() {
    Flowable<Long> flowable = failing();
    return subscriber -> flowable.subscribe(new PassThrough<>(subscriber));
  }

  /** Hands the fiber-backed subscription straight to a plain subscriber. */
  static final class PassThrough<T> implements FlowableSubscriber<T> {
    private final Subscriber<? super T> actual;

    PassThrough(Subscriber<? super T> actual) {
      this.actual = java.util.Objects.requireNonNull(actual, "subscriber");
    }

    @Override
    public void onSubscribe(Subscription s) {
      actual.onSubscribe(s);
    }

    @Override
    public void onNext(T t) {
      actual.onNext(t);
    }

    @Override
    public void onError(Throwable t) {
      actual.onError(t);
    }

    @Override
    public void onComplete() {
      actual.onComplete();
    }
  }

  /** The TCK on {@code PicosRx.flowable(...)} as a plain {@link Publisher}, RxJava's wrapper included. */
  public static class Wrapped extends PublisherVerification<Long> {
    public Wrapped() {
      super(environment(), 5_000);
    }

    @Override
    public Publisher<Long> createPublisher(long elements) {
      return counting(elements);
    }

    @Override
    public Publisher<Long> createFailedPublisher() {
      return failing();
    }
  }
}
