package org.picos.bridge.vertx;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
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
 * The Vert.x guard refuses every blocking Picos wait outside a fiber on an event loop, on entry,
 * and its advice wins over Netty's on a Vert.x loop (which is a Netty loop too).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BlockingGuardTest {
  static final int ATTEMPTS = 200;

  @Test
  void everyFastPathWaitOnAnEventLoopIsRefusedWithVertxAdvice() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Computation<Integer> done = Computation.create();
      done.tryReturn(1);
      Map<String, Callable<?>> waits = Map.of(
          "completed Computation.await", done::await,
          "signalled Trigger.await", () -> {
            Trigger t = Trigger.create();
            t.signal();
            return t.await();
          },
          "PicosVertx.await of a succeeded future", () -> PicosVertx.await(Future.succeededFuture(1)),
          "PicosVertx.await of a failed future",
              () -> PicosVertx.await(Future.failedFuture(new IllegalArgumentException("x"))));
      List<String> passed = new ArrayList<>();
      for (int i = 0; i < ATTEMPTS; i++) {
        for (Map.Entry<String, Callable<?>> wait : waits.entrySet()) {
          Computation<Throwable> seen = Computation.create();
          vertx.runOnContext(v -> {
            try {
              wait.getValue().call();
              seen.tryReturn(null);
            } catch (Throwable e) {
              seen.tryReturn(e);
            }
          });
          Throwable e = seen.await();
          if (!(e instanceof IllegalStateException) || !e.getMessage().contains("Vert.x event-loop")
              || !e.getMessage().contains("Run this code in a fiber")) {
            passed.add(wait.getKey() + " #" + i + ": " + e);
          }
        }
      }
      assertTrue(passed.isEmpty(), passed.size() + " waits passed, first: " + passed);
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }
}
