package org.picos.bridge.reactor;

import org.reactivestreams.Publisher;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;

/**
 * The Reactive Streams TCK against {@link PicosReactor#flux} publishers exactly as users get
 * them (subscribed through {@code Flux.subscribe(Subscriber)}), on the shared Picos scheduler.
 * {@link FluxTckTest} checks the subscription without Reactor's wrapper.
 */
public class FluxStrictTckTest extends PublisherVerification<Long> {
  public FluxStrictTckTest() {
    super(new TestEnvironment(1_000, 100), 5_000);
  }

  @Override
  public Publisher<Long> createPublisher(long elements) {
    return PicosReactor.flux(emitter -> {
      for (long i = 0; i < elements; i++) {
        emitter.next(i);
      }
    });
  }

  @Override
  public Publisher<Long> createFailedPublisher() {
    return PicosReactor.flux(emitter -> {
      throw new IllegalStateException("this publisher fails at once");
    });
  }
}
