package org.picos.bench;

import java.util.concurrent.CountDownLatch;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * A minimal Reactive Streams subscriber for the stream suites: requests everything at once,
 * counts the items and lets the benchmark thread wait (with {@link Guard}'s bound) for the end
 * of the stream, whichever thread produced it. Used the same way for every contender, Reactor
 * and RxJava alike. One instance per subscription.
 */
final class Drain<T> implements Subscriber<T> {
  private final CountDownLatch done = new CountDownLatch(1);
  private long count;
  private Throwable failure;

  @Override
  public void onSubscribe(Subscription s) {
    s.request(Long.MAX_VALUE);
  }

  @Override
  public void onNext(T item) {
    count++;
  }

  @Override
  public void onError(Throwable t) {
    failure = t;
    done.countDown();
  }

  @Override
  public void onComplete() {
    done.countDown();
  }

  /**
   * Waits for the end of the stream and returns the number of items.
   *
   * @throws IllegalStateException if the stream failed, or did not end within the bound
   */
  long count() {
    Guard.await(done, "A stream");
    if (failure != null) {
      throw new IllegalStateException("The stream failed after " + count + " items", failure);
    }
    return count;
  }
}
