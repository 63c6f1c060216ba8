package org.picos.tck.bridges;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.picos.Scheduler;
import org.picos.bridge.future.PicosFutures;
import org.picos.tck.SchedulerTck;

/** Runs the compatibility kit against the CompletableFuture bridge's executor schedulers. */
class FuturesKitTest {
  /** The JVM's common pool: LIFO mode, and on a 2-core machine a single worker thread. */
  @Nested
  class OnCommonPool extends SchedulerTck {
    @Override
    protected Scheduler newScheduler() {
      return PicosFutures.scheduler(ForkJoinPool.commonPool());
    }

    @Override
    protected void checkHost() {
      if (!(Thread.currentThread() instanceof ForkJoinWorkerThread worker
          && worker.getPool() == ForkJoinPool.commonPool())) {
        throw new AssertionError("fiber left the common pool: on " + Thread.currentThread());
      }
    }
  }

  @Nested
  class OnFixedThreadPool extends SchedulerTck {
    private ExecutorService pool;

    @Override
    protected Scheduler newScheduler() {
      pool = Executors.newFixedThreadPool(3, r -> {
        Thread t = new Thread(r, "futures-kit-pool");
        t.setDaemon(true);
        return t;
      });
      return PicosFutures.scheduler(pool);
    }

    @Override
    protected void checkHost() {
      if (!Thread.currentThread().getName().equals("futures-kit-pool")) {
        throw new AssertionError("fiber left its executor: on " + Thread.currentThread());
      }
    }

    @AfterEach
    void stopPool() {
      pool.shutdownNow();
    }
  }
}
