package org.picos.reactive;

import java.io.IOException;
import org.reactivestreams.Publisher;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;

/**
 * The Reactive Streams TCK ({@link PublisherVerification}, a TestNG class run on the JUnit
 * platform by the TestNG engine) against {@link Reactive#publisher}, the fiber-backed publisher
 * both bridges' {@code flux}/{@code flowable} are made of. The TCK reports its {@code untested_*}
 * rules as skipped: it has no test for them.
 */
public class PublisherTckTest extends PublisherVerification<Long> {
  public PublisherTckTest() {
    super(new TestEnvironment(2_000, 100, 2_000), 5_000);
  }

  @Override
  public Publisher<Long> createPublisher(long elements) {
    return Reactive.STANDARD.publisher(null, emitter -> {
      for (long i = 0; i < elements; i++) {
        emitter.next(i);
      }
    });
  }

  @Override
  public Publisher<Long> createFailedPublisher() {
    return Reactive.STANDARD.publisher(null, emitter -> {
      throw new IOException("failed on purpose");
    });
  }
}
