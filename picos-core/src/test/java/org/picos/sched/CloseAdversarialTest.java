package org.picos.sched;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.spi.AbstractScheduler;
import org.picos.spi.Timer;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;

/**
 * Attacks on the promises of {@link Scheduler#close()}, {@link ExecutorScheduler} (saturated,
 * rejecting and vanishing hosts, host timers) and the close protocol of the core schedulers:
 * close at every point of a fiber's life, from several threads, from its own fiber, on an
 * interrupted thread; refused spawns; hooks that throw; timers moved while they fire; what the
 * registries keep.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CloseAdversarialTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);

  /** The core schedulers; an executor-backed one shuts its pool down when closed. */
  private static List<Supplier<Scheduler>> schedulers() {
    return List.of(Schedulers::fifo, () -> Schedulers.multi(2), Schedulers::threadPerFiber,
        () -> {
          ExecutorService pool = Executors.newFixedThreadPool(2, daemons("adv-pool"));
          return ExecutorScheduler.builder(pool).onClose(pool::shutdown, null).build();
        });
  }

  private static java.util.concurrent.ThreadFactory daemons(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** A pool with one thread and a queue of one: {@link #saturate} fills both. */
  private static final class TinyPool {
    final ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(1), daemons("tiny-pool"));
    CountDownLatch release;

    void saturate() throws InterruptedException {
      release = new CountDownLatch(1);
      CountDownLatch busy = new CountDownLatch(1);
      pool.execute(() -> {
        busy.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      busy.await();
      pool.execute(() -> {});
      assertThrows(RejectedExecutionException.class, () -> pool.execute(() -> {}), "saturated");
    }

    void unsaturate() throws InterruptedException {
      release.countDown();
      waitUntil(() -> pool.getActiveCount() == 0 && pool.getQueue().isEmpty());
    }
  }

  // ---------------------------------------------------------------------------------------
  // Defects: these fail on the code under review

  /**
   * A spawn refused by a saturated executor "started nothing; retry later", says the exception.
   * Retrying with the same (never started) fiber must then work, not fail with "this fiber was
   * already spawned": the refused spawn left the fiber bound to the scheduler.
   */
  @Test
  void aFiberRefusedBySaturatedExecutorCanBeSpawnedAgain() throws Exception {
    TinyPool tiny = new TinyPool();
    ExecutorScheduler s = Schedulers.onExecutor(tiny.pool);
    try {
      Computation<String> token = Computation.create();
      Fiber fiber = Fiber.create(false, token);
      Runnable main = () -> token.tryReturn("ran");
      tiny.saturate();
      assertThrows(RejectedExecutionException.class, () -> s.spawn(fiber, main));
      assertEquals(0, s.liveFibers(), "a refused spawn leaves nothing live");
      tiny.unsaturate();
      s.spawn(fiber, main); // fails now: IllegalStateException "already spawned"
      waitUntil(() -> !token.isRunning());
      assertEquals("ran", token.await());
    } finally {
      s.close();
      tiny.pool.shutdownNow();
    }
  }

  /**
   * The release hook of {@link ExecutorScheduler.Builder#placement(Supplier,
   * java.util.function.Consumer)} runs when a fiber ends. If it throws, the fiber must still stop
   * being live (and the failure be reported), or close() waits forever for a fiber that ended.
   */
  @Test
  void aThrowingReleaseHookDoesNotKeepTheFiberLiveForever() throws Exception {
    List<Throwable> reported = new ArrayList<>();
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "release-pool");
      t.setDaemon(true);
      t.setUncaughtExceptionHandler((th, e) -> {
        synchronized (reported) {
          reported.add(e);
        }
      });
      return t;
    });
    ExecutorScheduler s = ExecutorScheduler.builder(pool)
        .placement(() -> pool, lane -> {
          throw new IllegalStateException("release hook fails");
        })
        .build();
    try {
      assertEquals("done", s.run(() -> "done"));
      waitUntil(() -> {
        synchronized (reported) {
          return !reported.isEmpty();
        }
      });
      assertEquals(0, s.liveFibers(), "the fiber ended, whatever its release hook did");
      withinDeadline("close", s::close);
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * A new fiber whose host has already shut down (not yet noticed by the probe; {@code multi}
   * uses a probe that never fires) has not run anything: refusing it is possible and is what a
   * gone host means. Its main must not run on the {@code picos-orphans} fallback thread, which
   * exists to unwind fibers that were running, not to run a whole new main away from its host
   * (an event-loop-confined body there breaks its confinement).
   */
  @Test
  void aSpawnOntoAHostThatHasShutDownNeverRunsMainOnTheFallbackThread() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor(daemons("gone-pool"));
    ExecutorScheduler s = ExecutorScheduler.builder(pool).shutdownWhen(() -> false).build();
    pool.shutdown();
    AtomicReference<String> ranOn = new AtomicReference<>();
    Computation<String> c = null;
    try {
      c = s.start(() -> {
        ranOn.set(Thread.currentThread().getName());
        return "ran";
      });
    } catch (SchedulerClosedException refused) {
      // what a gone host should answer
    }
    // The close cancels the computation at once: wait for the fiber itself to end.
    waitUntil(() -> s.liveFibers() == 0);
    assertNull(ranOn.get(), "main of a fiber spawned onto a shut-down host ran on " + ranOn.get());
    withinDeadline("close", s::close);
  }

  // ---------------------------------------------------------------------------------------
  // close() at every point of a fiber's life (promises that hold)

  /** Two threads close at once: both return only after every fiber has ended. */
  @Test
  void closeFromTwoThreadsAtOnceBothReturnAfterTheFibersEnded() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      Scheduler s = make.get();
      AtomicInteger ended = new AtomicInteger();
      List<Computation<Void>> fibers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        fibers.add(s.start(() -> {
          try {
            Computation.create().await();
          } finally {
            Fiber.forbid(() -> {
              Fiber.yield(); // a little unwinding after the cancellation
              return null;
            });
            ended.incrementAndGet();
          }
          return null;
        }));
      }
      CyclicBarrier go = new CyclicBarrier(2);
      AtomicInteger endedSeenByCloser = new AtomicInteger(99);
      Runnable closer = () -> {
        await(go);
        s.close();
        endedSeenByCloser.accumulateAndGet(ended.get(), Math::min);
      };
      Thread a = new Thread(closer);
      a.start();
      withinDeadline(s + " second closer", closer);
      a.join(DEADLINE.toMillis());
      assertFalse(a.isAlive(), s + ": the first closer did not return");
      assertEquals(3, endedSeenByCloser.get(), s + ": a close returned before the fibers ended");
      for (Computation<Void> c : fibers) {
        assertInstanceOf(SchedulerClosedException.class, failureOf(c), s.toString());
      }
    }
  }

  /**
   * A fiber closes its own scheduler: close returns at once (it cannot wait for itself), the
   * fiber sees the close at its next cancellation point, and a later close from outside
   * returns.
   */
  @Test
  void closeFromItsOwnFiberReturnsAndTheFiberSeesItNext() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      Scheduler s = make.get();
      Computation<Void> other = s.start(() -> {
        Computation.create().await();
        return null;
      });
      AtomicBoolean closeReturned = new AtomicBoolean();
      Computation<String> self = s.start(() -> {
        s.close();
        closeReturned.set(true);
        Fiber.check();
        return "escaped";
      });
      assertInstanceOf(SchedulerClosedException.class, failureOf(self), s.toString());
      // The close cancels the computation at once; the fiber goes on after close returns.
      waitUntil(closeReturned::get);
      assertInstanceOf(SchedulerClosedException.class, failureOf(other), s.toString());
      withinDeadline(s + " close from outside", s::close);
    }
  }

  /**
   * close() on an interrupted thread still waits for the fibers (a forbidden cleanup here) and
   * keeps the interrupt status.
   */
  @Test
  void closeOnAnInterruptedThreadStillWaitsAndKeepsTheInterrupt() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      Scheduler s = make.get();
      Trigger inCleanup = Trigger.create();
      Trigger leave = Trigger.create();
      AtomicBoolean ended = new AtomicBoolean();
      s.start(() -> Fiber.forbid(() -> {
        inCleanup.signal();
        leave.await();
        ended.set(true);
        return null;
      }));
      waitUntil(inCleanup::isSignaled);
      AtomicBoolean stillInterrupted = new AtomicBoolean();
      AtomicBoolean endedWhenReturned = new AtomicBoolean();
      Thread closer = new Thread(() -> {
        Thread.currentThread().interrupt();
        s.close();
        endedWhenReturned.set(ended.get());
        stillInterrupted.set(Thread.currentThread().isInterrupted());
      });
      closer.start();
      waitUntil(s::isClosed);
      leave.signal();
      closer.join(DEADLINE.toMillis());
      assertFalse(closer.isAlive(), s + ": close did not return");
      assertTrue(endedWhenReturned.get(), s + ": close returned before its fiber ended");
      assertTrue(stillInterrupted.get(), s + ": close cleared the interrupt status");
    }
  }

  /**
   * Closed before its first slice ran: main still runs (spawn is all or nothing), already
   * cancelled, and ends at its first cancellation point.
   */
  @Test
  void aFiberClosedBeforeItsFirstRunStillRunsMainAndSeesTheClose() throws Exception {
    ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), daemons("busy-pool"));
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch busy = new CountDownLatch(1);
    pool.execute(() -> {
      busy.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    busy.await();
    ExecutorScheduler s = Schedulers.onExecutor(pool);
    AtomicBoolean canceledOnEntry = new AtomicBoolean();
    Computation<String> c = s.start(() -> {
      canceledOnEntry.set(Fiber.current().isCanceled());
      Fiber.check();
      return "escaped";
    });
    Thread closer = new Thread(s::close);
    closer.start();
    waitUntil(s::isClosed);
    release.countDown();
    closer.join(DEADLINE.toMillis());
    assertFalse(closer.isAlive(), "close did not return");
    assertTrue(canceledOnEntry.get(), "main ran, already cancelled");
    assertInstanceOf(SchedulerClosedException.class, failureOf(c));
    pool.shutdown();
  }

  /**
   * A fiber spawning children in a loop while the scheduler closes: every child whose spawn
   * returned has run its main by the time close returns; the parent ends with the close.
   */
  @Test
  void childSpawnsRacingCloseAreAllOrNothing() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      for (int round = 0; round < 50; round++) {
        Scheduler s = make.get();
        AtomicInteger returned = new AtomicInteger();
        AtomicInteger ran = new AtomicInteger();
        int before = 1 + round % 5;
        boolean yielding = round % 2 == 0;
        Computation<Void> parent = s.start(() -> {
          for (;;) {
            Fiber.spawn(() -> {
              ran.incrementAndGet();
              return null;
            });
            returned.incrementAndGet();
            if (yielding) {
              Fiber.yield();
            }
          }
        });
        waitUntil(() -> returned.get() >= before);
        withinDeadline(s + " close", s::close);
        assertEquals(returned.get(), ran.get(),
            s + " round " + round + ": a spawn returned but its main never ran");
        assertInstanceOf(SchedulerClosedException.class, failureOf(parent), s.toString());
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Executors that refuse (promises that hold)

  /** A plain Executor that refuses everything: spawns are refused, nothing stays live. */
  @Test
  void aPlainExecutorThatAlwaysRejectsRefusesSpawnsAndClosesCleanly() throws Exception {
    Executor never = task -> {
      throw new RejectedExecutionException("never");
    };
    ExecutorScheduler s = Schedulers.onExecutor(never);
    AtomicBoolean ran = new AtomicBoolean();
    for (int i = 0; i < 3; i++) {
      RejectedExecutionException refused = assertThrows(RejectedExecutionException.class,
          () -> s.start(() -> ran.getAndSet(true)));
      assertTrue(refused.getMessage().contains("saturated"), refused.getMessage());
    }
    assertFalse(ran.get());
    assertFalse(s.isClosed());
    assertEquals(0, s.liveFibers());
    withinDeadline("close", s::close);
    assertThrows(SchedulerClosedException.class, () -> s.start(() -> "late"));
  }

  /**
   * The executor starts refusing (saturated, never shut down) while a fiber is suspended, and
   * the scheduler is closed: the fiber's resume is refused, and once closed it unwinds on the
   * fallback thread; close returns.
   */
  @Test
  void resumesRefusedWhileClosingUnwindOnTheFallbackThread() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor(daemons("refusing-pool"));
    AtomicBoolean refuse = new AtomicBoolean();
    Executor refusing = task -> {
      if (refuse.get()) {
        throw new RejectedExecutionException("full");
      }
      pool.execute(task);
    };
    ExecutorScheduler s = Schedulers.onExecutor(refusing);
    AtomicReference<String> unwoundOn = new AtomicReference<>();
    Computation<Void> fiber = s.start(() -> {
      try {
        Computation.create().await();
      } finally {
        unwoundOn.set(Thread.currentThread().getName());
      }
      return null;
    });
    waitUntil(() -> s.liveFibers() == 1);
    Thread.sleep(5); // let it suspend (not needed for correctness: either path must end it)
    refuse.set(true);
    withinDeadline("close", s::close);
    assertInstanceOf(SchedulerClosedException.class, failureOf(fiber));
    assertNotNull(unwoundOn.get(), "the fiber unwound");
    pool.shutdown();
  }

  /**
   * Saturated, then shut down: a resume refused by the saturated host is retried; the host then
   * shuts down (dropping its queue); the fiber still ends, its code after the await runs exactly
   * once, and close returns.
   */
  @Test
  void aResumeRefusedBySaturationThenShutdownEndsTheFiberOnce() throws Exception {
    for (int round = 0; round < 20; round++) {
      TinyPool tiny = new TinyPool();
      ExecutorScheduler s = Schedulers.onExecutor(tiny.pool);
      Trigger go = Trigger.create();
      AtomicInteger after = new AtomicInteger();
      Computation<String> fiber = s.start(() -> {
        go.await();
        after.incrementAndGet();
        return "resumed";
      });
      waitUntil(() -> tiny.pool.getActiveCount() == 0 && tiny.pool.getQueue().isEmpty());
      tiny.saturate();
      go.signal(); // refused: the slice is retried with backoff
      if (round % 2 == 1) {
        Thread.sleep(round % 7); // land the shutdown at various points of the backoff
      }
      tiny.pool.shutdownNow();
      waitUntil(() -> !fiber.isRunning() && s.liveFibers() == 0);
      assertEquals(1, after.get(), "round " + round + ": the code after the await ran once");
      withinDeadline("close", s::close);
    }
  }

  /**
   * Stress: fibers resumed as fast as possible on a pool whose queue is small (so resumes are
   * refused and retried), then the pool is shut down or the scheduler closed mid-way. No slice
   * may ever run twice or concurrently, and every fiber ends. Run 20 rounds.
   */
  @Test
  void theRetryPathRacingShutdownNeverRunsASliceTwice() throws Exception {
    List<Throwable> uncaught = new ArrayList<>();
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
      synchronized (uncaught) {
        uncaught.add(e);
      }
    });
    try {
      for (int round = 0; round < 20; round++) {
        int n = 8;
        ThreadPoolExecutor pool = new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(2), r -> {
              Thread t = new Thread(r, "retry-pool");
              t.setDaemon(true);
              return t;
            });
        ExecutorScheduler s = Schedulers.onExecutor(pool);
        AtomicReferenceArray<Trigger> slots = new AtomicReferenceArray<>(n);
        AtomicBoolean overlap = new AtomicBoolean();
        AtomicInteger resumes = new AtomicInteger();
        List<Computation<Void>> fibers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          int slot = i;
          AtomicBoolean busy = new AtomicBoolean();
          fibers.add(startRetrying(s, () -> {
            for (;;) {
              Trigger t = Trigger.create();
              slots.set(slot, t);
              Throwable cause = t.await();
              if (!busy.compareAndSet(false, true)) {
                overlap.set(true);
              }
              resumes.incrementAndGet();
              busy.set(false);
              if (cause != null) {
                throw Computation.unchecked(cause);
              }
            }
          }));
        }
        AtomicBoolean stop = new AtomicBoolean();
        Thread driver = new Thread(() -> {
          while (!stop.get()) {
            for (int i = 0; i < n; i++) {
              Trigger t = slots.getAndSet(i, null);
              if (t != null) {
                t.signal();
              }
            }
          }
        });
        driver.setDaemon(true);
        driver.start();
        int target = 200 + ThreadLocalRandom.current().nextInt(800);
        waitUntil(() -> resumes.get() >= target);
        if (round % 2 == 0) {
          pool.shutdownNow();
        }
        withinDeadline("close", s::close);
        stop.set(true);
        driver.join();
        for (Computation<Void> c : fibers) {
          assertInstanceOf(SchedulerClosedException.class, failureOf(c), "round " + round);
        }
        assertFalse(overlap.get(), "round " + round + ": a fiber ran on two carriers at once");
        assertEquals(0, s.liveFibers());
        pool.shutdownNow();
      }
      synchronized (uncaught) {
        assertEquals(List.of(), uncaught, "nothing escaped to an uncaught-exception handler");
      }
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
  }

  /** A thread factory whose thread cannot start: the spawn is refused, nothing stays live. */
  @Test
  void aThreadThatCannotStartRefusesTheSpawnAndLeavesNothingLive() throws Exception {
    Thread spent = Thread.ofPlatform().daemon().start(() -> {});
    spent.join();
    Scheduler s = Schedulers.threadPerFiber(r -> spent);
    AtomicBoolean ran = new AtomicBoolean();
    assertThrows(IllegalThreadStateException.class, () -> s.start(() -> ran.getAndSet(true)));
    assertFalse(ran.get());
    assertEquals(0, ((AbstractScheduler) s).liveFibers());
    withinDeadline("close", s::close);
  }

  // ---------------------------------------------------------------------------------------
  // Host timers (promises that hold)

  private static Timer timerOn(ScheduledThreadPoolExecutor host) {
    return (task, nanos) -> {
      var f = host.schedule(task, nanos, TimeUnit.NANOSECONDS);
      return () -> f.cancel(false);
    };
  }

  /**
   * The registry of host timers keeps a timer only while it is pending: a computation whose
   * hour-long timeout was disarmed (before or after the close moved it to the shared timer) is
   * not kept reachable by the scheduler.
   */
  @Test
  void disarmedHostTimersAreNotRetained() throws Exception {
    ScheduledThreadPoolExecutor hostTimer = new ScheduledThreadPoolExecutor(1, daemons("host-timer"));
    hostTimer.setRemoveOnCancelPolicy(true);
    ExecutorService loop = Executors.newSingleThreadExecutor(daemons("timer-loop"));
    ExecutorScheduler s = ExecutorScheduler.builder(loop).timer(timerOn(hostTimer)).build();
    try {
      WeakReference<Computation<Void>> disarmedOpen = s.run(() -> {
        Computation<Void> c = Computation.create();
        c.cancelAfter(Duration.ofHours(1), new RuntimeException("hour"));
        c.tryReturn(null);
        return new WeakReference<>(c);
      });
      assertCollected(disarmedOpen, "a timer disarmed while the scheduler is open");
      java.lang.ref.Reference.reachabilityFence(s); // the registry lives as long as s
    } finally {
      s.close();
      hostTimer.shutdownNow();
      loop.shutdown();
    }
    List<Object> keep = new ArrayList<>();
    WeakReference<Computation<Void>> moved = movedAndDisarmed(keep);
    assertCollected(moved, "a timer moved to the shared timer at close, then disarmed");
    java.lang.ref.Reference.reachabilityFence(keep);
  }

  /**
   * A timer armed on a host timer, moved by the close, then disarmed; returns the computation
   * and adds the scheduler to {@code keep}.
   */
  private static WeakReference<Computation<Void>> movedAndDisarmed(List<Object> keep) throws Exception {
    ScheduledThreadPoolExecutor hostTimer = new ScheduledThreadPoolExecutor(1, daemons("host-timer-2"));
    hostTimer.setRemoveOnCancelPolicy(true);
    ExecutorService loop = Executors.newSingleThreadExecutor(daemons("timer-loop-2"));
    ExecutorScheduler s = ExecutorScheduler.builder(loop).timer(timerOn(hostTimer)).build();
    keep.add(s); // the caller keeps the scheduler (and its registry of host timers) reachable
    AtomicReference<WeakReference<Computation<Void>>> ref = new AtomicReference<>();
    Trigger armed = Trigger.create();
    Trigger leave = Trigger.create();
    s.start(() -> Fiber.forbid(() -> {
      Computation<Void> c = Computation.create();
      c.cancelAfter(Duration.ofHours(1), new RuntimeException("hour"));
      ref.set(new WeakReference<>(c));
      armed.signal();
      leave.await();
      c.tryReturn(null);
      return null;
    }));
    waitUntil(armed::isSignaled);
    Thread closer = new Thread(s::close);
    closer.start();
    waitUntil(s::isClosed);
    hostTimer.shutdownNow(); // the host drops its copy; only the moved one is left
    leave.signal();
    closer.join(DEADLINE.toMillis());
    assertFalse(closer.isAlive(), "close did not return");
    loop.shutdown();
    return ref.get();
  }

  /**
   * Stress: fibers nap in forbidden sections on a host timer (delays of 0-2 ms) while the
   * scheduler closes and the host timer then stops, dropping its tasks: timers armed before,
   * during and after the move all fire, every fiber ends and close returns. 20 rounds.
   */
  @Test
  void timersMovedWhileFiringAndArmingStillEndEveryNap() throws Exception {
    for (int round = 0; round < 20; round++) {
      ScheduledThreadPoolExecutor hostTimer = new ScheduledThreadPoolExecutor(1, daemons("nap-timer"));
      ExecutorService loop = Executors.newFixedThreadPool(2, daemons("nap-loop"));
      ExecutorScheduler s = ExecutorScheduler.builder(loop).timer(timerOn(hostTimer))
          .onClose(loop::shutdown, null).build();
      AtomicInteger naps = new AtomicInteger();
      List<Computation<Void>> fibers = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        fibers.add(s.start(() -> {
          RuntimeException slept = new RuntimeException("slept");
          for (;;) {
            Fiber.forbid(() -> {
              for (int k = 0; k < 3; k++) {
                Computation<Void> nap = Computation.create();
                nap.cancelAfter(Duration.ofNanos(ThreadLocalRandom.current().nextLong(2_000_000)), slept);
                try {
                  nap.await();
                } catch (RuntimeException e) {
                  assertSame(slept, e);
                }
                naps.incrementAndGet();
              }
              return null;
            });
            Fiber.check();
          }
        }));
      }
      int target = 20 + round * 5;
      waitUntil(() -> naps.get() >= target);
      Thread closer = new Thread(s::close);
      closer.start();
      waitUntil(s::isClosed);
      hostTimer.shutdownNow();
      closer.join(DEADLINE.toMillis());
      assertFalse(closer.isAlive(), "round " + round + ": close did not return");
      for (Computation<Void> c : fibers) {
        assertInstanceOf(SchedulerClosedException.class, failureOf(c), "round " + round);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Helpers

  /** {@code s.start(main)}, retried while the executor is saturated, as its refusal advises. */
  private static <T> Computation<T> startRetrying(Scheduler s, java.util.concurrent.Callable<T> main)
      throws InterruptedException {
    long end = System.nanoTime() + DEADLINE.toNanos();
    for (;;) {
      try {
        return s.start(main);
      } catch (RejectedExecutionException saturated) {
        if (System.nanoTime() > end) {
          throw saturated;
        }
        Thread.sleep(1);
      }
    }
  }

  private static void assertCollected(WeakReference<?> ref, String what) throws InterruptedException {
    long end = System.nanoTime() + DEADLINE.toNanos();
    while (ref.get() != null) {
      if (System.nanoTime() > end) {
        fail(what + ": the computation is still reachable after " + DEADLINE);
      }
      System.gc();
      Thread.sleep(10);
    }
  }

  private static void await(CyclicBarrier b) {
    try {
      b.await();
    } catch (Exception e) {
      throw new AssertionError(e);
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

  private static void withinDeadline(String what, Runnable action) throws InterruptedException {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try {
        action.run();
      } catch (Throwable e) {
        failure.set(e);
      }
    }, what);
    t.setDaemon(true);
    t.start();
    t.join(DEADLINE.toMillis());
    assertFalse(t.isAlive(), what + " did not end within " + DEADLINE);
    if (failure.get() != null) {
      throw new AssertionError(what + " failed", failure.get());
    }
  }

  private static void waitUntil(BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("condition not reached within " + DEADLINE);
      }
      Thread.sleep(1);
    }
  }
}
