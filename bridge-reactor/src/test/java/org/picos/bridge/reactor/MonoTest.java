package org.picos.bridge.reactor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.sched.Schedulers;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;
import reactor.util.context.Context;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class MonoTest {
  private final Scheduler picos = Schedulers.multi(2);

  @AfterEach
  void close() {
    picos.close();
  }

  @Test
  void emitsTheBodysValueFromAFiber() {
    StepVerifier.create(PicosReactor.mono(picos, () -> Fiber.inFiber() ? "in a fiber" : "not in a fiber"))
        .expectNext("in a fiber")
        .verifyComplete();
  }

  @Test
  void isColdAndStartsOneFiberPerSubscription() {
    int[] runs = {0};
    Mono<Integer> mono = PicosReactor.mono(picos, () -> {
      synchronized (runs) {
        return ++runs[0];
      }
    });
    assertEquals(0, runs[0]);
    assertEquals(1, mono.block());
    assertEquals(2, mono.block());
  }

  @Test
  void aNullResultCompletesEmpty() {
    StepVerifier.create(PicosReactor.mono(picos, () -> null)).verifyComplete();
  }

  @Test
  void failuresKeepTheirIdentity() {
    IllegalStateException unchecked = new IllegalStateException("boom");
    StepVerifier.create(PicosReactor.mono(picos, () -> {
      throw unchecked;
    })).expectErrorSatisfies(e -> assertSame(unchecked, e)).verify();
    IOException checked = new IOException("io");
    StepVerifier.create(PicosReactor.mono(picos, () -> {
      throw checked;
    })).expectErrorSatisfies(e -> assertSame(checked, e)).verify();
  }

  @Test
  void withoutASchedulerRunsOnTheSubscribingFibersScheduler() {
    Mono<String> where = PicosReactor.mono(() -> Thread.currentThread().getName());
    String outer = picos.run(() -> Thread.currentThread().getName().replaceAll("-\\d+$", ""));
    String inner = picos.run(() -> PicosReactor.await(where).replaceAll("-\\d+$", ""));
    assertEquals(outer, inner);
    // From a plain thread: the shared scheduler.
    assertTrue(where.block().startsWith(Schedulers.shared().toString().replace("shared ", "")));
  }

  @Test
  void cancellingTheSubscriptionCancelsTheFiber() {
    Computation<Throwable> seen = Computation.create();
    Computation<Void> started = Computation.create();
    Disposable subscription = PicosReactor.mono(picos, () -> {
      started.tryReturn(null);
      try {
        Computation.create().await();
        return "never";
      } catch (CancellationException e) {
        seen.tryReturn(e);
        throw e;
      }
    }).subscribe();
    started.await();
    subscription.dispose();
    Throwable cause = seen.await();
    assertEquals("The Mono subscriber cancelled its subscription", cause.getMessage());
  }

  @Test
  void aFailureAfterCancellationGoesToOnErrorDropped() {
    TestSupport.withDroppedErrors(dropped -> {
      Computation<Void> started = Computation.create();
      IllegalStateException late = new IllegalStateException("cleanup failed");
      Disposable subscription = PicosReactor.mono(picos, () -> {
        started.tryReturn(null);
        try {
          Computation.create().await();
        } catch (CancellationException e) {
          throw late;
        }
        return "never";
      }).subscribe();
      started.await();
      subscription.dispose();
      assertSame(late, dropped.first.orTimeout(10, TimeUnit.SECONDS).join());
    });
  }

  @Test
  void theBodyReadsTheSubscribersContext() {
    Mono<String> mono = PicosReactor.mono(picos, () -> PicosReactor.context().getOrDefault("user", "none"));
    StepVerifier.create(mono.contextWrite(Context.of("user", "ada")))
        .expectNext("ada")
        .verifyComplete();
    assertEquals("none", mono.block());
  }

  @Test
  void publishersAwaitedInTheBodySeeTheContext() {
    Mono<String> inner = Mono.deferContextual(ctx -> Mono.just("inner sees " + ctx.get("user")));
    Mono<String> outer = PicosReactor.mono(picos, () -> PicosReactor.await(inner));
    StepVerifier.create(outer.contextWrite(Context.of("user", "ada")))
        .expectNext("inner sees ada")
        .verifyComplete();
  }

  @Test
  void aClosedSchedulerErrorsTheMono() {
    Scheduler closed = Schedulers.fifo();
    closed.close();
    StepVerifier.create(PicosReactor.mono(closed, () -> "x"))
        .expectError(SchedulerClosedException.class)
        .verify();
  }

  @Test
  void closingTheSchedulerErrorsASubscribedMonoWithTheShutdown() {
    Scheduler s = Schedulers.fifo();
    Computation<Void> started = Computation.create();
    Mono<String> mono = PicosReactor.mono(s, () -> {
      started.tryReturn(null);
      Computation.create().await();
      return "never";
    });
    StepVerifier.create(mono)
        .then(() -> {
          started.await();
          s.close();
        })
        .expectErrorSatisfies(e -> {
          assertInstanceOf(SchedulerClosedException.class, e);
          assertTrue(e.getMessage().contains("was closed"), e.getMessage());
        })
        .verify(Duration.ofSeconds(10));
  }

  @Test
  void nullArgumentsAreRejected() {
    assertThrows(NullPointerException.class, () -> PicosReactor.mono(null));
    assertThrows(NullPointerException.class, () -> PicosReactor.mono(null, () -> 1));
  }
}
