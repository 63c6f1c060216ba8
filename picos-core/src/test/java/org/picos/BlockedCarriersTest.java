package org.picos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.parallel.Isolated;
import org.picos.sched.Schedulers;

/**
 * The blocked-carrier detector: a stall is reported once, with the stalled fiber's own frames,
 * and nothing else is. The threshold and reporter are global, so these tests run isolated, and
 * each keeps only the reports about fibers it made (other test classes' fibers are not here, but
 * the filter keeps the assertions about what each test caused).
 */
@Isolated
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BlockedCarriersTest {
  private final LinkedBlockingQueue<BlockedCarriers.Stall> stalls = new LinkedBlockingQueue<>();

  @BeforeEach
  void watchClosely() {
    BlockedCarriers.setThreshold(Duration.ofMillis(100));
    BlockedCarriers.setReporter(stalls::add);
  }

  @AfterEach
  void restoreDefaults() {
    BlockedCarriers.setReporter(null);
    BlockedCarriers.setThreshold(Duration.ofMillis(BlockedCarriers.DEFAULT_THRESHOLD_MILLIS));
  }

  private List<BlockedCarriers.Stall> stallsOf(Fiber fiber) {
    List<BlockedCarriers.Stall> mine = new ArrayList<>();
    for (BlockedCarriers.Stall s : stalls) {
      if (s.fiber() == fiber) {
        mine.add(s);
      }
    }
    return mine;
  }

  /** Sleeps on the carrier: the stall every test provokes (a JDBC call would look the same). */
  private static void blockCarrierInStallingMethod(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static boolean mentions(BlockedCarriers.Stall s, String method) {
    for (StackTraceElement e : s.stackTrace()) {
      if (e.getClassName().equals(BlockedCarriersTest.class.getName())
          && e.getMethodName().equals(method)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void aFiberSleepingOnAFifoCarrierIsReportedOnceWithItsOwnFrames() throws Exception {
    try (Scheduler fifo = Schedulers.fifo()) {
      Fiber[] fiber = new Fiber[1];
      Computation<Thread> c = fifo.start(() -> {
        fiber[0] = Fiber.current();
        fiber[0].setName("stalling");
        blockCarrierInStallingMethod(700);
        return Thread.currentThread();
      });
      Thread carrier = c.await();
      Thread.sleep(300); // time for a second, wrong, report to show up
      List<BlockedCarriers.Stall> mine = stallsOf(fiber[0]);
      assertEquals(1, mine.size(), "one report per stall: " + mine);
      BlockedCarriers.Stall s = mine.get(0);
      assertSame(carrier, s.carrier());
      assertEquals(fifo.toString(), s.scheduler());
      assertTrue(s.blockedFor().toMillis() >= 100, s.blockedFor().toString());
      assertTrue(s.blockedFor().toMillis() < 700, s.blockedFor().toString());
      assertTrue(mentions(s, "blockCarrierInStallingMethod"), s.stackTrace().toString());
      assertTrue(s.stackTrace().stream().limit(4).anyMatch(e -> e.getClassName().equals(
          "java.lang.Thread") && e.getMethodName().startsWith("sleep")), "the blocking call on top: "
          + s.stackTrace());
      assertTrue(s.message().contains("\"stalling\"") && s.message().contains("Blocking.call"),
          s.message());
      Throwable t = s.toThrowable();
      assertEquals(s.stackTrace(), List.of(t.getStackTrace()));
    }
  }

  @Test
  void eachStallOfTheSameFiberIsReportedOnceAndAMultiCarrierIsNamed() throws Exception {
    try (Scheduler multi = Schedulers.multi(2)) {
      Fiber[] fiber = new Fiber[1];
      Computation<Thread> c = multi.start(() -> {
        fiber[0] = Fiber.current();
        blockCarrierInStallingMethod(400);
        Fiber.yield(); // ends the first stall: the carrier is watched afresh
        blockCarrierInStallingMethod(400);
        return Thread.currentThread();
      });
      c.await();
      Thread.sleep(200);
      List<BlockedCarriers.Stall> mine = stallsOf(fiber[0]);
      assertEquals(2, mine.size(), "two stalls, two reports: " + mine);
      for (BlockedCarriers.Stall s : mine) {
        assertEquals(multi.toString(), s.scheduler());
        assertTrue(mentions(s, "blockCarrierInStallingMethod"), s.stackTrace().toString());
      }
    }
  }

  @Test
  void fibersThatSuspendOftenOrLongOrMayBlockAreNeverReported() throws Exception {
    List<Fiber> fibers = new ArrayList<>();
    try (Scheduler fifo = Schedulers.fifo(); Scheduler perFiber = Schedulers.threadPerFiber()) {
      // Busy for 800 ms in all, yielding every millisecond.
      Computation<Long> busy = fifo.start(() -> {
        synchronized (fibers) {
          fibers.add(Fiber.current());
        }
        long end = System.nanoTime() + 800_000_000L;
        long spins = 0;
        while (System.nanoTime() < end) {
          long slice = System.nanoTime() + 1_000_000L;
          while (System.nanoTime() < slice) {
            spins++;
          }
          Fiber.yield();
        }
        return spins;
      });
      // Suspended for 600 ms, six thresholds.
      Computation<Void> sleeper = fifo.start(() -> {
        synchronized (fibers) {
          fibers.add(Fiber.current());
        }
        Fiber.sleep(Duration.ofMillis(600));
        return null;
      });
      // Blocks its own thread, which is allowed.
      Computation<Void> ownThread = perFiber.start(() -> {
        synchronized (fibers) {
          fibers.add(Fiber.current());
        }
        blockCarrierInStallingMethod(600);
        return null;
      });
      assertTrue(busy.await() > 0);
      assertNull(sleeper.await());
      assertNull(ownThread.await());
    }
    Thread.sleep(200);
    for (Fiber f : fibers) {
      assertEquals(List.of(), stallsOf(f), "no stall for " + f);
    }
  }

  @Test
  void aThrowingReporterDoesNotStopTheWatchdogAndZeroTurnsItOff() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    BlockedCarriers.setReporter(s -> {
      stalls.add(s);
      calls.incrementAndGet();
      throw new IllegalStateException("reporter failure (expected by the test)");
    });
    try (Scheduler fifo = Schedulers.fifo()) {
      Fiber[] first = new Fiber[1];
      fifo.start(() -> {
        first[0] = Fiber.current();
        blockCarrierInStallingMethod(400);
        return null;
      }).await();
      assertEquals(1, stallsOf(first[0]).size());

      Fiber[] second = new Fiber[1];
      fifo.start(() -> {
        second[0] = Fiber.current();
        blockCarrierInStallingMethod(400);
        return null;
      }).await();
      assertEquals(1, stallsOf(second[0]).size(), "the watchdog went on after a failure");

      BlockedCarriers.setThreshold(Duration.ZERO);
      assertEquals(Duration.ZERO, BlockedCarriers.threshold());
      Fiber[] unseen = new Fiber[1];
      fifo.start(() -> {
        unseen[0] = Fiber.current();
        blockCarrierInStallingMethod(400);
        return null;
      }).await();
      assertEquals(List.of(), stallsOf(unseen[0]), "off means off");

      BlockedCarriers.setThreshold(Duration.ofMillis(100));
      Fiber[] again = new Fiber[1];
      fifo.start(() -> {
        again[0] = Fiber.current();
        blockCarrierInStallingMethod(400);
        return null;
      }).await();
      assertEquals(1, stallsOf(again[0]).size(), "on again");
    }
    assertTrue(calls.get() >= 3);
  }

  @Test
  void misuseIsRefusedClearly() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BlockedCarriers.setThreshold(Duration.ofMillis(-1)));
    assertTrue(e.getMessage().contains("zero (off) or positive"), e.getMessage());
    assertThrows(NullPointerException.class, () -> BlockedCarriers.setThreshold(null));
    assertNotNull(BlockedCarriers.threshold());
  }
}
