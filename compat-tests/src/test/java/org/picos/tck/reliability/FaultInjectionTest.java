package org.picos.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.spi.Support;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;
import org.picos.std.structured.Control;
import org.picos.tck.InjectedFailure;
import org.picos.tck.ShutdownScenario;
import org.picos.tck.UncaughtFailures;

/**
 * Faults of particular hosts (the generic ones, callbacks and hooks that throw, are in the kit):
 * executors that refuse work (a saturated pool with a bounded queue, an executor that always
 * throws {@link RejectedExecutionException}), timers that never run what they are given, and
 * hosts that drop tasks they had accepted when they are stopped by force. Whatever the host
 * does, the scheduler keeps its promises: nothing hangs, every fiber ends, failures reach the
 * uncaught-exception handler, close returns.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FaultInjectionTest {
  private static final Duration BOUND = ShutdownScenario.BOUND;

  /** Fails unless {@code condition} holds within {@link #BOUND}. */
  private static void waitUntil(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + BOUND.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("not within " + BOUND + ": " + what);
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }

  private static boolean awaited(Trigger t) {
    try {
      t.isInitial();
      return false;
    } catch (IllegalStateException awaiting) {
      return true;
    }
  }

  private static Throwable failureOf(Computation<?> c) {
    try {
      c.await();
      return null;
    } catch (RuntimeException e) {
      return e;
    }
  }

  /**
   * {@code n} fibers of {@code s} parked on triggers nobody signals, each computation with a
   * completion callback that throws an {@link InjectedFailure}; counts their ends.
   */
  private static final class Parked {
    final List<Computation<Object>> fibers = new ArrayList<>();
    final List<Trigger> triggers = new ArrayList<>();
    final AtomicInteger ended = new AtomicInteger();

    final String label;

    Parked(Scheduler s, int n, String label) {
      this.label = label;
      for (int i = 0; i < n; i++) {
        Trigger t = Trigger.create();
        Computation<Object> c = Computation.create();
        String site = label + " " + i;
        c.whenDone(() -> {
          throw new InjectedFailure(site);
        });
        s.spawn(Fiber.create(false, c), Support.capturing(c, () -> {
          try {
            Throwable cause = t.await();
            if (cause == null) {
              return "signalled";
            }
            throw Computation.unchecked(cause);
          } finally {
            ended.incrementAndGet();
          }
        }));
        triggers.add(t);
        fibers.add(c);
        // One at a time: a tiny pool has room for one fiber's first slice only.
        waitUntil("fiber " + i + " parked", () -> awaited(t));
      }
    }

    void awaitParked() {
      waitUntil("every fiber parked", () -> triggers.stream().allMatch(FaultInjectionTest::awaited));
    }

    /** Every fiber ended once, cancelled with a cause naming {@code why}. */
    void checkCancelled(String why) {
      waitUntil("every fiber ended", () -> ended.get() == fibers.size());
      for (Computation<Object> c : fibers) {
        Throwable f = failureOf(c);
        assertInstanceOf(SchedulerClosedException.class, f, "cause: " + f);
        assertTrue(f.getMessage().contains(why), f.getMessage());
      }
      assertEquals(fibers.size(), ended.get(), "no fiber ended twice");
    }

    void checkReported(UncaughtFailures uncaught) throws InterruptedException {
      assertTrue(uncaught.awaitReports(r -> r.failure() instanceof InjectedFailure f && f.site().startsWith(label),
          fibers.size(), BOUND), "every callback failure is reported: " + uncaught.reports());
      List<String> mine = uncaught.injectedSites().stream().filter(site -> site.startsWith(label)).toList();
      assertEquals(fibers.size(), mine.size(), "each once: " + uncaught.reports());
      assertEquals(fibers.size(), mine.stream().distinct().count(), "each once: " + uncaught.reports());
    }
  }

  // ---------------------------------------------------------------------------------------
  // Executors that refuse work

  /** A pool of one thread and a queue of one, which {@link #saturate} fills. */
  private static final class TinyPool implements AutoCloseable {
    final ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(1), r -> new Thread(r, "tiny-pool"));
    final CountDownLatch release = new CountDownLatch(1);

    /** Occupies the thread and the queue slot; the pool refuses everything until released. */
    void saturate() throws InterruptedException {
      waitUntil("the pool is idle", () -> pool.getActiveCount() == 0 && pool.getQueue().isEmpty());
      CountDownLatch busy = new CountDownLatch(1);
      pool.execute(() -> {
        busy.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      assertTrue(busy.await(BOUND.toSeconds(), TimeUnit.SECONDS));
      pool.execute(() -> {});
      assertThrows(RejectedExecutionException.class, () -> pool.execute(() -> {}), "saturated");
    }

    @Override
    public void close() {
      release.countDown();
      pool.shutdownNow();
    }
  }

  static Stream<Arguments> onPools() {
    return Stream.of(
        Arguments.of("Schedulers.onExecutor", (Function<ExecutorService, Scheduler>) Schedulers::onExecutor),
        Arguments.of("PicosFutures.newScheduler", (Function<ExecutorService, Scheduler>) PicosFutures::newScheduler));
  }

  /**
   * A saturated pool (its one thread busy, its queue full) refuses a new fiber with a
   * {@link RejectedExecutionException} and starts nothing; it is not a shutdown: the scheduler
   * stays open, and fibers it resumed meanwhile run once the pool has room again.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("onPools")
  void aSaturatedPoolRefusesNewFibersAndResumesTheOthersLater(String name,
      Function<ExecutorService, Scheduler> make) throws Exception {
    try (TinyPool tiny = new TinyPool(); UncaughtFailures uncaught = UncaughtFailures.capture()) {
      Scheduler s = make.apply(tiny.pool);
      Parked parked = new Parked(s, 3, "callback of a fiber resumed while saturated");
      parked.awaitParked();
      tiny.saturate();
      AtomicBoolean ran = new AtomicBoolean();
      RejectedExecutionException refused = assertThrows(RejectedExecutionException.class,
          () -> s.start(() -> ran.getAndSet(true)));
      assertTrue(refused.getMessage().contains("saturated"), refused.getMessage());
      assertFalse(s.isClosed(), "saturation is not a shutdown");
      for (Trigger t : parked.triggers) {
        t.signal(); // each resume is refused, and handed over again later
      }
      tiny.release.countDown();
      for (Computation<Object> c : parked.fibers) {
        assertEquals("signalled", c.await());
      }
      waitUntil("every fiber ended", () -> parked.ended.get() == 3);
      assertFalse(ran.get(), "a refused fiber never runs");
      assertEquals("after", s.run(() -> "after"));
      parked.checkReported(uncaught);
      ShutdownScenario.withinBound("close() of " + s, BOUND, s::close);
    }
  }

  /**
   * Closing while the pool is saturated: the fibers' resumes are refused, so they unwind on the
   * fallback thread; close returns without waiting for the pool, every fiber ends with the
   * close's cause, and every callback failure is reported.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("onPools")
  void closeReturnsWhileThePoolIsSaturated(String name, Function<ExecutorService, Scheduler> make)
      throws Exception {
    try (TinyPool tiny = new TinyPool(); UncaughtFailures uncaught = UncaughtFailures.capture()) {
      Scheduler s = make.apply(tiny.pool);
      Parked parked = new Parked(s, 4, "callback of a fiber closed while saturated");
      parked.awaitParked();
      tiny.saturate();
      ShutdownScenario.withinBound("close() of " + s + " with its pool saturated", BOUND, s::close);
      parked.checkCancelled("closed");
      parked.checkReported(uncaught);
      assertEquals(1, tiny.release.getCount(), "close did not need the pool");
    }
  }

  /** An executor that refuses every task, as a saturated or broken host would. */
  private static final class Refusing implements java.util.concurrent.Executor {
    final AtomicBoolean refusing;
    final ExecutorService delegate = Executors.newSingleThreadExecutor(r -> new Thread(r, "refusing-executor"));

    Refusing(boolean refusing) {
      this.refusing = new AtomicBoolean(refusing);
    }

    @Override
    public void execute(Runnable task) {
      if (refusing.get()) {
        throw new RejectedExecutionException("this executor refuses every task");
      }
      delegate.execute(task);
    }
  }

  /**
   * An executor that always throws {@link RejectedExecutionException}: every start throws it
   * and runs nothing, the scheduler stays open (the executor is not an ExecutorService, so
   * nothing says it shut down), and close returns at once.
   */
  @Test
  void anExecutorThatAlwaysRefusesStartsNothingAndClosesAtOnce() {
    Refusing refusing = new Refusing(true);
    try {
      Scheduler s = Schedulers.onExecutor(refusing);
      AtomicInteger ran = new AtomicInteger();
      for (int i = 0; i < 3; i++) {
        RejectedExecutionException e = assertThrows(RejectedExecutionException.class,
            () -> s.start(ran::incrementAndGet));
        assertTrue(e.getMessage().contains("Nothing was started"), e.getMessage());
      }
      assertFalse(s.isClosed());
      ShutdownScenario.withinBound("close() of " + s, BOUND, s::close);
      assertEquals(0, ran.get(), "no refused fiber ever ran");
      assertThrows(SchedulerClosedException.class, () -> s.start(() -> 1));
    } finally {
      refusing.delegate.shutdownNow();
    }
  }

  /**
   * An executor that starts refusing every task while fibers are suspended: their resumes are
   * retried, and when the scheduler closes they unwind on the fallback thread: close returns,
   * every fiber ends with the close's cause, every callback failure is reported.
   */
  @Test
  void fibersOfAnExecutorThatTurnsToRefusingEndWhenTheSchedulerCloses() throws Exception {
    Refusing refusing = new Refusing(false);
    try (UncaughtFailures uncaught = UncaughtFailures.capture()) {
      Scheduler s = Schedulers.onExecutor(refusing);
      Parked parked = new Parked(s, 4, "callback of a fiber on a refusing executor");
      parked.awaitParked();
      refusing.refusing.set(true);
      parked.triggers.get(0).signal(); // refused: retried with back-off while the scheduler is open
      ShutdownScenario.withinBound("close() of " + s + " on a refusing executor", BOUND, s::close);
      // The signalled fiber resumes only after the close marked it: it sees the close too.
      parked.checkCancelled("closed");
      parked.checkReported(uncaught);
    } finally {
      refusing.delegate.shutdownNow();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Timers that drop what they are given

  /**
   * A host timer that never runs what it is given: a protected sleep armed on it before the
   * close, and cleanup sleeping in {@code finally} after it, both still end (the close moves
   * pending host timers to the shared timer, and arms later ones there), and close returns.
   */
  @Test
  void timersOnAHostTimerThatDropsEverythingStillFireOnceTheSchedulerCloses() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2, r -> new Thread(r, "dropping-timer-host"));
    AtomicInteger given = new AtomicInteger();
    ExecutorScheduler s = ExecutorScheduler.builder(pool)
        .timer((task, nanos) -> {
          given.incrementAndGet();
          return () -> {};
        })
        .build();
    try {
      AtomicInteger sleptInProtect = new AtomicInteger();
      Computation<Object> protectedSleep = s.start(() -> {
        Control.protect(() -> {
          Control.sleep(Duration.ofMillis(100)); // armed on the dropping timer
          sleptInProtect.incrementAndGet();
          return null;
        });
        Control.check();
        return "not cancelled";
      });
      AtomicInteger cleaned = new AtomicInteger();
      Trigger waiting = Trigger.create();
      Computation<Object> cleanup = s.start(() -> {
        try {
          throw Computation.unchecked(waiting.await());
        } finally {
          Control.protect(() -> {
            Control.sleep(Duration.ofMillis(100)); // armed after the close began: the shared timer
            cleaned.incrementAndGet();
            return null;
          });
        }
      });
      waitUntil("the protected sleep armed the host timer, and the other fiber waits",
          () -> given.get() >= 1 && awaited(waiting));
      ShutdownScenario.withinBound("close() of " + s + " with its timer dropping everything", BOUND, s::close);
      assertEquals(1, sleptInProtect.get(), "the protected sleep ended");
      assertEquals(1, cleaned.get(), "the cleanup's sleep ended");
      assertInstanceOf(SchedulerClosedException.class, failureOf(protectedSleep));
      assertInstanceOf(SchedulerClosedException.class, failureOf(cleanup));
    } finally {
      pool.shutdownNow();
    }
  }

  /** A host timer that refuses to schedule anything: sleeps fall back to the shared timer. */
  @Test
  void aHostTimerThatThrowsFallsBackToTheSharedTimer() {
    ExecutorService pool = Executors.newFixedThreadPool(1, r -> new Thread(r, "refusing-timer-host"));
    ExecutorScheduler s = ExecutorScheduler.builder(pool)
        .timer((task, nanos) -> {
          throw new RejectedExecutionException("this timer refuses everything");
        })
        .build();
    try {
      assertEquals("slept", s.run(() -> {
        Control.sleep(Duration.ofMillis(5));
        return "slept";
      }));
      CancellationException timedOut = new CancellationException("timed out");
      Computation<Object> c = s.start(() -> {
        Fiber.current().computation().cancelAfter(Duration.ofMillis(5), timedOut);
        return Trigger.create().await();
      });
      assertSame(timedOut, assertThrows(CancellationException.class, c::await));
      ShutdownScenario.withinBound("close() of " + s, BOUND, s::close);
    } finally {
      pool.shutdownNow();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Hosts that drop accepted tasks when stopped by force

  /**
   * A Reactor {@code newSingle()} disposed (its executor shut down now) while one fiber's slice
   * runs, blocking the thread, and another's is queued behind it: the queued slice is dropped by
   * the host. The scheduler must still run it elsewhere, so that the fiber ends and close
   * returns.
   */
  @Test
  void aFiberWhoseSliceADisposedReactorSchedulerDroppedStillEnds() throws Exception {
    reactor.core.scheduler.Scheduler single = reactor.core.scheduler.Schedulers.newSingle("dropping-single");
    Scheduler s = PicosReactor.newScheduler(single);
    try {
      droppedSliceStillEnds(s, single::dispose);
    } finally {
      single.dispose();
    }
  }

  /**
   * The same with RxJava's {@code Schedulers.from(pool)} and {@code pool.shutdownNow()}: the
   * slices queued in the pool are dropped, and the fibers suspended elsewhere are never
   * resumed by the pool again.
   */
  @Test
  void aFiberWhoseSliceAnRxExecutorSchedulerDroppedStillEnds() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> new Thread(r, "dropping-rx-pool"));
    Scheduler s = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.from(pool));
    List<Throwable> rxErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
    RxJavaPlugins.setErrorHandler(rxErrors::add); // Rx reports every task the shut-down pool refuses
    try {
      droppedSliceStillEnds(s, pool::shutdownNow);
      for (Throwable e : rxErrors) {
        Throwable cause = e instanceof io.reactivex.rxjava3.exceptions.UndeliverableException ? e.getCause() : e;
        assertInstanceOf(RejectedExecutionException.class, cause, "RxJava reported " + e);
      }
    } finally {
      RxJavaPlugins.setErrorHandler(null);
      pool.shutdownNow();
    }
  }

  /**
   * Fiber A blocks its carrier (a single thread) in its slice; fiber B, suspended, is resumed,
   * so its slice queues behind A's; a third fiber C stays suspended. Then {@code stopByForce}
   * drops the queue and interrupts A. Every fiber must end, and close must return.
   */
  private static void droppedSliceStillEnds(Scheduler s, Runnable stopByForce) throws Exception {
    CountDownLatch blocking = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    Trigger bWaits = Trigger.create();
    Trigger cWaits = Trigger.create();
    AtomicInteger ended = new AtomicInteger();
    Computation<Object> b = s.start(() -> {
      try {
        bWaits.await();
        Fiber.check();
        return "resumed";
      } finally {
        ended.incrementAndGet();
      }
    });
    Computation<Object> c = s.start(() -> {
      try {
        throw Computation.unchecked(cWaits.await());
      } finally {
        ended.incrementAndGet();
      }
    });
    waitUntil("B and C wait", () -> awaited(bWaits) && awaited(cWaits));
    Computation<Object> a = s.start(() -> {
      try {
        blocking.countDown();
        never.await(); // blocks the carrier until interrupted
        return "not interrupted";
      } finally {
        ended.incrementAndGet();
      }
    });
    assertTrue(blocking.await(BOUND.toSeconds(), TimeUnit.SECONDS));
    bWaits.signal(); // B's slice queues behind A's
    stopByForce.run();
    ShutdownScenario.withinBound("close() of " + s + " after the host dropped a queued slice", BOUND, s::close);
    waitUntil("A, B and C ended (ended: " + ended.get() + ")", () -> ended.get() == 3);
    assertFalse(a.isRunning());
    assertFalse(b.isRunning());
    assertInstanceOf(SchedulerClosedException.class, failureOf(c));
  }
}
