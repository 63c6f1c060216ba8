package org.picos.bridge.reactor;

import org.picos.reactive.PublisherIterator;
import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;

/**
 * Attacks on the Reactor bridge when the Picos scheduler under a fiber closes or the Reactor
 * scheduler under a Picos scheduler is saturated or disposed: each outcome reported exactly
 * once, iterators closed, refused fibers never run.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ReactorCloseAdversarialTest {

  /** Records every signal it gets, requests unbounded. */
  static final class Recorder<T> implements CoreSubscriber<T> {
    final List<String> signals = new CopyOnWriteArrayList<>();
    final AtomicReference<Throwable> error = new AtomicReference<>();
    final CountDownLatch terminated = new CountDownLatch(1);

    @Override
    public void onSubscribe(Subscription s) {
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(T t) {
      signals.add("next " + t);
    }

    @Override
    public void onError(Throwable t) {
      signals.add("error");
      error.set(t);
      terminated.countDown();
    }

    @Override
    public void onComplete() {
      signals.add("complete");
      terminated.countDown();
    }
  }

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
   * The scheduler closes while a mono's body waits in a nested scope (so the close cancels the
   * scope's computation, not the fiber's own): the subscriber gets one onError with the close,
   * and nothing reaches onErrorDropped or the carrier's uncaught handler.
   */
  @Test
  void monoInANestedScopeWhenItsSchedulerClosesErrorsOnceWithTheClose() {
    TestSupport.withDroppedErrors(dropped -> {
      TestSupport.Carrier carrier = new TestSupport.Carrier();
      Trigger inScope = Trigger.create();
      Recorder<String> r = new Recorder<>();
      PicosReactor.mono(carrier.scheduler, () -> inNestedScope(() -> {
        inScope.signal();
        Computation.create().await();
        return "escaped";
      })).subscribe(r);
      waitUntil(inScope::isSignaled);
      carrier.close();
      awaitLatch(r.terminated);
      assertEquals(List.of("error"), r.signals);
      assertInstanceOf(SchedulerClosedException.class, r.error.get());
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), carrier.uncaught);
    });
  }

  /** The same for a flux whose body waits in a nested scope. */
  @Test
  void fluxInANestedScopeWhenItsSchedulerClosesErrorsOnceWithTheClose() {
    TestSupport.withDroppedErrors(dropped -> {
      TestSupport.Carrier carrier = new TestSupport.Carrier();
      Trigger inScope = Trigger.create();
      Recorder<Integer> r = new Recorder<>();
      PicosReactor.<Integer>flux(carrier.scheduler, emitter -> {
        emitter.next(1);
        inNestedScope(() -> {
          inScope.signal();
          return Computation.create().await();
        });
      }).subscribe(r);
      waitUntil(inScope::isSignaled);
      carrier.close();
      awaitLatch(r.terminated);
      assertEquals(List.of("next 1", "error"), r.signals);
      assertInstanceOf(SchedulerClosedException.class, r.error.get());
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), carrier.uncaught);
    });
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
    Flux<Integer> never = Flux.<Integer>never()
        .doOnSubscribe(s -> subscribed.countDown())
        .doOnCancel(cancelled::countDown);
    Computation<Boolean> consumer = carrier.scheduler.start(() -> {
      try (PublisherIterator<Integer> it = PicosReactor.iterate(never, 4)) {
        return it.hasNext();
      }
    });
    awaitLatch(subscribed);
    carrier.close();
    assertThrows(SchedulerClosedException.class, consumer::await);
    awaitLatch(cancelled);
  }

  /**
   * A Reactor scheduler saturated (a bounded elastic with one thread and a queue of one): a
   * new fiber is refused with a RejectedExecutionException saying so, the Picos scheduler stays
   * open, and a fiber that was suspended resumes once there is room again.
   */
  @Test
  void aSaturatedBoundedElasticRefusesNewFibersWithoutClosing() throws Exception {
    reactor.core.scheduler.Scheduler elastic =
        reactor.core.scheduler.Schedulers.newBoundedElastic(1, 1, "adv-elastic");
    Scheduler s = PicosReactor.newScheduler(elastic);
    try {
      Trigger go = Trigger.create();
      Trigger waiting = Trigger.create();
      Computation<String> suspended = s.start(() -> {
        waiting.signal();
        go.await();
        return "resumed";
      });
      waitUntil(waiting::isSignaled);
      CountDownLatch release = new CountDownLatch(1);
      CountDownLatch busy = new CountDownLatch(1);
      elastic.schedule(() -> {
        busy.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      awaitLatch(busy);
      elastic.schedule(() -> {});
      assertThrows(RejectedExecutionException.class, () -> elastic.schedule(() -> {}), "saturated");
      RejectedExecutionException refused =
          assertThrows(RejectedExecutionException.class, () -> s.start(() -> "never"));
      assertTrue(refused.getMessage().contains("saturated"), refused.getMessage());
      assertFalse(s.isClosed(), "saturation is not a disposal");
      go.signal();
      release.countDown();
      assertEquals("resumed", suspended.await());
      assertEquals("after", s.run(() -> "after"));
    } finally {
      s.close();
      elastic.dispose();
    }
  }

  /**
   * A mono on a Picos scheduler whose Reactor scheduler was just disposed (the probe has not
   * polled yet): "If the fiber cannot be started (the scheduler is closed), the subscriber gets
   * the SchedulerClosedException." It gets it, but the body has run meanwhile, to the end, on
   * the picos-orphans fallback thread: side effects the subscriber is told never started.
   */
  @Test
  void aMonoOnADisposedReactorSchedulerDoesNotRunItsBody() {
    TestSupport.withDroppedErrors(dropped -> {
      // Warm up (class loading), so that the subscription below comes well within the 50 ms
      // before the scheduler's shutdown probe first polls.
      reactor.core.scheduler.Scheduler warmSingle = reactor.core.scheduler.Schedulers.newSingle("adv-warm");
      try (Scheduler warm = PicosReactor.newScheduler(warmSingle)) {
        assertEquals("warm", PicosReactor.mono(warm, () -> "warm").block());
      } finally {
        warmSingle.dispose();
      }
      reactor.core.scheduler.Scheduler single = reactor.core.scheduler.Schedulers.newSingle("adv-single");
      Scheduler s = PicosReactor.newScheduler(single);
      single.dispose();
      AtomicReference<String> ranOn = new AtomicReference<>();
      Recorder<String> r = new Recorder<>();
      PicosReactor.mono(s, () -> {
        ranOn.set(Thread.currentThread().getName());
        return "side effect done";
      }).subscribe(r);
      awaitLatch(r.terminated);
      assertInstanceOf(SchedulerClosedException.class, r.error.get(), r.signals.toString());
      s.close();
      assertNull(ranOn.get(), "the body of a fiber that could not start ran on " + ranOn.get());
    });
  }

  // ---------------------------------------------------------------------------------------

  private static void awaitLatch(CountDownLatch latch) {
    try {
      assertTrue(latch.await(20, TimeUnit.SECONDS), "not within 20 s");
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  private static void waitUntil(BooleanSupplier condition) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("condition not reached within 20 s");
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }
}
