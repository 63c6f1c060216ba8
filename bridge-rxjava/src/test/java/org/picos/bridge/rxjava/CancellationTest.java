package org.picos.bridge.rxjava;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.picos.bridge.rxjava.TestSupport.await;

import io.reactivex.rxjava3.core.CompletableObserver;
import io.reactivex.rxjava3.core.FlowableSubscriber;
import io.reactivex.rxjava3.core.MaybeObserver;
import io.reactivex.rxjava3.core.Observer;
import io.reactivex.rxjava3.core.SingleObserver;
import io.reactivex.rxjava3.disposables.Disposable;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Computation;
import org.picos.Scheduler;
import org.reactivestreams.Subscription;

/**
 * A subscriber disposing a fiber-backed Single, Maybe, Completable, Flowable or Observable at
 * every point of its life: before the fiber starts, while it awaits, while it emits, after it
 * completed. The fiber is cancelled, a failure nobody receives reaches RxJavaPlugins.onError
 * exactly once (never also the carrier's uncaught-exception handler), and the cancellation
 * unwinding the body is no error. RxJava has no hook for values: a value produced after the
 * dispose is dropped, as RxJava's own create() emitters drop it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CancellationTest {
  private static final int RACES = 300;

  private final TestSupport.Carrier carrier = new TestSupport.Carrier();
  private final TestSupport.Reported reported = new TestSupport.Reported();

  @AfterEach
  void tearDown() {
    try {
      carrier.close();
    } finally {
      reported.close();
    }
  }

  /** Every kind of source, made from a callable (emitted as the one item of a stream). */
  enum Kind {
    SINGLE {
      @Override
      void subscribe(Scheduler s, Callable<Integer> body, Recorder r) {
        PicosRx.single(s, body).subscribe((SingleObserver<Integer>) r);
      }
    },
    MAYBE {
      @Override
      void subscribe(Scheduler s, Callable<Integer> body, Recorder r) {
        PicosRx.maybe(s, body).subscribe((MaybeObserver<Integer>) r);
      }
    },
    COMPLETABLE {
      @Override
      void subscribe(Scheduler s, Callable<Integer> body, Recorder r) {
        PicosRx.completable(s, body).subscribe((CompletableObserver) r);
      }
    },
    FLOWABLE {
      @Override
      void subscribe(Scheduler s, Callable<Integer> body, Recorder r) {
        PicosRx.<Integer>flowable(s, e -> e.next(body.call())).subscribe((FlowableSubscriber<Integer>) r);
      }
    },
    OBSERVABLE {
      @Override
      void subscribe(Scheduler s, Callable<Integer> body, Recorder r) {
        PicosRx.<Integer>observable(s, e -> e.next(body.call())).subscribe((Observer<Integer>) r);
      }
    };

    abstract void subscribe(Scheduler s, Callable<Integer> body, Recorder r);
  }

  /** Records every signal it gets, disposed or not; any of the five consumer types. */
  static final class Recorder implements SingleObserver<Integer>, MaybeObserver<Integer>,
      CompletableObserver, Observer<Integer>, FlowableSubscriber<Integer> {
    final List<Integer> values = new CopyOnWriteArrayList<>();
    final List<Throwable> errors = new CopyOnWriteArrayList<>();
    final AtomicInteger completions = new AtomicInteger();
    final CountDownLatch terminated = new CountDownLatch(1);
    private final boolean disposeInOnSubscribe;
    private volatile Disposable disposable;
    private volatile Subscription subscription;

    Recorder(boolean disposeInOnSubscribe) {
      this.disposeInOnSubscribe = disposeInOnSubscribe;
    }

    @Override
    public void onSubscribe(Disposable d) {
      disposable = d;
      if (disposeInOnSubscribe) {
        d.dispose();
      }
    }

    @Override
    public void onSubscribe(Subscription s) {
      subscription = s;
      if (disposeInOnSubscribe) {
        s.cancel();
      } else {
        s.request(Long.MAX_VALUE);
      }
    }

    @Override
    public void onSuccess(Integer value) {
      values.add(value);
      terminated.countDown();
    }

    @Override
    public void onNext(Integer value) {
      values.add(value);
    }

    @Override
    public void onError(Throwable e) {
      errors.add(e);
      terminated.countDown();
    }

    @Override
    public void onComplete() {
      completions.incrementAndGet();
      terminated.countDown();
    }

    void dispose() {
      Subscription s = subscription;
      if (s != null) {
        s.cancel();
      } else {
        disposable.dispose();
      }
    }

    void assertNoSignals() {
      assertEquals(List.of(), values, "values");
      assertEquals(List.of(), errors, "errors");
      assertEquals(0, completions.get(), "completions");
    }
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aFailureAfterDisposeIsReportedOnceToRxJavaPlugins(Kind kind) {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch ended = new CountDownLatch(1);
    IllegalStateException late = new IllegalStateException("cleanup failed");
    Recorder r = new Recorder(false);
    kind.subscribe(carrier.scheduler, () -> {
      started.countDown();
      try {
        Computation.create().await();
        return 0;
      } catch (CancellationException e) {
        throw late;
      } finally {
        ended.countDown();
      }
    }, r);
    await(started, "the body started");
    r.dispose();
    await(ended, "the body ended");
    carrier.drain();
    assertEquals(List.of(late), reported.errors);
    assertEquals(List.of(), carrier.uncaught);
    r.assertNoSignals();
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void theCancellationUnwindingTheBodyIsNoError(Kind kind) {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch ended = new CountDownLatch(1);
    List<Throwable> seen = new CopyOnWriteArrayList<>();
    Recorder r = new Recorder(false);
    kind.subscribe(carrier.scheduler, () -> {
      started.countDown();
      try {
        Computation.create().await();
        return 0;
      } catch (CancellationException e) {
        seen.add(e);
        throw e;
      } finally {
        ended.countDown();
      }
    }, r);
    await(started, "the body started");
    r.dispose();
    await(ended, "the body ended");
    carrier.drain();
    assertEquals(1, seen.size(), "the fiber was cancelled while it awaited");
    assertEquals(List.of(), reported.errors);
    assertEquals(List.of(), carrier.uncaught);
    r.assertNoSignals();
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void disposedInOnSubscribeStartsNoFiber(Kind kind) {
    AtomicBoolean ran = new AtomicBoolean();
    Recorder r = new Recorder(true);
    kind.subscribe(carrier.scheduler, () -> {
      ran.set(true);
      return 0;
    }, r);
    carrier.drain(); // a fiber started by subscribe would have run its first slice by now
    assertFalse(ran.get(), "the body ran for a subscriber that had disposed");
    assertEquals(List.of(), reported.errors);
    assertEquals(List.of(), carrier.uncaught);
    r.assertNoSignals();
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void disposeAfterCompletionChangesNothing(Kind kind) {
    Recorder r = new Recorder(false);
    kind.subscribe(carrier.scheduler, () -> 7, r);
    await(r.terminated, "the source ended");
    r.dispose();
    carrier.drain();
    assertEquals(kind == Kind.COMPLETABLE ? List.of() : List.of(7), r.values);
    assertEquals(List.of(), r.errors);
    assertEquals(List.of(), reported.errors);
    assertEquals(List.of(), carrier.uncaught);
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aFailureRacingTheDisposeReachesTheSubscriberOrRxJavaPluginsOnce(Kind kind) {
    int toSubscriber = 0;
    for (int round = 0; round < RACES; round++) {
      int before = reported.errors.size();
      IllegalStateException failure = new IllegalStateException("round " + round);
      Recorder r = race(kind, round, () -> {
        throw failure;
      });
      List<Throwable> hooked = reported.since(before);
      assertEquals(1, r.errors.size() + hooked.size(), "round " + round + ": the failure reached"
          + " the subscriber " + r.errors.size() + " and RxJavaPlugins " + hooked.size()
          + " times; uncaught: " + carrier.uncaught);
      assertSame(failure, r.errors.isEmpty() ? hooked.get(0) : r.errors.get(0));
      assertEquals(List.of(), carrier.uncaught, "round " + round);
      toSubscriber += r.errors.size();
    }
    assertTrue(toSubscriber <= RACES);
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aValueRacingTheDisposeIsDeliveredAtMostOnceAndIsNoError(Kind kind) {
    for (int round = 0; round < RACES; round++) {
      Integer value = 1_000_000 + round;
      Recorder r = race(kind, round, () -> value);
      if (kind != Kind.COMPLETABLE) {
        assertTrue(r.values.isEmpty() || r.values.equals(List.of(value)),
            "round " + round + ": " + r.values);
      }
      assertEquals(List.of(), r.errors, "round " + round);
      assertEquals(List.of(), reported.errors, "round " + round);
      assertEquals(List.of(), carrier.uncaught, "round " + round);
    }
  }

  /**
   * One round of: the body has started and spins; the test releases it and disposes at once,
   * so the body's outcome and the dispose race. Returns once the body's fiber has finished.
   */
  private Recorder race(Kind kind, int round, Callable<Integer> outcome) {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch ended = new CountDownLatch(1);
    AtomicBoolean go = new AtomicBoolean();
    AtomicBoolean running = new AtomicBoolean();
    Recorder r = new Recorder(false);
    kind.subscribe(carrier.scheduler, () -> {
      started.countDown();
      try {
        while (!go.get()) {
          Thread.onSpinWait();
        }
        running.set(true);
        return outcome.call();
      } finally {
        ended.countDown();
      }
    }, r);
    await(started, "the body started");
    go.set(true);
    if (round % 2 == 1) {
      // Dispose close to the moment the body produces its outcome.
      while (!running.get()) {
        Thread.onSpinWait();
      }
    }
    TestSupport.jitter(round);
    r.dispose();
    await(ended, "the body ended");
    carrier.drain();
    return r;
  }
}
