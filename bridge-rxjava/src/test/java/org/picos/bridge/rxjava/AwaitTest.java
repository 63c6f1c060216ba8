package org.picos.bridge.rxjava;

import org.picos.reactive.PublisherIterator;
import static org.junit.jupiter.api.Assertions.*;

import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.core.Maybe;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import io.reactivex.rxjava3.processors.PublishProcessor;
import io.reactivex.rxjava3.subjects.SingleSubject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.picos.spi.BlockingGuard;
import org.picos.spi.BlockingGuards;

/** Rx sources awaited from fibers (and from plain threads). */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class AwaitTest {
  private final List<Throwable> undeliverable = new CopyOnWriteArrayList<>();
  private Scheduler fifo;

  @BeforeEach
  void setUp() {
    RxJavaPlugins.setErrorHandler(undeliverable::add);
    fifo = Schedulers.fifo();
  }

  @AfterEach
  void tearDown() {
    try {
      fifo.close();
    } finally {
      RxJavaPlugins.reset();
    }
  }

  @Test
  void awaitSuspendsTheFiberNotItsCarrier() {
    // One carrier thread: the Single can only complete because another fiber runs on that
    // thread while the first one waits.
    List<String> log = fifo.run(() -> {
      List<String> events = new CopyOnWriteArrayList<>();
      SingleSubject<String> answer = SingleSubject.create();
      Computation<Void> other = Fiber.spawn(() -> {
        events.add("other fiber ran");
        answer.onSuccess("answer");
        return null;
      });
      events.add("awaited " + PicosRx.await(answer));
      other.await();
      return events;
    });
    assertEquals(List.of("other fiber ran", "awaited answer"), log);
  }

  @Test
  void awaitEachKindInAFiber() {
    fifo.run(() -> {
      assertEquals(1, PicosRx.await(Single.just(1).delay(5, TimeUnit.MILLISECONDS)));
      assertEquals("m", PicosRx.await(Maybe.just("m").delay(5, TimeUnit.MILLISECONDS)));
      assertNull(PicosRx.await(Maybe.empty()));
      assertEquals("d", PicosRx.awaitOrDefault(Maybe.<String>empty(), "d"));
      assertEquals("v", PicosRx.awaitOrDefault(Maybe.just("v"), "d"));
      PicosRx.await(Completable.timer(5, TimeUnit.MILLISECONDS));
      assertEquals(1, PicosRx.awaitFirst(Flowable.range(1, 5)));
      assertEquals(5, PicosRx.awaitLast(Flowable.range(1, 5)));
      assertEquals(1, PicosRx.awaitFirst(Observable.range(1, 5)));
      assertEquals(5, PicosRx.awaitLast(Observable.range(1, 5)));
      return null;
    });
  }

  @Test
  void awaitOnAPlainThreadBlocksLikeBlockingGet() {
    assertFalse(Fiber.inFiber());
    assertEquals("late", PicosRx.await(Single.timer(10, TimeUnit.MILLISECONDS).map(t -> "late")));
  }

  @Test
  void failuresKeepTheirType() {
    IllegalStateException unchecked = new IllegalStateException("unchecked");
    IOException checked = new IOException("checked");
    fifo.run(() -> {
      assertSame(unchecked, assertThrows(IllegalStateException.class,
          () -> PicosRx.await(Single.error(unchecked))));
      CompletionException wrapped = assertThrows(CompletionException.class,
          () -> PicosRx.await(Completable.error(checked)));
      assertSame(checked, wrapped.getCause());
      assertSame(unchecked, assertThrows(IllegalStateException.class,
          () -> PicosRx.awaitFirst(Flowable.error(unchecked))));
      return null;
    });
  }

  @Test
  void awaitFirstAndLastOfAnEmptySourceSayWhatHappened() {
    NoSuchElementException first = assertThrows(NoSuchElementException.class,
        () -> PicosRx.awaitFirst(Flowable.empty()));
    assertTrue(first.getMessage().startsWith("awaitFirst: the publisher completed without any element"),
        first.getMessage());
    NoSuchElementException last = assertThrows(NoSuchElementException.class,
        () -> PicosRx.awaitLast(Observable.empty()));
    assertTrue(last.getMessage().startsWith("awaitLast: the publisher completed without any element"),
        last.getMessage());
  }

  @Test
  void awaitFirstRequestsOnlyOneItem() {
    AtomicLong requested = new AtomicLong();
    Flowable<Integer> source = Flowable.range(1, 100).doOnRequest(requested::addAndGet);
    assertEquals(1, fifo.run(() -> PicosRx.awaitFirst(source)));
    assertEquals(1, requested.get());
  }

  @Test
  void cancellingTheAwaitingFiberDisposesTheUpstream() throws Exception {
    CountDownLatch disposed = new CountDownLatch(1);
    SingleSubject<String> never = SingleSubject.create();
    Computation<String> waiting = fifo.start(
        () -> PicosRx.await(never.doOnDispose(disposed::countDown)));
    for (int i = 0; i < 4000 && !never.hasObservers(); i++) {
      Thread.sleep(1);
    }
    assertTrue(never.hasObservers());
    CancellationException cause = new CancellationException("no longer needed");
    waiting.tryCancel(cause);
    assertTrue(disposed.await(20, TimeUnit.SECONDS));
    assertSame(cause, assertThrows(CancellationException.class, waiting::await));
  }

  @Test
  void aThreadThatMustNotBlockGetsAClearErrorAndNothingIsSubscribed() throws Exception {
    Thread loop = Thread.currentThread();
    BlockingGuard guard = () -> {
      if (Thread.currentThread() == loop) {
        throw new IllegalStateException("this thread is an event loop: await in a fiber instead");
      }
    };
    BlockingGuards.add(guard);
    try {
      AtomicInteger subscribed = new AtomicInteger();
      IllegalStateException refused = assertThrows(IllegalStateException.class,
          () -> PicosRx.await(Single.never().doOnSubscribe(d -> subscribed.incrementAndGet())));
      assertEquals("this thread is an event loop: await in a fiber instead", refused.getMessage());
      assertEquals(0, subscribed.get(), "the guard refuses on entry, before anything is subscribed");
    } finally {
      BlockingGuards.remove(guard);
    }
  }

  @Test
  void iterateRequestsInBoundedBatches() {
    List<Long> requests = new CopyOnWriteArrayList<>();
    Flowable<Integer> source = Flowable.range(0, 100).doOnRequest(requests::add);
    List<Integer> items = fifo.run(() -> {
      List<Integer> got = new ArrayList<>();
      try (PublisherIterator<Integer> it = PicosRx.iterate(source, 8)) {
        while (it.hasNext()) {
          got.add(it.next());
        }
      }
      return got;
    });
    assertEquals(100, items.size());
    assertEquals(99, items.get(99));
    assertEquals(8L, requests.get(0));
    assertTrue(requests.stream().skip(1).allMatch(n -> n == 6L), requests.toString());
  }

  @Test
  void iterateSuspendsUntilItemsArriveAndReportsTheFailureAfterThem() {
    PublishProcessor<Integer> processor = PublishProcessor.create();
    IOException boom = new IOException("boom");
    List<Integer> got = new ArrayList<>();
    CompletionException failure = assertThrows(CompletionException.class, () -> fifo.run(() -> {
      PublisherIterator<Integer> it = PicosRx.iterate(processor, 4);
      Fiber.spawn(() -> {
        // Runs only once the consumer has suspended in hasNext().
        processor.onNext(1);
        processor.onNext(2);
        processor.onError(boom);
        return null;
      });
      while (it.hasNext()) {
        got.add(it.next());
      }
      return null;
    }));
    assertSame(boom, failure.getCause());
    assertEquals(List.of(1, 2), got);
  }

  @Test
  void closingTheIteratorCancelsTheUpstream() {
    AtomicInteger cancels = new AtomicInteger();
    Flowable<Integer> endless = Flowable.range(0, Integer.MAX_VALUE).doOnCancel(cancels::incrementAndGet);
    int first = fifo.run(() -> {
      try (PublisherIterator<Integer> it = PicosRx.iterate(endless, 16)) {
        return it.next();
      }
    });
    assertEquals(0, first);
    assertEquals(1, cancels.get());
  }

  @Test
  void cancellingTheFiberInHasNextCancelsTheUpstream() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    PublishProcessor<Integer> silent = PublishProcessor.create();
    Computation<Object> consumer = fifo.start(() -> {
      PublisherIterator<Integer> it = PicosRx.iterate(silent.doOnCancel(cancelled::countDown), 4);
      return it.hasNext();
    });
    for (int i = 0; i < 4000 && !silent.hasSubscribers(); i++) {
      Thread.sleep(1);
    }
    CancellationException cause = new CancellationException("stop iterating");
    consumer.tryCancel(cause);
    assertTrue(cancelled.await(20, TimeUnit.SECONDS));
    assertSame(cause, assertThrows(CancellationException.class, consumer::await));
  }

  @Test
  void iterateMisuseIsReportedClearly() {
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> PicosRx.iterate(Flowable.just(1), 0));
    assertEquals("iterate: prefetch must be at least 1, was 0", bad.getMessage());
    PublisherIterator<Integer> it = PicosRx.iterate(Flowable.just(1), 1);
    assertEquals(1, it.next());
    NoSuchElementException none = assertThrows(NoSuchElementException.class, it::next);
    assertTrue(none.getMessage().contains("check hasNext() first"), none.getMessage());
  }

  @Test
  void aFiberFlowableAwaitedFromAFiberRoundTrips() {
    int sum = fifo.run(() -> {
      Flowable<Integer> numbers = PicosRx.flowable(e -> {
        for (int i = 1; i <= 100; i++) {
          e.next(i);
        }
      });
      int total = 0;
      try (PublisherIterator<Integer> it = PicosRx.iterate(numbers, 10)) {
        for (int n : it) {
          total += n;
        }
      }
      return total + PicosRx.awaitLast(numbers) - 100;
    });
    assertEquals(5050, sum);
    assertTrue(undeliverable.isEmpty(), undeliverable.toString());
  }
}
