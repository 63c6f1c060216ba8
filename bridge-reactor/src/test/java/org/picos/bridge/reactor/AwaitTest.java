package org.picos.bridge.reactor;

import org.picos.reactive.PublisherIterator;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.util.context.Context;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class AwaitTest {
  private final Scheduler picos = Schedulers.multi(2);

  @AfterEach
  void close() {
    picos.close();
  }

  @Test
  void awaitReturnsTheValueOrNullWhenEmpty() {
    assertEquals("x", picos.run(() -> PicosReactor.await(Mono.just("x"))));
    assertNull(picos.run(() -> PicosReactor.await(Mono.empty())));
    assertEquals("late", picos.run(() -> PicosReactor.await(Mono.delay(Duration.ofMillis(20)).map(t -> "late"))));
  }

  @Test
  void awaitOfAMonoThatHasItsValueDoesNotSuspend() {
    try (Scheduler fifo = Schedulers.fifo()) {
      fifo.run(() -> {
        AtomicBoolean siblingRan = new AtomicBoolean();
        Sinks.One<String> late = Sinks.one();
        Computation<Void> sibling = Fiber.spawn(() -> {
          siblingRan.set(true);
          late.tryEmitValue("late");
          return null;
        });
        // On one FIFO carrier the sibling runs only if this fiber suspends or yields.
        assertEquals("x", PicosReactor.await(Mono.just("x")));
        assertNull(PicosReactor.await(Mono.empty()));
        IllegalStateException failure = new IllegalStateException("failed");
        assertSame(failure, assertThrows(IllegalStateException.class,
            () -> PicosReactor.await(Mono.error(failure))));
        assertFalse(siblingRan.get(), "await of a Mono with its value suspended the fiber");
        // Control: awaiting a Mono that has no value yet suspends, so the sibling runs (and only
        // it can give the value).
        assertEquals("late", PicosReactor.await(late.asMono()));
        assertTrue(siblingRan.get());
        return sibling.await();
      });
    }
  }

  @Test
  void awaitKeepsTheErrorAsIs() {
    IllegalStateException unchecked = new IllegalStateException("bad");
    assertSame(unchecked, assertThrows(IllegalStateException.class,
        () -> picos.run(() -> PicosReactor.await(Mono.error(unchecked)))));
    IOException checked = new IOException("io");
    CompletionException wrapped = assertThrows(CompletionException.class,
        () -> picos.run(() -> PicosReactor.await(Mono.error(checked))));
    assertSame(checked, wrapped.getCause());
  }

  @Test
  void awaitFirstTakesOneElementAndCancels() {
    List<Long> requests = new CopyOnWriteArrayList<>();
    Sinks.Empty<Void> canceled = Sinks.empty();
    Flux<Integer> flux = Flux.range(1, 100).doOnRequest(requests::add).doOnCancel(canceled::tryEmitEmpty);
    assertEquals(1, picos.run(() -> PicosReactor.awaitFirst(flux)));
    assertEquals(List.of(1L), requests);
    canceled.asMono().block(Duration.ofSeconds(10));
  }

  @Test
  void awaitLastTakesTheLastElement() {
    assertEquals(100, picos.run(() -> PicosReactor.awaitLast(Flux.range(1, 100))));
  }

  @Test
  void emptyFluxesHaveNoFirstOrLast() {
    NoSuchElementException first = assertThrows(NoSuchElementException.class,
        () -> picos.run(() -> PicosReactor.awaitFirst(Flux.empty())));
    assertEquals("awaitFirst: the publisher completed without any element; use the OrNull or"
        + " OrDefault form where empty is possible", first.getMessage());
    NoSuchElementException last = assertThrows(NoSuchElementException.class,
        () -> picos.run(() -> PicosReactor.awaitLast(Flux.empty())));
    assertTrue(last.getMessage().startsWith("awaitLast: the publisher completed without any element"),
        last.getMessage());
  }

  @Test
  void cancellingTheAwaitingFiberCancelsTheSubscription() {
    Sinks.Empty<Void> subscribed = Sinks.empty();
    Sinks.Empty<Void> canceled = Sinks.empty();
    Mono<String> never = Mono.<String>never()
        .doOnSubscribe(s -> subscribed.tryEmitEmpty())
        .doOnCancel(canceled::tryEmitEmpty);
    Computation<String> fiber = picos.start(() -> PicosReactor.await(never));
    subscribed.asMono().block(Duration.ofSeconds(10));
    CancellationException cause = new CancellationException("stop waiting");
    fiber.tryCancel(cause);
    canceled.asMono().block(Duration.ofSeconds(10));
    assertSame(cause, assertThrows(CancellationException.class, fiber::await));
  }

  @Test
  void onAPlainThreadTheyBlockLikeBlock() {
    assertEquals("late", PicosReactor.await(Mono.delay(Duration.ofMillis(20)).map(t -> "late")));
    assertEquals(3, PicosReactor.awaitLast(Flux.just(1, 2, 3).delayElements(Duration.ofMillis(5))));
  }

  @Test
  void onAReactorNonBlockingThreadOutsideAFiberTheyRefuse() {
    Mono<String> blockingOnParallel = Mono.fromCallable(() -> PicosReactor.await(Mono.<String>never()))
        .subscribeOn(reactor.core.scheduler.Schedulers.parallel());
    IllegalStateException refused = assertThrows(IllegalStateException.class, blockingOnParallel::block);
    assertTrue(refused.getMessage().startsWith("A Picos wait outside a fiber would block thread parallel-"), refused.getMessage());
    assertTrue(refused.getMessage().endsWith(", a Reactor non-blocking thread, which is not allowed (as for"
        + " block()); call it from a fiber (for example in PicosReactor.mono(...)), or subscribe instead"),
        refused.getMessage());
  }

  @Test
  void anyPicosWaitOnAReactorNonBlockingThreadOutsideAFiberIsRefused() {
    PicosReactor.context(); // the guard is installed with the facade
    org.picos.Computation<String> never = org.picos.Computation.create();
    Mono<String> waitingOnParallel = Mono.fromCallable(never::await)
        .subscribeOn(reactor.core.scheduler.Schedulers.parallel());
    IllegalStateException refused = assertThrows(IllegalStateException.class, waitingOnParallel::block);
    assertTrue(refused.getMessage().startsWith("A Picos wait outside a fiber would block thread parallel-"),
        refused.getMessage());
  }

  @Test
  void awaitedPublishersSeeTheFibersContext() {
    Mono<String> inner = Mono.deferContextual(ctx -> Mono.just(ctx.getOrDefault("k", "no context")));
    Mono<String> outer = PicosReactor.mono(picos, () -> PicosReactor.await(inner));
    assertEquals("v", outer.contextWrite(Context.of("k", "v")).block());
    assertEquals("no context", picos.run(() -> PicosReactor.await(inner)));
  }

  @Test
  void iterateRequestsInBoundedBatches() {
    List<Long> requests = new CopyOnWriteArrayList<>();
    Flux<Integer> flux = Flux.range(0, 20).doOnRequest(requests::add);
    List<Integer> seen = picos.run(() -> {
      List<Integer> out = new ArrayList<>();
      try (PublisherIterator<Integer> items = PicosReactor.iterate(flux, 8)) {
        for (int x : items) {
          out.add(x);
        }
      }
      return out;
    });
    assertEquals(20, seen.size());
    assertEquals(19, seen.get(19));
    assertEquals(8L, requests.get(0));
    for (Long r : requests.subList(1, requests.size())) {
      assertEquals(6L, r);
    }
  }

  @Test
  void iterateSuspendsForAFiberProducedFlux() {
    Flux<Integer> produced = PicosReactor.flux(picos, emitter -> {
      for (int i = 0; i < 1000; i++) {
        emitter.next(i);
      }
    });
    long sum = picos.run(() -> {
      long s = 0;
      try (PublisherIterator<Integer> items = PicosReactor.iterate(produced, 16)) {
        while (items.hasNext()) {
          s += items.next();
        }
      }
      return s;
    });
    assertEquals(999L * 1000 / 2, sum);
  }

  @Test
  void iterateRethrowsTheErrorOnceThenEnds() {
    IllegalStateException failure = new IllegalStateException("mid-stream");
    Flux<Integer> flux = Flux.concat(Flux.just(1, 2), Flux.error(failure));
    picos.run(() -> {
      PublisherIterator<Integer> items = PicosReactor.iterate(flux, 4);
      assertEquals(1, items.next());
      assertEquals(2, items.next());
      assertSame(failure, assertThrows(IllegalStateException.class, items::hasNext));
      assertFalse(items.hasNext());
      assertThrows(NoSuchElementException.class, items::next);
      return null;
    });
  }

  @Test
  void closingTheIteratorEarlyCancelsTheSubscription() {
    Sinks.Empty<Void> canceled = Sinks.empty();
    Flux<Long> endless = Flux.interval(Duration.ofMillis(1)).doOnCancel(canceled::tryEmitEmpty);
    long first = picos.run(() -> {
      try (PublisherIterator<Long> items = PicosReactor.iterate(endless, 4)) {
        return items.next();
      }
    });
    assertEquals(0L, first);
    canceled.asMono().block(Duration.ofSeconds(10));
  }

  @Test
  void cancellingTheIteratingFiberCancelsTheSubscription() {
    Sinks.Empty<Void> canceled = Sinks.empty();
    Sinks.Empty<Void> subscribed = Sinks.empty();
    Flux<Integer> never = Flux.<Integer>never()
        .doOnSubscribe(s -> subscribed.tryEmitEmpty())
        .doOnCancel(canceled::tryEmitEmpty);
    Computation<Boolean> fiber = picos.start(() -> PicosReactor.iterate(never, 4).hasNext());
    subscribed.asMono().block(Duration.ofSeconds(10));
    CancellationException cause = new CancellationException("stop iterating");
    fiber.tryCancel(cause);
    canceled.asMono().block(Duration.ofSeconds(10));
    assertSame(cause, assertThrows(CancellationException.class, fiber::await));
  }

  @Test
  void iterateRejectsBadArguments() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PicosReactor.iterate(Flux.just(1), 0));
    assertEquals("iterate: prefetch must be at least 1, was 0", e.getMessage());
    PublisherIterator<Integer> items = PicosReactor.iterate(Flux.just(1), 1);
    items.iterator();
    IllegalStateException twice = assertThrows(IllegalStateException.class, items::iterator);
    assertEquals("PublisherIterator.iterator(): this iterator was already iterated, and its elements can be"
        + " iterated once; call iterate(...) again to subscribe anew",
        twice.getMessage());
    assertInstanceOf(NullPointerException.class,
        assertThrows(NullPointerException.class, () -> PicosReactor.await(null)));
  }
}
