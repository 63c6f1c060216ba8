package org.picos.bridge.rxjava;

import org.picos.reactive.Emitter;
import static org.junit.jupiter.api.Assertions.*;

import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.core.FlowableSubscriber;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.exceptions.UndeliverableException;
import io.reactivex.rxjava3.observers.TestObserver;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import io.reactivex.rxjava3.subscribers.TestSubscriber;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.sched.Schedulers;
import org.reactivestreams.Subscription;

/** Picos work as Single, Maybe, Completable, Flowable and Observable. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SourcesTest {
  /** Errors that reached RxJavaPlugins.onError during the test. */
  private final List<Throwable> undeliverable = new CopyOnWriteArrayList<>();
  private Scheduler scheduler;

  @BeforeEach
  void setUp() {
    RxJavaPlugins.setErrorHandler(undeliverable::add);
    scheduler = Schedulers.multi(2);
  }

  @AfterEach
  void tearDown() {
    try {
      scheduler.close();
    } finally {
      RxJavaPlugins.reset();
    }
  }

  /** Waits (bounded) until the latch opens; fails instead of hanging. */
  private static void await(CountDownLatch latch) throws InterruptedException {
    assertTrue(latch.await(20, TimeUnit.SECONDS), "timed out waiting");
  }

  // ---------------------------------------------------------------------------------------
  // Single, Maybe, Completable

  @Test
  void singleRunsInAFiberPerSubscription() {
    AtomicInteger calls = new AtomicInteger();
    var single = PicosRx.single(scheduler, () -> {
      assertTrue(Fiber.inFiber());
      Fiber.yield();
      return calls.incrementAndGet();
    });
    assertEquals(0, calls.get(), "cold: nothing runs before subscription");
    single.test().awaitDone(20, TimeUnit.SECONDS).assertResult(1);
    single.test().awaitDone(20, TimeUnit.SECONDS).assertResult(2);
  }

  @Test
  void singleDeliversTheOriginalCheckedException() {
    IOException boom = new IOException("boom");
    PicosRx.single(scheduler, () -> {
      throw boom;
    }).test().awaitDone(20, TimeUnit.SECONDS).assertError(e -> e == boom);
  }

  @Test
  void singleThatReturnsNullFailsWithAMessageNamingMaybe() {
    PicosRx.single(scheduler, () -> null).test().awaitDone(20, TimeUnit.SECONDS)
        .assertError(e -> e instanceof NullPointerException && e.getMessage().contains("PicosRx.maybe"));
  }

  @Test
  void withoutASchedulerASubscriptionFromAPlainThreadRunsOnTheSharedScheduler() {
    String shared = Schedulers.shared().run(() -> Thread.currentThread().getName());
    String prefix = shared.substring(0, shared.lastIndexOf('-') + 1);
    String thread = PicosRx.single(() -> {
      assertTrue(Fiber.inFiber());
      return Thread.currentThread().getName();
    }).blockingGet();
    assertTrue(thread.startsWith(prefix), thread + " is not a thread of " + Schedulers.shared());
  }

  @Test
  void withoutASchedulerASubscriptionFromAFiberRunsOnThatFibersScheduler() {
    try (Scheduler fifo = Schedulers.fifo()) {
      String[] threads = fifo.run(() -> {
        String mine = Thread.currentThread().getName();
        String theirs = PicosRx.await(PicosRx.single(() -> Thread.currentThread().getName()));
        return new String[] {mine, theirs};
      });
      assertEquals(threads[0], threads[1]);
    }
  }

  @Test
  void maybeIsEmptyWhenTheCallableReturnsNull() {
    PicosRx.maybe(scheduler, () -> null).test().awaitDone(20, TimeUnit.SECONDS).assertResult();
    PicosRx.maybe(scheduler, () -> "x").test().awaitDone(20, TimeUnit.SECONDS).assertResult("x");
  }

  @Test
  void completableFromRunnableAndFromCallable() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    PicosRx.completable(scheduler, (Runnable) runs::incrementAndGet).test()
        .awaitDone(20, TimeUnit.SECONDS).assertComplete();
    PicosRx.completable(scheduler, () -> {
      throw new IOException("no");
    }).test().awaitDone(20, TimeUnit.SECONDS).assertError(IOException.class);
    assertEquals(1, runs.get());
  }

  @Test
  void disposingASingleCancelsItsFiber() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CompletableFuture<Throwable> seen = new CompletableFuture<>();
    TestObserver<Object> observer = PicosRx.single(scheduler, () -> {
      started.countDown();
      try {
        return Computation.create().await(); // never completes
      } catch (CancellationException e) {
        seen.complete(e);
        throw e;
      }
    }).test();
    await(started);
    observer.dispose();
    Throwable cause = seen.get(20, TimeUnit.SECONDS);
    assertTrue(cause.getMessage().contains("Single subscription disposed"), cause.getMessage());
    observer.assertNotComplete().assertNoErrors();
    assertTrue(undeliverable.isEmpty(), "the rethrown cancellation is no error: " + undeliverable);
  }

  @Test
  void aFailureAfterDisposeGoesToRxJavaPlugins() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    Trigger go = Trigger.create();
    IOException late = new IOException("too late");
    CountDownLatch ended = new CountDownLatch(1);
    TestObserver<Object> observer = PicosRx.single(scheduler, () -> {
      try {
        started.countDown();
        Fiber.forbid(go::await); // ignores the cancellation
        throw late;
      } finally {
        ended.countDown();
      }
    }).test();
    await(started);
    observer.dispose();
    go.signal();
    await(ended);
    for (int i = 0; i < 2000 && undeliverable.isEmpty(); i++) {
      Thread.sleep(10);
    }
    assertEquals(1, undeliverable.size(), undeliverable.toString());
    assertInstanceOf(UndeliverableException.class, undeliverable.get(0));
    assertSame(late, undeliverable.get(0).getCause());
    observer.assertNoValues().assertNoErrors();
  }

  @Test
  void aSubscriptionToAClosedSchedulerFailsWithItsCause() {
    Scheduler closed = Schedulers.fifo();
    closed.close();
    PicosRx.single(closed, () -> 1).test().assertError(SchedulerClosedException.class);
    PicosRx.flowable(closed, e -> e.next(1)).test().assertError(SchedulerClosedException.class);
  }

  @Test
  void closingTheSchedulerEndsARunningFlowableWithItsCause() throws Exception {
    Scheduler own = Schedulers.fifo();
    CountDownLatch parked = new CountDownLatch(1);
    TestSubscriber<Integer> ts = PicosRx.<Integer>flowable(own, e -> {
      e.next(1);
      parked.countDown();
      e.next(2); // no demand: suspends here
    }).test(1);
    await(parked);
    own.close();
    ts.awaitDone(20, TimeUnit.SECONDS).assertValues(1).assertError(SchedulerClosedException.class);
  }

  // ---------------------------------------------------------------------------------------
  // Flowable: backpressure and cancellation

  /** A subscriber that fails the test if it ever receives more than it requested. */
  private static final class Counting implements FlowableSubscriber<Integer> {
    final AtomicLong requested = new AtomicLong();
    final AtomicLong received = new AtomicLong();
    final AtomicReference<String> violation = new AtomicReference<>();
    final CountDownLatch done = new CountDownLatch(1);
    volatile Subscription subscription;
    volatile Throwable error;

    @Override
    public void onSubscribe(Subscription s) {
      subscription = s;
    }

    void request(long n) {
      requested.addAndGet(n);
      subscription.request(n);
    }

    @Override
    public void onNext(Integer item) {
      if (received.incrementAndGet() > requested.get()) {
        violation.compareAndSet(null, "item " + item + " beyond demand " + requested.get());
      }
    }

    @Override
    public void onError(Throwable t) {
      error = t;
      done.countDown();
    }

    @Override
    public void onComplete() {
      done.countDown();
    }

    void awaitReceived(long n) throws InterruptedException {
      for (int i = 0; i < 4000 && received.get() < n; i++) {
        Thread.sleep(5);
      }
      assertEquals(n, received.get());
    }
  }

  @Test
  void emitSuspendsWithoutDemandSoTheBodyNeverRunsAheadOfRequests() throws Exception {
    AtomicInteger attempts = new AtomicInteger();
    Flowable<Integer> flowable = PicosRx.flowable(scheduler, e -> {
      for (int i = 0; i < 1000; i++) {
        attempts.incrementAndGet();
        e.next(i);
      }
    });
    Counting sub = new Counting();
    flowable.subscribe(sub);
    for (int round = 1; round <= 20; round++) {
      sub.request(round);
      long expected = round * (round + 1L) / 2;
      sub.awaitReceived(expected);
      // The body is stuck in emit (attempt expected + 1) until the next request.
      for (int i = 0; i < 4000 && attempts.get() <= expected; i++) {
        Thread.sleep(1);
      }
      assertEquals(expected + 1, attempts.get(), "the body waits in its next emit");
    }
    sub.request(1000 - 210);
    await(sub.done);
    assertNull(sub.violation.get());
    assertNull(sub.error);
    assertEquals(1000, sub.received.get());
  }

  @Test
  void testSubscriberRequestsDriveTheBody() {
    TestSubscriber<Integer> ts = PicosRx.<Integer>flowable(scheduler, e -> {
      for (int i = 1; i <= 5; i++) {
        e.next(i);
      }
    }).test(0);
    ts.assertEmpty();
    ts.request(2);
    ts.awaitCount(2).assertValues(1, 2).assertNotComplete();
    ts.request(3);
    ts.awaitDone(20, TimeUnit.SECONDS).assertResult(1, 2, 3, 4, 5);
  }

  @Test
  void cancellingTheSubscriptionCancelsTheSuspendedBody() throws Exception {
    CompletableFuture<Throwable> seen = new CompletableFuture<>();
    TestSubscriber<Integer> ts = PicosRx.<Integer>flowable(scheduler, e -> {
      try {
        for (int i = 0; ; i++) {
          e.next(i);
        }
      } catch (CancellationException c) {
        assertTrue(e.isCancelled());
        seen.complete(c);
        throw c;
      }
    }).test(3);
    ts.awaitCount(3);
    ts.cancel();
    Throwable cause = seen.get(20, TimeUnit.SECONDS);
    assertTrue(cause.getMessage().contains("cancelled its subscription"), cause.getMessage());
    ts.assertValues(0, 1, 2).assertNotComplete().assertNoErrors();
    assertTrue(undeliverable.isEmpty(), undeliverable.toString());
  }

  @Test
  void cancellingTheFiberEndsTheFlowableWithTheCause() throws Exception {
    CountDownLatch parked = new CountDownLatch(1);
    AtomicReference<Computation<?>> fiber = new AtomicReference<>();
    TestSubscriber<Integer> ts = PicosRx.<Integer>flowable(scheduler, e -> {
      fiber.set(Fiber.current().computation());
      parked.countDown();
      Computation.create().await();
    }).test();
    await(parked);
    IllegalStateException cause = new IllegalStateException("stopped from the Picos side");
    fiber.get().tryCancel(cause);
    ts.awaitDone(20, TimeUnit.SECONDS).assertError(e -> e == cause);
  }

  @Test
  void requestZeroFailsTheStreamWithRule39() {
    TestSubscriber<Integer> ts = PicosRx.<Integer>flowable(scheduler, e -> {
      for (int i = 0; ; i++) {
        e.next(i);
      }
    }).test(1);
    ts.awaitCount(1);
    ts.request(0);
    ts.awaitDone(20, TimeUnit.SECONDS).assertError(e -> e instanceof IllegalArgumentException
        && e.getMessage().contains("rule 3.9") && e.getMessage().contains("request(0)"));
    assertTrue(undeliverable.isEmpty(), undeliverable.toString());
  }

  @Test
  void aFlowableBodyFailureReachesTheSubscriberAfterItsItems() {
    IOException boom = new IOException("boom");
    PicosRx.<Integer>flowable(scheduler, e -> {
      e.next(1);
      throw boom;
    }).test().awaitDone(20, TimeUnit.SECONDS).assertValues(1).assertError(e -> e == boom);
  }

  @Test
  void aBodyFailingAfterCancelGoesToRxJavaPlugins() throws Exception {
    CountDownLatch ended = new CountDownLatch(1);
    IOException late = new IOException("after cancel");
    TestSubscriber<Integer> ts = PicosRx.<Integer>flowable(scheduler, e -> {
      try {
        e.next(1);
        e.next(2);
      } catch (CancellationException c) {
        throw late;
      } finally {
        ended.countDown();
      }
    }).test(1);
    ts.awaitCount(1);
    ts.cancel();
    await(ended);
    for (int i = 0; i < 2000 && undeliverable.isEmpty(); i++) {
      Thread.sleep(10);
    }
    assertEquals(1, undeliverable.size(), undeliverable.toString());
    assertSame(late, undeliverable.get(0).getCause());
  }

  @Test
  void emitRejectsNullAndUseAfterTheBodyReturned() {
    AtomicReference<Emitter<Integer>> leaked = new AtomicReference<>();
    PicosRx.<Integer>flowable(scheduler, e -> e.next(null)).test().awaitDone(20, TimeUnit.SECONDS)
        .assertError(e -> e instanceof NullPointerException && e.getMessage().contains("null item"));
    PicosRx.<Integer>flowable(scheduler, leaked::set).test().awaitDone(20, TimeUnit.SECONDS)
        .assertResult();
    IllegalStateException misuse = assertThrows(IllegalStateException.class, () -> leaked.get().next(1));
    assertTrue(misuse.getMessage().contains("while the body runs"), misuse.getMessage());
  }

  @Test
  void unboundedDemandRunsWithoutSuspendingAndYields() {
    Flowable<Integer> many = PicosRx.flowable(scheduler, e -> {
      for (int i = 0; i < 10_000; i++) {
        e.next(i);
      }
    });
    assertEquals(10_000, many.count().blockingGet());
    assertEquals(List.of(0, 1, 2), many.take(3).toList().blockingGet());
  }

  // ---------------------------------------------------------------------------------------
  // Observable

  @Test
  void observableEmitsAndCompletes() {
    PicosRx.<Integer>observable(scheduler, e -> {
      for (int i = 0; i < 300; i++) {
        e.next(i);
      }
    }).test().awaitDone(20, TimeUnit.SECONDS).assertValueCount(300).assertComplete();
  }

  @Test
  void disposingAnObservableStopsTheBodyAtItsNextEmit() throws Exception {
    AtomicInteger emitted = new AtomicInteger();
    CompletableFuture<Throwable> seen = new CompletableFuture<>();
    Observable<Integer> endless = PicosRx.observable(scheduler, e -> {
      try {
        for (int i = 0; ; i++) {
          e.next(i);
          emitted.incrementAndGet();
        }
      } catch (CancellationException c) {
        seen.complete(c);
        throw c;
      }
    });
    TestObserver<Integer> observer = endless.take(500).test();
    observer.awaitDone(20, TimeUnit.SECONDS).assertValueCount(500).assertComplete();
    assertTrue(seen.get(20, TimeUnit.SECONDS).getMessage().contains("cancelled its subscription"));
    assertEquals(500, emitted.get(), "the emit after the 500th item saw the disposal");
    assertTrue(undeliverable.isEmpty(), undeliverable.toString());
  }

  @Test
  void aLongBodyYieldsSoOtherFibersOfItsSchedulerRun() {
    // On one FIFO carrier the fiber spawned by the body can only run when the body yields.
    try (Scheduler fifo = Schedulers.fifo()) {
      for (boolean backpressured : new boolean[] {false, true}) {
        AtomicLong emitted = new AtomicLong();
        AtomicLong otherRanAfter = new AtomicLong(-1);
        Emitter.Body<Integer> body = e -> {
          Fiber.spawn(() -> otherRanAfter.compareAndSet(-1, emitted.get()));
          for (int i = 0; i < 1000; i++) {
            e.next(i);
            emitted.incrementAndGet();
          }
        };
        long count = fifo.run(() -> backpressured
            ? PicosRx.await(PicosRx.flowable(body).count())
            : PicosRx.await(PicosRx.observable(body).count()));
        assertEquals(1000, count);
        assertEquals(PicosRx.YIELD_EVERY - 1, otherRanAfter.get(),
            "the other fiber ran at the body's first yield, inside emit #" + PicosRx.YIELD_EVERY);
      }
    }
  }

  @Test
  void anObservableBodyFailingAfterDisposeGoesToRxJavaPlugins() throws Exception {
    CountDownLatch ended = new CountDownLatch(1);
    IOException late = new IOException("after dispose");
    TestObserver<Integer> observer = PicosRx.<Integer>observable(scheduler, e -> {
      try {
        for (int i = 0; ; i++) {
          e.next(i);
        }
      } catch (CancellationException c) {
        throw late;
      } finally {
        ended.countDown();
      }
    }).take(3).test();
    observer.awaitDone(20, TimeUnit.SECONDS).assertResult(0, 1, 2);
    await(ended);
    for (int i = 0; i < 2000 && undeliverable.isEmpty(); i++) {
      Thread.sleep(10);
    }
    assertEquals(1, undeliverable.size(), undeliverable.toString());
    assertSame(late, undeliverable.get(0).getCause());
  }

  @Test
  void observableFailureIsTheOriginalException() {
    IOException boom = new IOException("boom");
    PicosRx.<Integer>observable(scheduler, e -> {
      throw boom;
    }).test().awaitDone(20, TimeUnit.SECONDS).assertError(e -> e == boom);
  }
}
