package com.example.thirdparty;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.picos.tck.SchedulerTck;
import org.picos.tck.StdTck;

/**
 * The kits as a third party uses them: subclasses in a package of their own, on a scheduler of
 * their own (here an executor scheduler over their pool), running every inherited test and
 * overriding one to add a check of their own around the kit's.
 */
class ThirdPartyKitTest {
  private static final class Pool {
    final AtomicInteger tasks = new AtomicInteger();
    final ExecutorService threads = Executors.newFixedThreadPool(2);
    Scheduler scheduler;

    Scheduler scheduler() {
      scheduler = Schedulers.onExecutor(task -> {
        tasks.incrementAndGet();
        threads.execute(task);
      });
      return scheduler;
    }

    /** Runs before the kit's own clean-up (JUnit runs a subclass's first): close, then stop. */
    void stop() throws InterruptedException {
      if (scheduler != null) {
        scheduler.close();
      }
      threads.shutdown();
      assertTrue(threads.awaitTermination(30, TimeUnit.SECONDS));
    }
  }

  @Nested
  class Core extends SchedulerTck {
    private final Pool pool = new Pool();

    @Override
    protected Scheduler newScheduler() {
      return pool.scheduler();
    }

    /** The kit's test, and then the third party's own check that the pool did the work. */
    @Test
    @Override
    protected void manyFibersAliveAtOnce() {
      super.manyFibersAliveAtOnce();
      assertTrue(pool.tasks.get() >= manyFibers(), "every fiber ran on our pool: " + pool.tasks);
    }

    @AfterEach
    void stopPool() throws InterruptedException {
      pool.stop();
    }
  }

  @Nested
  class Std extends StdTck {
    private final Pool pool = new Pool();

    @Override
    protected Scheduler newScheduler() {
      return pool.scheduler();
    }

    @AfterEach
    void stopPool() throws InterruptedException {
      pool.stop();
    }
  }
}
