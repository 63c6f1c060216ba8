package org.picos.bridge.rxjava;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.core.Maybe;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.processors.UnicastProcessor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.reactive.PublisherIterator;
import org.picos.sched.Schedulers;

/**
 * Every verb of the RxJava facade that stands on picos-reactive, on real RxJava pipelines: the
 * await family for Single, Maybe, Completable, Flowable and Observable (elements, empty, too
 * many, cancellation), iterate over a Flowable and an Observable (default prefetch, close while
 * waiting, second iterator()), toSingle/toMaybe/toCompletable and the emitter's names.
 * ReactorVerbsTest checks the same verbs of PicosReactor.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RxVerbsTest {
  private final Scheduler picos = Schedulers.multi(2);

  @AfterEach
  void close() {
    picos.close();
  }

  @Test
  void awaitFamilyOnElements() {
    Flowable<Integer> three = Flowable.range(1, 3);
    Observable<Integer> threeObs = Observable.range(1, 3);
    assertEquals(List.of(1, 1, 1, 3, 3, 3, 7, 7, 7, 1, 1, 1, 3, 3, 3, 7, 7, 7, 4, 4, 4),
        picos.run(() -> List.of(
            PicosRx.awaitFirst(three), PicosRx.awaitFirstOrNull(three),
            PicosRx.awaitFirstOrDefault(three, 0),
            PicosRx.awaitLast(three), PicosRx.awaitLastOrNull(three),
            PicosRx.awaitLastOrDefault(three, 0),
            PicosRx.awaitSingle(Flowable.just(7)), PicosRx.awaitSingleOrNull(Flowable.just(7)),
            PicosRx.awaitSingleOrDefault(Flowable.just(7), 0),
            PicosRx.awaitFirst(threeObs), PicosRx.awaitFirstOrNull(threeObs),
            PicosRx.awaitFirstOrDefault(threeObs, 0),
            PicosRx.awaitLast(threeObs), PicosRx.awaitLastOrNull(threeObs),
            PicosRx.awaitLastOrDefault(threeObs, 0),
            PicosRx.awaitSingle(Observable.just(7)), PicosRx.awaitSingleOrNull(Observable.just(7)),
            PicosRx.awaitSingleOrDefault(Observable.just(7), 0),
            PicosRx.await(Single.just(4)), PicosRx.await(Maybe.just(4)),
            PicosRx.awaitOrDefault(Maybe.just(4), 0))));
  }

  @Test
  void awaitFamilyOnEmpty() {
    Flowable<Integer> empty = Flowable.<Integer>empty().delay(1, TimeUnit.MILLISECONDS);
    Observable<Integer> emptyObs = Observable.<Integer>empty().delay(1, TimeUnit.MILLISECONDS);
    picos.run(() -> {
      for (Object source : List.of(empty, emptyObs)) {
        Flowable<Integer> f = source instanceof Flowable<?> ? empty : null;
        assertTrue(assertThrows(NoSuchElementException.class, () -> {
          if (f != null) {
            PicosRx.awaitFirst(f);
          } else {
            PicosRx.awaitFirst(emptyObs);
          }
        }).getMessage().startsWith("awaitFirst"));
        assertTrue(assertThrows(NoSuchElementException.class, () -> {
          if (f != null) {
            PicosRx.awaitLast(f);
          } else {
            PicosRx.awaitLast(emptyObs);
          }
        }).getMessage().startsWith("awaitLast"));
        assertTrue(assertThrows(NoSuchElementException.class, () -> {
          if (f != null) {
            PicosRx.awaitSingle(f);
          } else {
            PicosRx.awaitSingle(emptyObs);
          }
        }).getMessage().startsWith("awaitSingle"));
      }
      assertNull(PicosRx.awaitFirstOrNull(empty));
      assertNull(PicosRx.awaitLastOrNull(empty));
      assertNull(PicosRx.awaitSingleOrNull(empty));
      assertNull(PicosRx.awaitFirstOrNull(emptyObs));
      assertNull(PicosRx.awaitLastOrNull(emptyObs));
      assertNull(PicosRx.awaitSingleOrNull(emptyObs));
      assertEquals(5, PicosRx.awaitFirstOrDefault(empty, 5));
      assertEquals(5, PicosRx.awaitLastOrDefault(empty, 5));
      assertEquals(5, PicosRx.awaitSingleOrDefault(empty, 5));
      assertEquals(5, PicosRx.awaitFirstOrDefault(emptyObs, 5));
      assertEquals(5, PicosRx.awaitLastOrDefault(emptyObs, 5));
      assertEquals(5, PicosRx.awaitSingleOrDefault(emptyObs, 5));
      assertNull(PicosRx.await(Maybe.<Integer>empty().delay(1, TimeUnit.MILLISECONDS)));
      assertEquals(5, PicosRx.awaitOrDefault(Maybe.<Integer>empty(), 5));
      PicosRx.await(Completable.complete().delay(1, TimeUnit.MILLISECONDS));
      return null;
    });
  }

  @Test
  void awaitSingleOnTooManyFailsAndCancelsTheSource() {
    CountDownLatch cancelled = new CountDownLatch(2);
    Flowable<Integer> two = Flowable.just(1, 2).concatWith(Flowable.never())
        .doOnCancel(cancelled::countDown);
    Observable<Integer> twoObs = Observable.just(1, 2).concatWith(Observable.never())
        .doOnDispose(cancelled::countDown);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> picos.run(() -> PicosRx.awaitSingle(two)));
    assertTrue(e.getMessage().contains("more than one element"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> picos.run(() -> PicosRx.awaitSingleOrNull(twoObs)));
    assertEquals(0, cancelled.getCount());
  }

  @Test
  void cancellingTheAwaitingFiberDisposesTheSource() throws Exception {
    CountDownLatch subscribed = new CountDownLatch(2);
    CountDownLatch disposed = new CountDownLatch(2);
    Single<Integer> never = Single.<Integer>never()
        .doOnSubscribe(d -> subscribed.countDown()).doOnDispose(disposed::countDown);
    Observable<Integer> neverObs = Observable.<Integer>never()
        .doOnSubscribe(d -> subscribed.countDown()).doOnDispose(disposed::countDown);
    Computation<Integer> a = Schedulers.start(picos, () -> PicosRx.await(never));
    Computation<Integer> b = Schedulers.start(picos, () -> PicosRx.awaitLast(neverObs));
    assertTrue(subscribed.await(10, TimeUnit.SECONDS));
    CancellationException cause = new CancellationException("stop waiting");
    a.tryCancel(cause);
    b.tryCancel(cause);
    assertTrue(disposed.await(10, TimeUnit.SECONDS));
    assertSame(cause, assertThrows(CancellationException.class, a::await));
    assertSame(cause, assertThrows(CancellationException.class, b::await));
  }

  @Test
  void iterateAFlowableAndAnObservableWithTheDefaultPrefetch() {
    List<Long> requests = new CopyOnWriteArrayList<>();
    List<Integer> seen = picos.run(() -> {
      List<Integer> out = new ArrayList<>();
      try (PublisherIterator<Integer> it =
          PicosRx.iterate(Flowable.range(0, 100).doOnRequest(requests::add))) {
        for (int i : it) {
          out.add(i);
        }
      }
      try (PublisherIterator<Integer> it = PicosRx.iterate(Observable.range(100, 50), 8)) {
        for (int i : it) {
          out.add(i);
        }
      }
      return out;
    });
    assertEquals(150, seen.size());
    for (int i = 0; i < 150; i++) {
      assertEquals(i, seen.get(i));
    }
    assertEquals(PicosRx.DEFAULT_PREFETCH, requests.get(0));
  }

  @Test
  void closeWhileTheFiberAwaitsAnItemEndsTheIteration() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(2);
    UnicastProcessor<Integer> processor = UnicastProcessor.create();
    PublisherIterator<Integer> it =
        PicosRx.iterate(processor.doOnCancel(cancelled::countDown), 4);
    PublisherIterator<Integer> obs =
        PicosRx.iterate(Observable.<Integer>never().doOnDispose(cancelled::countDown));
    Computation<Boolean> waiting = Schedulers.start(picos, it::hasNext);
    Computation<Boolean> waitingObs = Schedulers.start(picos, obs::hasNext);
    Thread.sleep(50);
    it.close();
    obs.close();
    assertFalse(waiting.await());
    assertFalse(waitingObs.await());
    assertTrue(cancelled.await(10, TimeUnit.SECONDS));
    it.iterator();
    assertTrue(assertThrows(IllegalStateException.class, it::iterator).getMessage()
        .contains("iterated once"));
  }

  @Test
  void toSingleToMaybeToCompletableDeliverTheOutcome() {
    PicosRx.toSingle(Computation.returned("v")).test().assertResult("v");
    PicosRx.toSingle(Computation.returned(null)).test()
        .assertError(e -> e instanceof NullPointerException && e.getMessage().contains("toMaybe"));
    PicosRx.toMaybe(Computation.returned("v")).test().assertResult("v");
    PicosRx.toMaybe(Computation.returned(null)).test().assertResult();
    PicosRx.toCompletable(Computation.returned("ignored")).test().assertResult();
    IllegalStateException failure = new IllegalStateException("failed");
    PicosRx.toSingle(Computation.canceled(failure)).test().assertError(failure);
    PicosRx.toMaybe(Computation.canceled(failure)).test().assertError(failure);
    PicosRx.toCompletable(Computation.canceled(failure)).test().assertError(failure);
    Computation<String> later = Schedulers.start(picos, () -> {
      Fiber.sleep(Duration.ofMillis(20));
      return "later";
    });
    assertEquals("later", PicosRx.toSingle(later).blockingGet());
  }

  @Test
  void disposingToSingleToMaybeToCompletableCancelsTheComputation() {
    Computation<String> a = Computation.create();
    Computation<String> b = Computation.create();
    Computation<String> c = Computation.create();
    PicosRx.toSingle(a).test().dispose();
    PicosRx.toMaybe(b).test().dispose();
    PicosRx.toCompletable(c).test().dispose();
    assertTrue(a.canceled().getMessage().contains("toSingle"), a.canceled().getMessage());
    assertTrue(b.canceled().getMessage().contains("toMaybe"));
    assertTrue(c.canceled().getMessage().contains("toCompletable"));
    Computation<String> done = Computation.returned("kept");
    PicosRx.toSingle(done).test().assertResult("kept").dispose();
    assertTrue(done.isReturned(), "a completed computation is left alone");
  }

  @Test
  void flowableAndObservableEmittersSpeakNextAndIsCancelled() {
    Computation<Boolean> flowableSaw = Computation.create();
    Computation<Boolean> observableSaw = Computation.create();
    PicosRx.<Integer>flowable(picos, emitter -> {
      try {
        for (int i = 0; ; i++) {
          emitter.next(i);
        }
      } finally {
        flowableSaw.tryReturn(emitter.isCancelled());
      }
    }).take(3).test().awaitDone(10, TimeUnit.SECONDS).assertResult(0, 1, 2);
    PicosRx.<Integer>observable(picos, emitter -> {
      try {
        for (int i = 0; ; i++) {
          emitter.next(i);
        }
      } finally {
        observableSaw.tryReturn(emitter.isCancelled());
      }
    }).take(3).test().awaitDone(10, TimeUnit.SECONDS).assertResult(0, 1, 2);
    assertTrue(flowableSaw.await());
    assertTrue(observableSaw.await());
  }
}
