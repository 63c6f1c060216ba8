package org.picos.tck;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.picos.Scheduler;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;

/** Runs the compatibility kit against every core scheduler, and a seeded random one. */
class CoreSchedulersKitTest {
  @Nested
  class Fifo extends SchedulerTck {
    @Override
    protected Scheduler newScheduler() {
      return Schedulers.fifo();
    }
  }

  @Nested
  class Multi extends SchedulerTck {
    @Override
    protected Scheduler newScheduler() {
      return Schedulers.multi(2);
    }
  }

  @Nested
  class ThreadPerFiber extends SchedulerTck {
    @Override
    protected Scheduler newScheduler() {
      return Schedulers.threadPerFiber();
    }
  }

  @Nested
  class OnFixedThreadPool extends SchedulerTck {
    private ExecutorService pool;

    @Override
    protected Scheduler newScheduler() {
      pool = Executors.newFixedThreadPool(3);
      return Schedulers.onExecutor(pool);
    }

    @AfterEach
    void stopPool() {
      pool.shutdownNow();
    }
  }

  @Nested
  class OnSingleThread extends SchedulerTck {
    private ExecutorService pool;
    private volatile Thread carrier;

    @Override
    protected Scheduler newScheduler() {
      pool = Executors.newSingleThreadExecutor(r -> carrier = new Thread(r, "kit-single"));
      return Schedulers.onExecutor(pool);
    }

    @Override
    protected void checkHost() {
      if (Thread.currentThread() != carrier) {
        throw new AssertionError("fiber left its single-threaded executor: on " + Thread.currentThread());
      }
    }

    @AfterEach
    void stopPool() {
      pool.shutdownNow();
    }
  }

  /** The random scheduler with fixed seeds (reproducible) and one fresh seed per run. */
  abstract static class RandomKit extends SchedulerTck {
    private RandomExecutor executor;

    abstract long seed();

    @Override
    protected Scheduler newScheduler() {
      executor = new RandomExecutor(seed());
      System.out.println("random scheduler seed " + executor.seed());
      return ExecutorScheduler.builder(executor).name("random(seed " + seed() + ")").build();
    }

    @Override
    protected void checkHost() {
      if (!Thread.currentThread().getName().startsWith("random-scheduler-seed-")) {
        throw new AssertionError("fiber left the random scheduler's thread: on " + Thread.currentThread()
            + " (seed " + executor.seed() + ")");
      }
    }
  }

  @Nested
  class RandomSeed1 extends RandomKit {
    @Override
    long seed() {
      return 1;
    }
  }

  @Nested
  class RandomSeed42 extends RandomKit {
    @Override
    long seed() {
      return 42;
    }
  }

  @Nested
  class RandomSeedOfThisRun extends RandomKit {
    private final long seed = Long.getLong("picos.seed", System.nanoTime());

    @Override
    long seed() {
      return seed;
    }
  }
}
