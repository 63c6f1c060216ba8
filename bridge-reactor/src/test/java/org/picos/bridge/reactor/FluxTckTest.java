package org.picos.bridge.reactor;

import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;
import org.testng.annotations.AfterClass;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;

/**
 * The Reactive Streams TCK (run by the TestNG engine on the JUnit platform) against
 * {@link PicosReactor#flux} publishers.
 *
 * <p>The TCK's probes are plain {@link Subscriber}s, which {@code Flux.subscribe} wraps in
 * Reactor's {@code StrictSubscriber}; that wrapper enforces some rules itself (3.9). To verify
 * the fiber-backed subscription's own state machine, each probe reaches it through a
 * {@link CoreSubscriber} that only forwards, which Reactor does not wrap.
 */
public class FluxTckTest extends PublisherVerification<Long> {
  private static final Scheduler PICOS = Schedulers.multi(2);

  public FluxTckTest() {
    super(new TestEnvironment(1_000, 100), 5_000);
  }

  @AfterClass
  public static void closeScheduler() {
    PICOS.close();
  }

  @Override
  public Publisher<Long> createPublisher(long elements) {
    Flux<Long> flux = PicosReactor.flux(PICOS, emitter -> {
      for (long i = 0; i < elements; i++) {
        emitter.next(i);
      }
    });
    return probe -> flux.subscribe(forwarding(probe));
  }

  @Override
  public Publisher<Long> createFailedPublisher() {
    Flux<Long> flux = PicosReactor.flux(PICOS, emitter -> {
      throw new IllegalStateException("this publisher fails at once");
    });
    return probe -> flux.subscribe(forwarding(probe));
  }

  /** A subscriber that only forwards, so the probe talks to the fiber's subscription itself. */
  private static CoreSubscriber<Long> forwarding(Subscriber<? super Long> probe) {
    if (probe == null) {
      throw new NullPointerException("subscriber");
    }
    return new CoreSubscriber<>() {
      @Override
      public void onSubscribe(Subscription s) {
        probe.onSubscribe(s);
      }

      @Override
      public void onNext(Long value) {
        probe.onNext(value);
      }

      @Override
      public void onError(Throwable t) {
        probe.onError(t);
      }

      @Override
      public void onComplete() {
        probe.onComplete();
      }
    };
  }
}
