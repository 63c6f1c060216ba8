package org.picos.bridge.reactor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Trigger;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/** The Reactor guard refuses every blocking Picos wait outside a fiber on a non-blocking thread. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BlockingGuardTest {
  static final int ATTEMPTS = 200;

  @Test
  void everyFastPathWaitOnAParallelThreadIsRefused() {
    Mono<Integer> cached = Mono.just(1).cache();
    assertEquals(1, cached.block()); // resolved: every later await is a fast path
    Computation<Integer> done = Computation.create();
    done.tryReturn(1);
    Map<String, Callable<?>> waits = Map.of(
        "completed Computation.await", done::await,
        "signalled Trigger.await", () -> {
          Trigger t = Trigger.create();
          t.signal();
          return t.await();
        },
        "PicosReactor.await of a resolved cached Mono", () -> PicosReactor.await(cached),
        "PicosReactor.awaitFirst of Flux.just", () -> PicosReactor.awaitFirst(Flux.just(1)));
    Scheduler parallel = Schedulers.parallel();
    List<String> passed = new ArrayList<>();
    for (int i = 0; i < ATTEMPTS; i++) {
      for (Map.Entry<String, Callable<?>> wait : waits.entrySet()) {
        Throwable e = Mono.fromCallable(wait.getValue()).subscribeOn(parallel)
            .map(v -> (Throwable) null).onErrorResume(Mono::just).block();
        if (!(e instanceof IllegalStateException)
            || !e.getMessage().contains("a Reactor non-blocking thread")
            || !e.getMessage().contains("call it from a fiber")) {
          passed.add(wait.getKey() + " #" + i + ": " + e);
        }
      }
    }
    assertTrue(passed.isEmpty(), passed.size() + " waits passed, first: " + passed);
  }
}
