package org.picos.bridge.rxjava;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.schedulers.Schedulers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Trigger;

/**
 * The RxJava guard refuses every blocking Picos wait outside a fiber on the computation and
 * single threads, which RxJava marks as non-blocking; I/O threads may wait.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BlockingGuardTest {
  static final int ATTEMPTS = 200;

  @Test
  void everyFastPathWaitOnAComputationOrSingleThreadIsRefused() {
    Computation<Integer> done = Computation.create();
    done.tryReturn(1);
    Map<String, Callable<?>> waits = Map.of(
        "completed Computation.await", done::await,
        "signalled Trigger.await", () -> {
          Trigger t = Trigger.create();
          t.signal();
          return t.await();
        },
        "PicosRx.await of Single.just", () -> PicosRx.await(Single.just(1)));
    List<String> passed = new ArrayList<>();
    for (Scheduler host : List.of(Schedulers.computation(), Schedulers.single())) {
      for (int i = 0; i < ATTEMPTS; i++) {
        for (Map.Entry<String, Callable<?>> wait : waits.entrySet()) {
          Throwable e = Single.fromCallable(wait.getValue()).subscribeOn(host)
              .map(v -> new Throwable("passed")).onErrorReturn(t -> t).blockingGet();
          if (!(e instanceof IllegalStateException)
              || !e.getMessage().contains("an RxJava non-blocking thread")
              || !e.getMessage().contains("call it from a fiber")) {
            passed.add(wait.getKey() + " on " + host + " #" + i + ": " + e);
          }
        }
      }
    }
    assertTrue(passed.isEmpty(), passed.size() + " waits passed, first: " + passed);
  }

  @Test
  void anIoThreadMayWait() {
    Computation<Integer> done = Computation.create();
    done.tryReturn(1);
    assertEquals(1, Single.fromCallable(done::await).subscribeOn(Schedulers.io()).blockingGet());
  }
}
