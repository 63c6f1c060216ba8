package org.picos.bridge.reactor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.picos.Scheduler;
import org.picos.reactive.PublisherIterator;
import org.picos.sched.Schedulers;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;
import reactor.util.context.Context;

/**
 * Every verb of the Reactor facade that stands on picos-reactive, on real Reactor pipelines:
 * the await family (elements, empty, too many, cancellation), iterate (default prefetch, close
 * while waiting, second iterator()), toMono and the flux emitter's names. RxVerbsTest checks the
 * same verbs of PicosRx.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ReactorVerbsTest {
  private final Scheduler picos = Schedulers.multi(2);

  @AfterEach
  void close() {
    picos.close();
  }

  @Test
  void awaitFamilyOnElements() {
    Flux<Integer> three = Flux.range(1, 3);
    assertEquals(List.of(1, 1, 1, 3, 3, 3, 7, 7, 7), picos.run(() -> List.of(
        PicosReactor.awaitFirst(three), PicosReactor.awaitFirstOrNull(three),
        PicosReactor.awaitFirstOrDefault(three, 0),
        PicosReactor.awaitLast(three), PicosReactor.awaitLastOrNull(three),
        PicosReactor.awaitLastOrDefault(three, 0),
        PicosReactor.awaitSingle(Flux.just(7)), PicosReactor.awaitSingleOrNull(Flux.just(7)),
        PicosReactor.awaitSingleOrDefault(Flux.just(7), 0))));
  }

  @Test
  void awaitFamilyOnEmpty() {
    Flux<Integer> empty = Flux.<Integer>empty().delaySubscription(Duration.ofMillis(1));
    picos.run(() -> {
      assertTrue(assertThrows(NoSuchElementException.class, () -> PicosReactor.awaitFirst(empty))
          .getMessage().startsWith("awaitFirst"));
      assertTrue(assertThrows(NoSuchElementException.class, () -> PicosReactor.awaitLast(empty))
          .getMessage().startsWith("awaitLast"));
      assertTrue(assertThrows(NoSuchElementException.class, () -> PicosReactor.awaitSingle(empty))
          .getMessage().startsWith("awaitSingle"));
      assertNull(PicosReactor.awaitFirstOrNull(empty));
      assertNull(PicosReactor.awaitLastOrNull(empty));
      assertNull(PicosReactor.awaitSingleOrNull(empty));
      assertEquals(5, PicosReactor.awaitFirstOrDefault(empty, 5));
      assertEquals(5, PicosReactor.awaitLastOrDefault(empty, 5));
      assertEquals(5, PicosReactor.awaitSingleOrDefault(empty, 5));
      assertNull(PicosReactor.await(Mono.<Integer>empty().delaySubscription(Duration.ofMillis(1))));
      assertEquals(5, PicosReactor.awaitOrDefault(Mono.<Integer>empty().hide(), 5));
      assertEquals(6, PicosReactor.awaitOrDefault(Mono.just(6).hide(), 5));
      return null;
    });
  }

  @Test
  void awaitSingleOnTooManyFailsAndCancelsTheFlux() {
    CountDownLatch cancelled = new CountDownLatch(1);
    Flux<Integer> two = Flux.just(1, 2).concatWith(Flux.never()).doOnCancel(cancelled::countDown);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> picos.run(() -> PicosReactor.awaitSingle(two)));
    assertTrue(e.getMessage().contains("more than one element"), e.getMessage());
    assertEquals(0, cancelled.getCount());
  }

  @Test
  void cancellingTheAwaitingFiberCancelsTheFlux() throws Exception {
    CountDownLatch subscribed = new CountDownLatch(1);
    CountDownLatch cancelled = new CountDownLatch(1);
    Flux<Integer> never = Flux.<Integer>never()
        .doOnSubscribe(s -> subscribed.countDown()).doOnCancel(cancelled::countDown);
    Computation<Integer> waiting = Schedulers.start(picos, () -> PicosReactor.awaitLast(never));
    assertTrue(subscribed.await(10, TimeUnit.SECONDS));
    CancellationException cause = new CancellationException("stop waiting");
    waiting.tryCancel(cause);
    assertTrue(cancelled.await(10, TimeUnit.SECONDS));
    assertSame(cause, assertThrows(CancellationException.class, waiting::await));
  }

  @Test
  void iterateWithTheDefaultPrefetchRequestsItFirst() {
    List<Long> requests = new CopyOnWriteArrayList<>();
    List<Integer> seen = picos.run(() -> {
      List<Integer> out = new ArrayList<>();
      try (PublisherIterator<Integer> it =
          PicosReactor.iterate(Flux.range(0, 100).doOnRequest(requests::add))) {
        for (int i : it) {
          out.add(i);
        }
      }
      return out;
    });
    assertEquals(100, seen.size());
    assertEquals(PicosReactor.DEFAULT_PREFETCH, requests.get(0));
    assertEquals(PicosReactor.DEFAULT_PREFETCH - PicosReactor.DEFAULT_PREFETCH / 4,
        requests.get(1));
  }

  @Test
  void closeWhileTheFiberAwaitsAnElementEndsTheIteration() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    Sinks.Many<Integer> sink = Sinks.many().unicast().onBackpressureBuffer();
    PublisherIterator<Integer> it = PicosReactor.iterate(
        sink.asFlux().doOnCancel(cancelled::countDown), 4);
    Computation<Boolean> waiting = Schedulers.start(picos, it::hasNext);
    Thread.sleep(50);
    it.close();
    assertFalse(waiting.await());
    assertTrue(cancelled.await(10, TimeUnit.SECONDS));
    it.iterator();
    assertTrue(assertThrows(IllegalStateException.class, it::iterator).getMessage()
        .contains("iterated once"));
  }

  @Test
  void toMonoDeliversTheOutcomeAndItsCancelCancelsTheComputation() {
    StepVerifier.create(PicosReactor.toMono(Computation.returned("v"))).expectNext("v")
        .verifyComplete();
    StepVerifier.create(PicosReactor.toMono(Computation.returned(null))).verifyComplete();
    IllegalStateException failure = new IllegalStateException("failed");
    StepVerifier.create(PicosReactor.toMono(Computation.canceled(failure)))
        .verifyErrorMatches(e -> e == failure);
    Computation<String> later = Schedulers.start(picos, () -> {
      org.picos.Fiber.sleep(Duration.ofMillis(20));
      return "later";
    });
    assertEquals("later", PicosReactor.toMono(later).block(Duration.ofSeconds(10)));

    Computation<String> running = Computation.create();
    StepVerifier.create(PicosReactor.toMono(running)).thenCancel().verify(Duration.ofSeconds(10));
    assertTrue(running.isCanceled());
    assertTrue(running.canceled().getMessage().contains("toMono"), running.canceled().getMessage());
  }

  @Test
  void fluxEmitterSpeaksNextIsCancelledAndContextView() {
    Computation<Object> contextSeen = Computation.create();
    Computation<Boolean> cancelledSeen = Computation.create();
    Flux<Integer> flux = PicosReactor.flux(picos, emitter -> {
      contextSeen.tryReturn(emitter.contextView().getOrDefault("k", "none"));
      try {
        for (int i = 0; ; i++) {
          emitter.next(i);
        }
      } finally {
        cancelledSeen.tryReturn(emitter.isCancelled());
      }
    });
    StepVerifier.create(flux.take(3).contextWrite(Context.of("k", "v")))
        .expectNext(0, 1, 2).verifyComplete();
    assertEquals("v", contextSeen.await());
    assertTrue(cancelledSeen.await(), "take(3) cancelled the fiber");
  }
}
