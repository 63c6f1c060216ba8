package org.picos.bridge.reactor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.sched.Schedulers;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.util.context.Context;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class FluxTest {
  private final Scheduler picos = Schedulers.multi(2);

  @AfterEach
  void close() {
    picos.close();
  }

  private Flux<Integer> range(int n) {
    return PicosReactor.flux(picos, emitter -> {
      for (int i = 0; i < n; i++) {
        emitter.next(i);
      }
    });
  }

  @Test
  void emitsThenCompletesWhenTheBodyReturns() {
    StepVerifier.create(range(5)).expectNext(0, 1, 2, 3, 4).verifyComplete();
  }

  @Test
  void neverDeliversMoreThanRequested() {
    AtomicLong requested = new AtomicLong();
    AtomicLong received = new AtomicLong();
    Flux<Integer> checked = range(10)
        .doOnRequest(n -> requested.accumulateAndGet(n, reactor.core.publisher.Operators::addCap))
        .doOnNext(v -> {
          if (received.incrementAndGet() > requested.get()) {
            throw new AssertionError("onNext #" + received.get() + " with only " + requested.get() + " requested");
          }
        });
    StepVerifier.create(checked, 0)
        .thenRequest(1)
        .expectNext(0)
        .thenRequest(2)
        .expectNext(1, 2)
        .thenRequest(3)
        .expectNext(3, 4, 5)
        .thenRequest(Long.MAX_VALUE)
        .expectNext(6, 7, 8, 9)
        .verifyComplete();
    assertEquals(10, received.get());
  }

  @Test
  void emitSuspendsUntilTheSubscriberRequests() {
    List<String> log = new ArrayList<>();
    Computation<Void> waiting = Computation.create();
    Flux<Integer> flux = PicosReactor.flux(picos, emitter -> {
      emitter.next(1);
      synchronized (log) {
        log.add("emitted 1");
      }
      waiting.tryReturn(null);
      emitter.next(2);
      synchronized (log) {
        log.add("emitted 2");
      }
    });
    StepVerifier.create(flux, 1)
        .expectNext(1)
        .then(() -> {
          waiting.await();
          synchronized (log) {
            // The body is suspended in emit(2), or about to: without demand it cannot return.
            assertEquals(List.of("emitted 1"), log);
          }
        })
        .thenRequest(1)
        .expectNext(2)
        .verifyComplete();
    assertEquals(List.of("emitted 1", "emitted 2"), log);
  }

  @Test
  void bodyFailuresErrorTheFluxWithTheSameException() {
    IOException failure = new IOException("disk gone");
    Flux<Integer> flux = PicosReactor.flux(picos, emitter -> {
      emitter.next(1);
      throw failure;
    });
    StepVerifier.create(flux).expectNext(1).expectErrorSatisfies(e -> assertSame(failure, e)).verify();
  }

  @Test
  void cancellingTheSubscriptionCancelsTheFiberAndEmitThrows() {
    Computation<Throwable> seen = Computation.create();
    Flux<Integer> flux = PicosReactor.flux(picos, emitter -> {
      try {
        for (int i = 0; ; i++) {
          emitter.next(i);
        }
      } catch (CancellationException e) {
        seen.tryReturn(e);
        throw e;
      }
    });
    StepVerifier.create(flux, 2).expectNext(0, 1).thenCancel().verify();
    Throwable cause = seen.await();
    assertEquals("The subscriber cancelled its subscription", cause.getMessage());
  }

  @Test
  void cancellationWakesTheFiberWhereverItAwaits() {
    Computation<Throwable> seen = Computation.create();
    Computation<Void> awaiting = Computation.create();
    Flux<Integer> flux = PicosReactor.flux(picos, emitter -> {
      emitter.next(1);
      awaiting.tryReturn(null);
      try {
        Computation.create().await();
      } catch (CancellationException e) {
        seen.tryReturn(e);
      }
    });
    Disposable d = flux.subscribe();
    awaiting.await();
    d.dispose();
    assertInstanceOf(CancellationException.class, seen.await());
  }

  @Test
  void closingTheSchedulerEndsTheFluxWithTheShutdown() {
    Scheduler s = Schedulers.fifo();
    Computation<Void> suspended = Computation.create();
    Flux<Integer> flux = PicosReactor.flux(s, emitter -> {
      emitter.next(1);
      suspended.tryReturn(null);
      emitter.next(2);
    });
    StepVerifier.create(flux, 1)
        .expectNext(1)
        .then(() -> {
          suspended.await();
          s.close();
        })
        .expectError(SchedulerClosedException.class)
        .verify(Duration.ofSeconds(10));
  }

  @Test
  void aFailureAfterCancellationGoesToOnErrorDropped() {
    TestSupport.withDroppedErrors(dropped -> {
      IllegalStateException late = new IllegalStateException("failed while unwinding");
      Flux<Integer> flux = PicosReactor.flux(picos, emitter -> {
        try {
          for (int i = 0; ; i++) {
            emitter.next(i);
          }
        } catch (CancellationException e) {
          throw late;
        }
      });
      StepVerifier.create(flux, 1).expectNext(0).thenCancel().verify();
      assertSame(late, dropped.first.orTimeout(10, TimeUnit.SECONDS).join());
    });
  }

  @Test
  void theBodyReadsTheSubscribersContextAndAwaitedPublishersSeeIt() {
    Flux<String> flux = PicosReactor.flux(picos, emitter -> {
      emitter.next("body sees " + PicosReactor.context().get("user"));
      emitter.next(PicosReactor.await(
          reactor.core.publisher.Mono.deferContextual(ctx -> reactor.core.publisher.Mono.just("inner sees " + ctx.get("user")))));
    });
    StepVerifier.create(flux.contextWrite(Context.of("user", "ada")))
        .expectNext("body sees ada", "inner sees ada")
        .verifyComplete();
  }

  @Test
  void aNonPositiveRequestEndsTheFluxWithIllegalArgumentException() {
    Computation<Throwable> error = Computation.create();
    Computation<Throwable> bodySaw = Computation.create();
    Flux<Integer> flux = PicosReactor.flux(picos, emitter -> {
      try {
        emitter.next(1);
        emitter.next(2);
      } catch (CancellationException e) {
        bodySaw.tryReturn(e);
        throw e;
      }
    });
    // A CoreSubscriber reaches the Flux without Reactor's StrictSubscriber in between.
    flux.subscribe(new CoreSubscriber<Integer>() {
      Subscription s;

      @Override
      public void onSubscribe(Subscription s) {
        this.s = s;
        s.request(1);
      }

      @Override
      public void onNext(Integer value) {
        s.request(0);
      }

      @Override
      public void onError(Throwable t) {
        error.tryReturn(t);
      }

      @Override
      public void onComplete() {
        error.tryReturn(null);
      }
    });
    Throwable e = error.await();
    assertInstanceOf(IllegalArgumentException.class, e);
    assertEquals("Reactive Streams rule 3.9: request(0) needs n > 0", e.getMessage());
    assertTrue(bodySaw.await().getMessage().contains("requested 0 elements"));
  }

  @Test
  void emitRejectsNullsAndOtherFibers() {
    Flux<Integer> nulls = PicosReactor.flux(picos, emitter -> emitter.next(null));
    StepVerifier.create(nulls)
        .expectErrorSatisfies(e -> {
          assertInstanceOf(NullPointerException.class, e);
          assertTrue(e.getMessage().contains("rule 2.13"), e.getMessage());
        })
        .verify();
    Flux<Integer> fromChild = PicosReactor.flux(picos, emitter -> Fiber.spawn(() -> {
      emitter.next(1);
      return null;
    }).await());
    StepVerifier.create(fromChild)
        .expectErrorSatisfies(e -> {
          assertInstanceOf(IllegalStateException.class, e);
          assertEquals("Emitter.next must be called from the fiber running the body, while the body"
              + " runs; to produce from other fibers or threads, hand their items to the body's"
              + " fiber (for example through a Channel)", e.getMessage());
        })
        .verify();
  }

  @Test
  void isCanceledReportsTheSubscribersCancellation() {
    Computation<Boolean> seen = Computation.create();
    Flux<Integer> flux = PicosReactor.flux(picos, emitter -> {
      emitter.next(1);
      try {
        emitter.next(2);
      } finally {
        seen.tryReturn(emitter.isCancelled());
      }
    });
    StepVerifier.create(flux, 1).expectNext(1).thenCancel().verify();
    assertTrue(seen.await());
  }

  @Test
  void withoutASchedulerRunsOnTheSubscribingFibersScheduler() {
    Flux<String> where = PicosReactor.flux(emitter -> emitter.next(Thread.currentThread().getName()));
    String prefix = picos.run(() -> Thread.currentThread().getName().replaceAll("-\\d+$", "-"));
    String inner = picos.run(() -> PicosReactor.awaitFirst(where));
    assertTrue(inner.startsWith(prefix), inner + " should run on " + prefix);
  }

  @Test
  void aSubscriberCancellingInOnSubscribeStartsNoFiber() {
    Scheduler s = Schedulers.fifo();
    boolean[] ran = {false};
    PicosReactor.flux(s, emitter -> ran[0] = true).subscribe(new reactor.core.publisher.BaseSubscriber<Object>() {
      @Override
      protected void hookOnSubscribe(Subscription subscription) {
        cancel();
      }
    });
    s.close(); // waits for every fiber of s to end
    assertFalse(ran[0]);
  }

  @Test
  void awaitFirstOfAFiberFluxCancelsTheProducingFiber() {
    Computation<Throwable> producerSaw = Computation.create();
    Flux<Integer> endless = PicosReactor.flux(picos, emitter -> {
      try {
        for (int i = 0; ; i++) {
          emitter.next(i);
        }
      } catch (CancellationException e) {
        producerSaw.tryReturn(e);
      }
    });
    assertEquals(0, picos.run(() -> PicosReactor.awaitFirst(endless)));
    assertEquals("The subscriber cancelled its subscription", producerSaw.await().getMessage());
  }

  @Test
  void emitStopsOnCancellationEvenWhenTheBodyForbidsCancellation() {
    Computation<Throwable> seen = Computation.create();
    Flux<Integer> flux = PicosReactor.flux(picos, emitter -> Fiber.forbid(() -> {
      emitter.next(1);
      try {
        emitter.next(2);
      } catch (CancellationException e) {
        seen.tryReturn(e);
      }
      return null;
    }));
    StepVerifier.create(flux, 1).expectNext(1).thenCancel().verify();
    assertEquals("The subscriber cancelled its subscription", seen.await().getMessage());
  }

  @Test
  void nullArgumentsAreRejected() {
    assertThrows(NullPointerException.class, () -> PicosReactor.flux(null));
    assertThrows(NullPointerException.class, () -> PicosReactor.flux(null, e -> {}));
  }
}
