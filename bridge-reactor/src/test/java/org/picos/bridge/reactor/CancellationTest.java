package org.picos.bridge.reactor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Scheduler;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * A subscriber cancelling a fiber-backed Mono or Flux at every point of its life: before the
 * fiber starts, while it awaits, while it emits, after it completed. The fiber is cancelled,
 * nothing is lost (a value nobody receives reaches the discard hook, an error the
 * dropped-error hook) and nothing is reported twice (in particular not again to the carrier's
 * uncaught-exception handler); the cancellation unwinding the body is no error at all.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CancellationTest {
  private static final int RACES = 500;

  private final TestSupport.Carrier carrier = new TestSupport.Carrier();
  private final List<Object> discarded = new CopyOnWriteArrayList<>();

  @AfterEach
  void closeCarrier() {
    carrier.close();
  }

  /** Records every signal it gets, cancelled or not; its context carries a discard hook. */
  static final class Recorder<T> implements CoreSubscriber<T> {
    final List<T> values = new CopyOnWriteArrayList<>();
    final List<Throwable> errors = new CopyOnWriteArrayList<>();
    final AtomicInteger completions = new AtomicInteger();
    final CountDownLatch firstValue = new CountDownLatch(1);
    final CountDownLatch terminated = new CountDownLatch(1);
    private final long initialRequest;
    private final boolean cancelInOnSubscribe;
    private final Context context;
    volatile Subscription subscription;

    Recorder(long initialRequest, boolean cancelInOnSubscribe, List<Object> discarded) {
      this.initialRequest = initialRequest;
      this.cancelInOnSubscribe = cancelInOnSubscribe;
      this.context = Operators.enableOnDiscard(Context.empty(), discarded::add);
    }

    @Override
    public Context currentContext() {
      return context;
    }

    @Override
    public void onSubscribe(Subscription s) {
      subscription = s;
      if (cancelInOnSubscribe) {
        s.cancel();
      } else if (initialRequest > 0) {
        s.request(initialRequest);
      }
    }

    @Override
    public void onNext(T value) {
      values.add(value);
      firstValue.countDown();
    }

    @Override
    public void onError(Throwable t) {
      errors.add(t);
      terminated.countDown();
    }

    @Override
    public void onComplete() {
      completions.incrementAndGet();
      terminated.countDown();
    }

    void assertNoSignals() {
      assertEquals(List.of(), values, "values");
      assertEquals(List.of(), errors, "errors");
      assertEquals(0, completions.get(), "completions");
    }
  }

  private static void await(CountDownLatch latch, String what) {
    try {
      assertTrue(latch.await(10, TimeUnit.SECONDS), what + " within 10 s");
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** Spins for a time that varies with {@code round}, to vary how a race interleaves. */
  static void jitter(int round) {
    for (int i = (round * 7) % 256; i > 0; i--) {
      Thread.onSpinWait();
    }
  }

  private static <T> Publisher<T> flux(Scheduler s, Callable<T> value) {
    return PicosReactor.flux(s, emitter -> emitter.next(value.call()));
  }

  // ---------------------------------------------------------------------------------------
  // Mono

  @Test
  void monoFailureAfterCancellationIsReportedOnceToOnErrorDropped() {
    TestSupport.withDroppedErrors(dropped -> {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch ended = new CountDownLatch(1);
      IllegalStateException late = new IllegalStateException("cleanup failed");
      Recorder<String> r = new Recorder<>(1, false, discarded);
      PicosReactor.mono(carrier.scheduler, () -> {
        started.countDown();
        try {
          Computation.create().await();
          return "never";
        } catch (CancellationException e) {
          throw late;
        } finally {
          ended.countDown();
        }
      }).subscribe(r);
      await(started, "the body started");
      r.subscription.cancel();
      await(ended, "the body ended");
      carrier.drain();
      assertEquals(List.of(late), dropped.all());
      assertEquals(List.of(), carrier.uncaught, "reported to the uncaught-exception handler too");
      r.assertNoSignals();
    });
  }

  @Test
  void monoValueAfterCancellationGoesToTheDiscardHook() {
    TestSupport.withDroppedErrors(dropped -> {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch ended = new CountDownLatch(1);
      Recorder<String> r = new Recorder<>(1, false, discarded);
      PicosReactor.mono(carrier.scheduler, () -> {
        started.countDown();
        try {
          Computation.create().await();
          return "never";
        } catch (CancellationException e) {
          return "late";
        } finally {
          ended.countDown();
        }
      }).subscribe(r);
      await(started, "the body started");
      r.subscription.cancel();
      await(ended, "the body ended");
      carrier.drain();
      assertEquals(List.of("late"), discarded);
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), carrier.uncaught);
      r.assertNoSignals();
    });
  }

  @Test
  void monoCancellationUnwindingTheBodyIsNoError() {
    TestSupport.withDroppedErrors(dropped -> {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch ended = new CountDownLatch(1);
      List<Throwable> seen = new CopyOnWriteArrayList<>();
      Recorder<String> r = new Recorder<>(1, false, discarded);
      PicosReactor.mono(carrier.scheduler, () -> {
        started.countDown();
        try {
          Computation.create().await();
          return "never";
        } catch (CancellationException e) {
          seen.add(e);
          throw e;
        } finally {
          ended.countDown();
        }
      }).subscribe(r);
      await(started, "the body started");
      r.subscription.cancel();
      await(ended, "the body ended");
      carrier.drain();
      assertEquals(1, seen.size(), "the fiber was cancelled while it awaited");
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), carrier.uncaught);
      assertEquals(List.of(), discarded);
      r.assertNoSignals();
    });
  }

  @Test
  void monoCancelledInOnSubscribeStartsNoFiber() {
    AtomicBoolean ran = new AtomicBoolean();
    Recorder<String> r = new Recorder<>(1, true, discarded);
    PicosReactor.mono(carrier.scheduler, () -> {
      ran.set(true);
      return "never";
    }).subscribe(r);
    carrier.drain(); // a fiber started by subscribe would have run its first slice by now
    assertFalse(ran.get(), "the body ran for a subscriber that had cancelled");
    assertEquals(List.of(), discarded);
    assertEquals(List.of(), carrier.uncaught);
    r.assertNoSignals();
  }

  @Test
  void monoCancelAfterCompletionChangesNothing() {
    TestSupport.withDroppedErrors(dropped -> {
      Recorder<String> r = new Recorder<>(1, false, discarded);
      PicosReactor.mono(carrier.scheduler, () -> "v").subscribe(r);
      await(r.terminated, "the Mono completed");
      r.subscription.cancel();
      carrier.drain();
      assertEquals(List.of("v"), r.values);
      assertEquals(1, r.completions.get());
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), discarded);
      assertEquals(List.of(), carrier.uncaught);
    });
  }

  @Test
  void monoValueRacingCancelReachesTheSubscriberOrTheDiscardHookOnce() {
    raceCancel(false, (s, body) -> PicosReactor.mono(s, body));
  }

  @Test
  void monoFailureRacingCancelReachesTheSubscriberOrOnErrorDroppedOnce() {
    raceCancel(true, (s, body) -> PicosReactor.mono(s, body));
  }

  // ---------------------------------------------------------------------------------------
  // Flux

  @Test
  void fluxValueOfAnEmitStoppedByCancellationGoesToTheDiscardHook() {
    TestSupport.withDroppedErrors(dropped -> {
      CountDownLatch ended = new CountDownLatch(1);
      List<Throwable> seen = new CopyOnWriteArrayList<>();
      Recorder<Integer> r = new Recorder<>(1, false, discarded);
      PicosReactor.<Integer>flux(carrier.scheduler, emitter -> {
        try {
          emitter.next(0);
          emitter.next(1); // no demand: suspends until the cancel
        } catch (CancellationException e) {
          seen.add(e);
          throw e;
        } finally {
          ended.countDown();
        }
      }).subscribe(r);
      await(r.firstValue, "the first value");
      r.subscription.cancel();
      await(ended, "the body ended");
      carrier.drain();
      assertEquals(1, seen.size(), "emit threw the cancellation");
      assertEquals(List.of(0), r.values);
      assertEquals(List.of(1), discarded, "the value emit could not deliver");
      assertEquals(List.of(), r.errors);
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), carrier.uncaught);
    });
  }

  @Test
  void fluxFailureAfterCancellationIsReportedOnceToOnErrorDropped() {
    TestSupport.withDroppedErrors(dropped -> {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch ended = new CountDownLatch(1);
      IllegalStateException late = new IllegalStateException("cleanup failed");
      Recorder<Integer> r = new Recorder<>(1, false, discarded);
      PicosReactor.<Integer>flux(carrier.scheduler, emitter -> {
        started.countDown();
        try {
          Computation.create().await();
        } catch (CancellationException e) {
          throw late;
        } finally {
          ended.countDown();
        }
      }).subscribe(r);
      await(started, "the body started");
      r.subscription.cancel();
      await(ended, "the body ended");
      carrier.drain();
      assertEquals(List.of(late), dropped.all());
      assertEquals(List.of(), carrier.uncaught);
      r.assertNoSignals();
    });
  }

  @Test
  void fluxCancellationUnwindingTheBodyIsNoError() {
    TestSupport.withDroppedErrors(dropped -> {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch ended = new CountDownLatch(1);
      Recorder<Integer> r = new Recorder<>(1, false, discarded);
      PicosReactor.<Integer>flux(carrier.scheduler, emitter -> {
        started.countDown();
        try {
          Computation.create().await();
        } finally {
          ended.countDown();
        }
      }).subscribe(r);
      await(started, "the body started");
      r.subscription.cancel();
      await(ended, "the body ended");
      carrier.drain();
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), carrier.uncaught);
      assertEquals(List.of(), discarded);
      r.assertNoSignals();
    });
  }

  @Test
  void fluxFailureCausedByTheCancellationIsNoError() {
    TestSupport.withDroppedErrors(dropped -> {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch ended = new CountDownLatch(1);
      Recorder<Integer> r = new Recorder<>(1, false, discarded);
      PicosReactor.<Integer>flux(carrier.scheduler, emitter -> {
        started.countDown();
        try {
          Computation.create().await();
        } catch (CancellationException e) {
          throw new IllegalStateException("wrapped while unwinding", e);
        } finally {
          ended.countDown();
        }
      }).subscribe(r);
      await(started, "the body started");
      r.subscription.cancel();
      await(ended, "the body ended");
      carrier.drain();
      assertEquals(List.of(), dropped.all(), "a failure caused by the cancellation");
      assertEquals(List.of(), carrier.uncaught);
      r.assertNoSignals();
    });
  }

  @Test
  void fluxCancelAfterCompletionChangesNothing() {
    TestSupport.withDroppedErrors(dropped -> {
      Recorder<Integer> r = new Recorder<>(Long.MAX_VALUE, false, discarded);
      PicosReactor.<Integer>flux(carrier.scheduler, emitter -> {
        emitter.next(1);
        emitter.next(2);
      }).subscribe(r);
      await(r.terminated, "the Flux completed");
      r.subscription.cancel();
      carrier.drain();
      assertEquals(List.of(1, 2), r.values);
      assertEquals(1, r.completions.get());
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), discarded);
      assertEquals(List.of(), carrier.uncaught);
    });
  }

  @Test
  void fluxValueRacingCancelReachesTheSubscriberOrTheDiscardHookOnce() {
    raceCancel(false, CancellationTest::flux);
  }

  @Test
  void fluxFailureRacingCancelReachesTheSubscriberOrOnErrorDroppedOnce() {
    raceCancel(true, CancellationTest::flux);
  }

  @Test
  void fluxEmissionsRacingCancelAreEachDeliveredOrDiscardedOnce() {
    TestSupport.withDroppedErrors(dropped -> {
      for (int round = 0; round < RACES / 5; round++) {
        discarded.clear();
        AtomicInteger attempts = new AtomicInteger();
        CountDownLatch ended = new CountDownLatch(1);
        Recorder<Integer> r = new Recorder<>(Long.MAX_VALUE, false, discarded);
        PicosReactor.<Integer>flux(carrier.scheduler, emitter -> {
          try {
            for (int i = 0; ; i++) {
              attempts.incrementAndGet();
              emitter.next(i);
            }
          } finally {
            ended.countDown();
          }
        }).subscribe(r);
        await(r.firstValue, "the first value");
        r.subscription.cancel();
        await(ended, "the body ended");
        carrier.drain();
        int delivered = r.values.size();
        assertEquals(attempts.get(), delivered + discarded.size(),
            "round " + round + ": every value emitted was delivered or discarded");
        assertEquals(delivered - 1, r.values.get(delivered - 1), "in order, none twice");
        assertEquals(List.of(), r.errors);
        assertEquals(0, r.completions.get());
      }
      assertEquals(List.of(), dropped.all());
      assertEquals(List.of(), carrier.uncaught);
    });
  }

  // ---------------------------------------------------------------------------------------

  /**
   * Many rounds of: the body has started and spins; the test releases it and cancels at once,
   * so the body's value (or failure) and the cancel race. Each outcome must reach exactly one
   * place: the subscriber, or the hook (discard for a value, onErrorDropped for a failure).
   */
  private void raceCancel(boolean fail,
      BiFunction<Scheduler, Callable<Integer>, Publisher<Integer>> source) {
    TestSupport.withDroppedErrors(dropped -> {
      int toSubscriber = 0;
      int toHook = 0;
      for (int round = 0; round < RACES; round++) {
        discarded.clear();
        int before = dropped.all().size();
        Integer value = 1_000_000 + round; // a distinct object per round
        IllegalStateException failure = new IllegalStateException("round " + round);
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch ended = new CountDownLatch(1);
        AtomicBoolean go = new AtomicBoolean();
        AtomicBoolean running = new AtomicBoolean();
        Recorder<Integer> r = new Recorder<>(1, false, discarded);
        source.apply(carrier.scheduler, () -> {
          started.countDown();
          try {
            while (!go.get()) {
              Thread.onSpinWait();
            }
            running.set(true);
            if (fail) {
              throw failure;
            }
            return value;
          } finally {
            ended.countDown();
          }
        }).subscribe(r);
        await(started, "the body started");
        go.set(true);
        if (round % 2 == 1) {
          // Cancel close to the moment the body produces its outcome.
          while (!running.get()) {
            Thread.onSpinWait();
          }
        }
        jitter(round);
        r.subscription.cancel();
        await(ended, "the body ended");
        carrier.drain();
        List<Throwable> newlyDropped = dropped.all().subList(before, dropped.all().size());
        if (fail) {
          int delivered = r.errors.size();
          assertEquals(1, delivered + newlyDropped.size(), "round " + round + ": the failure"
              + " reached the subscriber " + delivered + " and the hook " + newlyDropped.size()
              + " times; uncaught: " + carrier.uncaught);
          assertSame(failure, delivered == 1 ? r.errors.get(0) : newlyDropped.get(0));
          toSubscriber += delivered;
          toHook += newlyDropped.size();
        } else {
          int delivered = r.values.size();
          assertEquals(1, delivered + discarded.size(), "round " + round + ": the value reached"
              + " the subscriber " + delivered + " and the discard hook " + discarded.size()
              + " times");
          assertSame(value, delivered == 1 ? r.values.get(0) : discarded.get(0));
          assertEquals(List.of(), newlyDropped);
          toSubscriber += delivered;
          toHook += discarded.size();
        }
        assertEquals(List.of(), carrier.uncaught, "round " + round);
      }
      assertEquals(RACES, toSubscriber + toHook);
    });
  }
}
