package org.picos.bridge.rxjava;

import org.picos.reactive.PublisherIterator;
import static org.junit.jupiter.api.Assertions.*;

import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.observers.TestObserver;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;

/**
 * Attacks on the RxJava bridge when the Picos scheduler under a fiber closes: each outcome
 * reported exactly once, iterators closed, fibers on a shut-down Rx scheduler never run.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RxCloseAdversarialTest {

  /** Runs {@code body} in a scope of its own linked to the fiber's computation, as scopes do. */
  private static <T> T inNestedScope(java.util.concurrent.Callable<T> body) throws Exception {
    Fiber me = Fiber.current();
    Computation<Void> inner = Computation.create();
    Computation<?> outer = me.computation();
    Trigger link = Computation.attachCanceler(outer, inner);
    me.setComputation(inner);
    try {
      return body.call();
    } finally {
      me.setComputation(outer);
      outer.detach(link);
      inner.tryReturn(null);
    }
  }

  /**
   * The scheduler closes while a Single's body waits in a nested scope: the observer gets one
   * onError with the close; nothing reaches RxJavaPlugins or the carrier's uncaught handler.
   */
  @Test
  void singleInANestedScopeWhenItsSchedulerClosesErrorsOnceWithTheClose() throws Exception {
    try (TestSupport.Reported reported = new TestSupport.Reported()) {
      TestSupport.Carrier carrier = new TestSupport.Carrier();
      Trigger inScope = Trigger.create();
      TestObserver<String> observer = PicosRx.single(carrier.scheduler, () -> inNestedScope(() -> {
        inScope.signal();
        Computation.create().await();
        return "escaped";
      })).test();
      waitUntil(inScope::isSignaled);
      carrier.close();
      assertTrue(observer.await(20, TimeUnit.SECONDS));
      observer.assertError(SchedulerClosedException.class);
      observer.assertNoValues();
      assertEquals(List.of(), reported.since(0));
      assertEquals(List.of(), carrier.uncaught);
    }
  }

  /**
   * A fiber waiting in PublisherIterator.hasNext() when its scheduler closes: hasNext throws the
   * close and the subscription is cancelled.
   */
  @Test
  void aConsumerWaitingInHasNextWhenItsSchedulerClosesCancelsTheSubscription() {
    TestSupport.Carrier carrier = new TestSupport.Carrier();
    CountDownLatch cancelled = new CountDownLatch(1);
    CountDownLatch subscribed = new CountDownLatch(1);
    Flowable<Integer> never = Flowable.<Integer>never()
        .doOnSubscribe(s -> subscribed.countDown())
        .doOnCancel(cancelled::countDown);
    Computation<Boolean> consumer = carrier.scheduler.start(() -> {
      try (PublisherIterator<Integer> it = PicosRx.iterate(never, 4)) {
        return it.hasNext();
      }
    });
    TestSupport.await(subscribed, "subscription");
    carrier.close();
    assertThrows(SchedulerClosedException.class, consumer::await);
    TestSupport.await(cancelled, "cancellation of the subscription");
  }

  /**
   * A Single on a Picos scheduler whose Rx scheduler ({@code Schedulers.from} a pool) was just
   * shut down (the probe has not polled yet). The spawn closes the Picos scheduler, yet the new
   * fiber's whole body runs on the picos-orphans fallback thread and the Single succeeds with
   * its value: code meant for the Rx scheduler ran elsewhere. The fiber had not started, so it
   * should be refused and the observer get the SchedulerClosedException ("If the scheduler is
   * closed, the subscriber gets its SchedulerClosedException").
   */
  @Test
  void aSingleOnAShutDownRxSchedulerDoesNotRunItsBody() throws Exception {
    try (TestSupport.Reported reported = new TestSupport.Reported()) {
      // Warm up (class loading), so that the subscription below comes well within the 50 ms
      // before the scheduler's shutdown probe first polls.
      ExecutorService warmPool = Executors.newSingleThreadExecutor();
      try (Scheduler warm = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.from(warmPool))) {
        assertEquals("warm", PicosRx.single(warm, () -> "warm").blockingGet());
      } finally {
        warmPool.shutdown();
      }
      ExecutorService pool = Executors.newSingleThreadExecutor();
      Scheduler s = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.from(pool));
      pool.shutdown();
      AtomicReference<String> ranOn = new AtomicReference<>();
      TestObserver<String> observer = PicosRx.single(s, () -> {
        ranOn.set(Thread.currentThread().getName());
        return "side effect done";
      }).test();
      assertTrue(observer.await(20, TimeUnit.SECONDS));
      s.close();
      assertNull(ranOn.get(), "the body of a fiber that could not start ran on " + ranOn.get()
          + ", and the Single ended with values " + observer.values() + " and "
          + (observer.values().isEmpty() ? "an error" : "no error"));
      observer.assertError(SchedulerClosedException.class);
    }
  }

  private static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("condition not reached within 20 s");
      }
      Thread.sleep(1);
    }
  }
}
