package org.picos.bridge.rxjava;

import org.picos.reactive.PublisherIterator;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import io.reactivex.rxjava3.core.Flowable;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * {@link PublisherIterator}'s close semantics: a close from any thread wakes the consumer (whose
 * {@code hasNext()} then answers {@code false}), and an upstream error the consumer never
 * receives (it arrived after the close, or before it but was never thrown) reaches
 * {@code RxJavaPlugins.onError} exactly once. bridge-reactor's ReactorIteratorTest checks the
 * same of its iterator.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RxIteratorTest {
  private static final int RACES = 500;

  private final Scheduler fifo = Schedulers.fifo();
  private final Scheduler multi = Schedulers.multi(2);

  @AfterEach
  void close() {
    fifo.close();
    multi.close();
  }

  /** A Flowable driven by hand that, like a misbehaving source, ignores cancellation. */
  static final class Manual<T> extends Flowable<T> {
    volatile Subscriber<? super T> subscriber;
    final AtomicInteger cancels = new AtomicInteger();

    @Override
    protected void subscribeActual(Subscriber<? super T> actual) {
      subscriber = actual;
      actual.onSubscribe(new Subscription() {
        @Override
        public void request(long n) {}

        @Override
        public void cancel() {
          cancels.incrementAndGet();
        }
      });
    }
  }

  private static void await(CountDownLatch latch, String what) {
    try {
      assertTrue(latch.await(10, TimeUnit.SECONDS), what + " within 10 s");
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void anErrorAfterCloseGoesToTheHook() {
    try (TestSupport.Reported dropped = new TestSupport.Reported()) {
      Manual<Integer> source = new Manual<>();
      PublisherIterator<Integer> it = PicosRx.iterate(source, 4);
      it.close();
      IllegalStateException late = new IllegalStateException("after close");
      source.subscriber.onError(late);
      assertEquals(List.of(late), dropped.errors);
      assertFalse(it.hasNext());
      assertEquals(1, source.cancels.get());
    }
  }

  @Test
  void anErrorThatArrivedButWasNeverThrownGoesToTheHookOnClose() {
    try (TestSupport.Reported dropped = new TestSupport.Reported()) {
      Manual<Integer> source = new Manual<>();
      PublisherIterator<Integer> it = PicosRx.iterate(source, 4);
      IllegalStateException unread = new IllegalStateException("behind an item");
      source.subscriber.onNext(1);
      source.subscriber.onError(unread);
      assertEquals(1, it.next());
      assertEquals(List.of(), dropped.errors);
      it.close(); // the consumer stops before reaching the error
      assertEquals(List.of(unread), dropped.errors);
      it.close();
      assertEquals(List.of(unread), dropped.errors, "reported once");
    }
  }

  @Test
  void anErrorThrownByHasNextIsNotReportedAgainOnClose() {
    try (TestSupport.Reported dropped = new TestSupport.Reported()) {
      Manual<Integer> source = new Manual<>();
      PublisherIterator<Integer> it = PicosRx.iterate(source, 4);
      IllegalStateException failure = new IllegalStateException("thrown");
      source.subscriber.onError(failure);
      assertSame(failure, assertThrows(IllegalStateException.class, it::hasNext));
      it.close();
      assertFalse(it.hasNext());
      assertEquals(List.of(), dropped.errors);
    }
  }

  @Test
  void itemsBufferedAtCloseOrArrivingAfterItAreDroppedSilently() {
    try (TestSupport.Reported dropped = new TestSupport.Reported()) {
      Manual<Integer> source = new Manual<>();
      PublisherIterator<Integer> it = PicosRx.iterate(source, 4);
      source.subscriber.onNext(1);
      source.subscriber.onNext(2);
      assertTrue(it.hasNext());
      it.close();
      assertEquals(1, it.next(), "the element hasNext() answered for is still returned");
      source.subscriber.onNext(3);
      assertFalse(it.hasNext());
      assertThrows(NoSuchElementException.class, it::next);
      assertEquals(List.of(), dropped.errors, "RxJava has no hook for items");
    }
  }

  @Test
  void closingFromAnotherThreadWakesAFiberWaitingInHasNext() {
    Manual<Integer> source = new Manual<>();
    AtomicReference<PublisherIterator<Integer>> iterator = new AtomicReference<>();
    CountDownLatch waiting = new CountDownLatch(1);
    CountDownLatch answered = new CountDownLatch(1);
    AtomicReference<Object> outcome = new AtomicReference<>();
    fifo.start(() -> {
      PublisherIterator<Integer> it = PicosRx.iterate(source, 4);
      iterator.set(it);
      // fifo has one thread: this child runs once the consumer has suspended in hasNext().
      Fiber.spawn(() -> {
        waiting.countDown();
        return null;
      });
      try {
        outcome.set(it.hasNext());
      } catch (Throwable t) {
        outcome.set(t);
      } finally {
        answered.countDown();
      }
      return null;
    });
    await(waiting, "the consumer suspended in hasNext()");
    iterator.get().close(); // from the test thread
    await(answered, "hasNext() answered after the close");
    assertEquals(false, outcome.get());
    assertEquals(1, source.cancels.get());
  }

  @Test
  void closeRacingAnErrorReportsItExactlyOnce() {
    try (TestSupport.Reported dropped = new TestSupport.Reported()) {
      int thrown = 0;
      for (int round = 0; round < RACES; round++) {
        int before = dropped.errors.size();
        Manual<Integer> source = new Manual<>();
        PublisherIterator<Integer> it = PicosRx.iterate(source, 4);
        IllegalStateException failure = new IllegalStateException("round " + round);
        CountDownLatch answered = new CountDownLatch(1);
        AtomicReference<Object> outcome = new AtomicReference<>();
        multi.start(() -> {
          try {
            outcome.set(it.hasNext());
          } catch (Throwable t) {
            outcome.set(t);
          } finally {
            answered.countDown();
          }
          return null;
        });
        AtomicBoolean go = new AtomicBoolean();
        CountDownLatch ready = new CountDownLatch(1);
        Thread failer = Thread.ofPlatform().start(() -> {
          ready.countDown();
          while (!go.get()) {
            Thread.onSpinWait();
          }
          source.subscriber.onError(failure);
        });
        await(ready, "the failing thread started");
        go.set(true);
        TestSupport.jitter(round);
        it.close();
        await(answered, "hasNext() answered");
        try {
          failer.join(10_000);
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
        List<Throwable> reported = dropped.errors.subList(before, dropped.errors.size());
        Object o = outcome.get();
        int seen = o == failure ? 1 : 0;
        assertTrue(o == failure || Boolean.FALSE.equals(o), "round " + round + ": " + o);
        assertEquals(1, seen + reported.size(), "round " + round + ": thrown " + seen
            + " times, reported " + reported);
        thrown += seen;
      }
      assertTrue(thrown <= RACES);
    }
  }

  @Test
  void closingFromAnotherThreadWhileTheFiberIteratesEndsTheIteration() {
    for (int round = 0; round < RACES / 10; round++) {
      AtomicInteger cancels = new AtomicInteger();
      Flowable<Integer> endless = Flowable.range(0, Integer.MAX_VALUE)
          .subscribeOn(io.reactivex.rxjava3.schedulers.Schedulers.computation())
          .doOnCancel(cancels::incrementAndGet);
      PublisherIterator<Integer> it = PicosRx.iterate(endless, 8);
      CountDownLatch first = new CountDownLatch(1);
      Computation<Integer> consumer = multi.start(() -> {
        int n = 0;
        while (it.hasNext()) {
          assertEquals(n, it.next());
          n++;
          first.countDown();
        }
        return n;
      });
      await(first, "the first item");
      it.close();
      int taken = consumer.await();
      assertTrue(taken >= 1, "round " + round);
      assertEquals(1, cancels.get(), "round " + round + ": the upstream was cancelled once");
    }
  }

  @Test
  void iteratorCanBeTakenOnce() {
    PublisherIterator<Integer> it = PicosRx.iterate(Flowable.just(1), 1);
    assertSame(it, it.iterator());
    assertThrows(IllegalStateException.class, it::iterator);
  }
}
