package org.picos.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.spi.AbstractScheduler;

/** The live-fiber set behind close(): counting, cancelling on close, spawns racing close. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class LiveFibersTest {
  private static Supplier<Scheduler> scheduler(String kind) {
    return switch (kind) {
      case "fifo" -> Schedulers::fifo;
      case "multi" -> () -> Schedulers.multi(2);
      default -> Schedulers::threadPerFiber;
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"fifo", "multi", "threadPerFiber"})
  void closeCancelsEverySuspendedFiberAndLeavesNoneLive(String kind) throws InterruptedException {
    Scheduler s = scheduler(kind).get();
    int count = 500;
    CountDownLatch suspending = new CountDownLatch(count);
    List<Computation<?>> fibers = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      fibers.add(s.start(() -> {
        suspending.countDown();
        return Trigger.create().await();
      }));
    }
    suspending.await();
    assertEquals(count, ((AbstractScheduler) s).liveFibers());
    s.close();
    for (Computation<?> f : fibers) {
      assertInstanceOf(SchedulerClosedException.class, f.canceled(), kind);
    }
    assertEquals(0, ((AbstractScheduler) s).liveFibers());
  }

  @ParameterizedTest
  @ValueSource(strings = {"fifo", "multi", "threadPerFiber"})
  void fibersThatKeepSpawningStillEndWhenClosed(String kind) throws InterruptedException {
    Scheduler s = scheduler(kind).get();
    CountDownLatch spawning = new CountDownLatch(2);
    for (int i = 0; i < 2; i++) {
      s.start(() -> {
        spawning.countDown();
        for (int n = 0; n < 1_000_000; n++) {
          Fiber.spawn(() -> Trigger.create().await());
          Fiber.yield();
        }
        return null;
      });
    }
    spawning.await();
    s.close();
    assertTrue(s.isClosed());
    assertEquals(0, ((AbstractScheduler) s).liveFibers());
  }
}
