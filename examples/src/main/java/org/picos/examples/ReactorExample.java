package org.picos.examples;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.reactive.PublisherIterator;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.sched.Schedulers;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.context.Context;

/**
 * Picos and Project Reactor, both ways: a Picos computation consumed as a {@link Mono}, a
 * fiber-produced {@link Flux} whose emitter suspends without demand, Reactor publishers awaited
 * in a fiber, and cancellation crossing the boundary. Prints what each step shows. Run it with
 * {@code mvn -q -B -DskipTests -Dtour -Dtour.main=org.picos.examples.ReactorExample -pl examples -am package}
 * (or any {@code java} with the flag {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}).
 */
public final class ReactorExample {
  private ReactorExample() {}

  public static void main(String[] args) {
    try (Scheduler picos = Schedulers.multi(2)) {
      monoFromAFiber(picos);
      backpressuredFlux(picos);
      awaitingReactorInAFiber(picos);
      cancellationCrossesTheBoundary(picos);
      fibersOnAReactorScheduler();
    }
  }

  /** A Picos computation as a Mono, reading the subscriber's Reactor context. */
  private static void monoFromAFiber(Scheduler picos) {
    Mono<String> greeting = PicosReactor.mono(picos, () -> {
      // Straight-line code in a fiber: awaiting suspends the fiber, never a thread.
      String user = PicosReactor.context().getOrDefault("user", "stranger");
      Long tick = PicosReactor.await(Mono.delay(Duration.ofMillis(20)));
      return "hello " + user + " (after delay tick " + tick + ", in a fiber: " + Fiber.inFiber() + ")";
    });
    System.out.println("1. Mono from a fiber: " + greeting.contextWrite(Context.of("user", "ada")).block());
  }

  /** A Flux produced by a fiber: emit suspends until the subscriber asks for more. */
  private static void backpressuredFlux(Scheduler picos) {
    Flux<Integer> squares = PicosReactor.flux(picos, emitter -> {
      for (int i = 1; i <= 6; i++) {
        emitter.next(i * i);
        System.out.println("   producer: emit(" + i * i + ") returned");
      }
    });
    System.out.println("2. Fiber-produced Flux, consumed in batches of 2 (limitRate):");
    squares.doOnRequest(n -> System.out.println("   subscriber requests " + n))
        .limitRate(2)
        .doOnNext(v -> System.out.println("   subscriber got " + v))
        .blockLast();
  }

  /** Reactor publishers awaited from a fiber: first, last, and bounded-prefetch iteration. */
  private static void awaitingReactorInAFiber(Scheduler picos) {
    String summary = picos.run(() -> {
      Integer first = PicosReactor.awaitFirst(Flux.range(10, 5));
      Integer last = PicosReactor.awaitLast(Flux.range(10, 5));
      int sum = 0;
      try (PublisherIterator<Integer> items = PicosReactor.iterate(Flux.range(1, 100), 16)) {
        for (int x : items) {
          sum += x;
        }
      }
      return "first " + first + ", last " + last + ", sum of 1..100 iterated with prefetch 16: " + sum;
    });
    System.out.println("3. Awaited in a fiber: " + summary);
  }

  /** Disposing a Mono cancels its fiber; cancelling a fiber cancels what it awaits. */
  private static void cancellationCrossesTheBoundary(Scheduler picos) {
    Computation<String> fiberSaw = Computation.create();
    Computation<Void> started = Computation.create();
    Mono<String> slow = PicosReactor.mono(picos, () -> {
      started.tryReturn(null);
      try {
        return PicosReactor.await(Mono.<String>never());
      } catch (CancellationException e) {
        fiberSaw.tryReturn(e.getMessage());
        throw e;
      }
    });
    var subscription = slow.subscribe();
    started.await();
    subscription.dispose();
    System.out.println("4. Disposed the Mono; its fiber saw: " + fiberSaw.await());

    Computation<String> upstream = Computation.create();
    Computation<Void> waiting = Computation.create();
    Computation<Object> fiber = picos.start(() -> PicosReactor.await(
        Mono.never().doOnSubscribe(s -> waiting.tryReturn(null))
            .doOnCancel(() -> upstream.tryReturn("upstream Mono was cancelled"))));
    waiting.await();
    fiber.tryCancel(new CancellationException("fiber cancelled by its owner"));
    System.out.println("   Cancelled the awaiting fiber: " + upstream.await());
  }

  /** Reactor's own schedulers carrying fibers, and a Picos scheduler under publishOn. */
  private static void fibersOnAReactorScheduler() {
    reactor.core.scheduler.Scheduler single = reactor.core.scheduler.Schedulers.newSingle("reactor-single");
    try (Scheduler onReactor = PicosReactor.newScheduler(single)) {
      String where = onReactor.run(() -> {
        String before = Thread.currentThread().getName();
        PicosReactor.await(Mono.delay(Duration.ofMillis(10)));
        return "fiber ran on " + before + ", resumed on " + Thread.currentThread().getName();
      });
      System.out.println("5. Fiber on a Reactor scheduler: " + where);
      String tasks = Flux.range(1, 3)
          .publishOn(PicosReactor.asReactorScheduler(onReactor))
          .map(i -> i + (Fiber.inFiber() ? " in a fiber" : " on a thread"))
          .collectList()
          .block()
          .toString();
      System.out.println("   publishOn(asReactorScheduler(...)): " + tasks);
    } finally {
      single.dispose();
    }
  }
}
