package org.picos.sched;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;

/**
 * Closing schedulers and losing hosts, where fibers hide in scopes, callbacks throw, hosts drop
 * timers or refuse work, and spawns race the close.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CloseCorrectnessTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);

  /** The core schedulers, each with the executor it owns (if any) to shut down afterwards. */
  private static List<Supplier<Scheduler>> schedulers() {
    return List.of(Schedulers::fifo, () -> Schedulers.multi(2), Schedulers::threadPerFiber,
        () -> {
          ExecutorService pool = Executors.newFixedThreadPool(2);
          return ExecutorScheduler.builder(pool).onClose(pool::shutdown, null).build();
        });
  }

  /** Runs {@code action} on a new thread and fails unless it ends within the deadline. */
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

  private static Throwable failureOf(Computation<?> c) {
    try {
      c.await();
      return null;
    } catch (RuntimeException e) {
      return e;
    }
  }

  // ---------------------------------------------------------------------------------------
  // close() reaches fibers inside scopes

  /**
   * A fiber in a scope whose computation is already cancelled (its own timeout fired, say) when
   * the scheduler closes. The close must not be lost when the scope exits and discards that
   * computation: the fiber sees the close at its next cancellation point.
   */
  @Test
  void closeIsNotLostWhenAScopeDiscardsItsCancelledComputation() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      Scheduler s = make.get();
      Trigger inScope = Trigger.create();
      Trigger leave = Trigger.create();
      Computation<String> fiber = s.start(() -> {
        Fiber me = Fiber.current();
        Computation<Void> scope = Computation.create();
        Computation<?> outer = me.setComputation(scope);
        scope.tryCancel(new IllegalStateException("the scope's own timeout"));
        Fiber.forbid(() -> {
          inScope.signal();
          return leave.await(); // forbidden: only the signal ends it
        });
        me.setComputation(outer); // the scope exits, discarding its computation
        Fiber.check();
        return "escaped the close";
      });
      waitUntil(inScope::isSignaled);
      Thread closer = new Thread(s::close);
      closer.start();
      waitUntil(s::isClosed);
      leave.signal();
      closer.join(DEADLINE.toMillis());
      assertFalse(closer.isAlive(), s + ": close did not return");
      Throwable failure = failureOf(fiber);
      assertInstanceOf(SchedulerClosedException.class, failure, s + ": " + failure);
    }
  }

  /**
   * A fiber that retries with a fresh per-attempt computation and a short timeout, catching only
   * its own timeouts: closing the scheduler must end it, whenever the close lands (during an
   * attempt, between attempts, or just after an attempt timed out).
   */
  @Test
  void closeEndsAFiberRetryingWithPerAttemptTimeouts() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      for (int round = 0; round < 20; round++) {
        Scheduler s = make.get();
        AtomicInteger attempts = new AtomicInteger();
        RuntimeException attemptTimedOut = new RuntimeException("attempt timed out");
        Computation<Void> fiber = s.start(() -> {
          Fiber me = Fiber.current();
          for (;;) {
            Computation<Void> attempt = Computation.create();
            Computation<?> outer = me.computation();
            Trigger link = Computation.attachCanceler(outer, attempt);
            me.setComputation(attempt);
            try {
              attempt.cancelAfter(Duration.ofNanos(200_000), attemptTimedOut);
              attempts.incrementAndGet();
              Throwable cause = Trigger.create().await();
              if (cause != attemptTimedOut) {
                throw Computation.unchecked(cause);
              }
            } finally {
              me.setComputation(outer);
              outer.detach(link);
              attempt.tryReturn(null);
            }
          }
        });
        int before = 3 + round % 7;
        waitUntil(() -> attempts.get() >= before);
        withinDeadline(s + " close", s::close);
        assertInstanceOf(SchedulerClosedException.class, failureOf(fiber), s.toString());
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Spawn racing close

  /** Spawn is all or nothing while close races it: started means main runs, else spawn throws. */
  @Test
  void spawnRacingCloseIsAllOrNothing() throws Exception {
    for (Supplier<Scheduler> make : List.<Supplier<Scheduler>>of(Schedulers::fifo, () -> Schedulers.multi(1))) {
      for (int round = 0; round < 2_000; round++) {
        Scheduler s = make.get();
        CyclicBarrier go = new CyclicBarrier(2);
        AtomicBoolean ran = new AtomicBoolean();
        AtomicReference<Computation<String>> started = new AtomicReference<>();
        Thread spawner = new Thread(() -> {
          await(go);
          try {
            started.set(s.start(() -> {
              ran.set(true);
              return "ran";
            }));
          } catch (SchedulerClosedException refused) {
            // nothing started: fine
          }
        });
        spawner.start();
        await(go);
        s.close();
        spawner.join();
        Computation<String> c = started.get();
        if (c != null) {
          waitUntil(() -> !c.isRunning());
          assertTrue(ran.get(), s + " round " + round + ": spawn returned but main never ran");
        }
      }
    }
  }

  /**
   * The live set is striped by thread: spawns from four threads (so four stripes) and fibers
   * ending on four carriers, all racing close, which switches every stripe to counting down at
   * once. Every spawn that returned has run its main when close returns; those after are
   * refused; nothing is left live.
   */
  @Test
  void spawnsFromManyThreadsRacingCloseAreAllOrNothing() throws Exception {
    for (int round = 0; round < 100; round++) {
      ExecutorScheduler s = (ExecutorScheduler) Schedulers.multi(4);
      AtomicInteger returned = new AtomicInteger();
      AtomicInteger ran = new AtomicInteger();
      CyclicBarrier go = new CyclicBarrier(5);
      List<Thread> spawners = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        Thread spawner = new Thread(() -> {
          await(go);
          try {
            for (;;) {
              s.start(() -> {
                ran.incrementAndGet();
                Fiber.yield(); // ends on whichever carrier runs it next
                return null;
              });
              returned.incrementAndGet();
            }
          } catch (SchedulerClosedException refused) {
            // closed: this spawn started nothing, and neither will any later one
          }
        });
        spawner.start();
        spawners.add(spawner);
      }
      await(go);
      Thread.sleep(round % 3);
      int r = round;
      withinDeadline("close, round " + r, s::close);
      for (Thread spawner : spawners) {
        spawner.join(TimeUnit.SECONDS.toMillis(10));
        assertFalse(spawner.isAlive(), "round " + r + ": a spawner was never refused");
      }
      // A spawn in flight when close returned was refused, or tracked before TERMINATED (then
      // close waited for its fiber): either way every spawn that returned ran its main.
      assertEquals(returned.get(), ran.get(), "round " + r + ": spawns returned vs mains run");
      assertEquals(0, s.liveFibers(), "round " + r);
    }
  }

  private static void await(CyclicBarrier b) {
    try {
      b.await();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Callbacks that throw

  @Test
  void aThrowingCompletionCallbackDoesNotStopClose() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      Scheduler s = make.get();
      List<Computation<Void>> fibers = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        Computation<Void> c = s.start(() -> {
          Trigger.create().await();
          Fiber.check();
          return null;
        });
        c.whenDone(() -> {
          throw new IllegalStateException("a completion callback that throws");
        });
        fibers.add(c);
      }
      List<Throwable> reported = new ArrayList<>();
      Thread.UncaughtExceptionHandler previous = Thread.currentThread().getUncaughtExceptionHandler();
      Thread.currentThread().setUncaughtExceptionHandler((t, e) -> {
        synchronized (reported) {
          reported.add(e);
        }
      });
      try {
        withinDeadline(s + " first close", () -> {
          Thread.currentThread().setUncaughtExceptionHandler((t, e) -> {
            synchronized (reported) {
              reported.add(e);
            }
          });
          s.close();
        });
        withinDeadline(s + " second close", s::close);
      } finally {
        Thread.currentThread().setUncaughtExceptionHandler(previous);
      }
      for (Computation<Void> c : fibers) {
        assertInstanceOf(SchedulerClosedException.class, failureOf(c), s.toString());
      }
      synchronized (reported) {
        assertEquals(4, reported.size(), s + ": every callback failure is reported: " + reported);
        for (Throwable e : reported) {
          assertEquals("a completion callback that throws", e.getMessage());
        }
      }
    }
  }

  /** The executor's shutdown probe cancels fibers too: a throwing callback must not stop it. */
  @Test
  void aThrowingCallbackDoesNotStopTheShutdownProbe() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(1);
    ExecutorScheduler s = Schedulers.onExecutor(pool);
    List<Throwable> reported = new ArrayList<>();
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
      synchronized (reported) {
        reported.add(e);
      }
    });
    try {
      List<Computation<Void>> fibers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Computation<Void> c = s.start(() -> {
          Trigger.create().await();
          Fiber.check();
          return null;
        });
        c.whenDone(() -> {
          throw new IllegalStateException("callback failure at shutdown");
        });
        fibers.add(c);
      }
      waitUntil(() -> s.liveFibers() == 3);
      pool.shutdown();
      for (Computation<Void> c : fibers) {
        waitUntil(() -> !c.isRunning());
        assertInstanceOf(SchedulerClosedException.class, failureOf(c));
      }
      waitUntil(() -> s.liveFibers() == 0);
      waitUntil(() -> {
        synchronized (reported) {
          return reported.size() == 3;
        }
      });
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
  }

  // ---------------------------------------------------------------------------------------
  // ThreadContext hooks

  private static final class Slot<S> implements Fiber.ThreadContext<S> {
    final ThreadLocal<S> local = new ThreadLocal<>();

    @Override
    public S capture() {
      return local.get();
    }

    @Override
    public void restore(S state) {
      local.set(state);
    }
  }

  @Test
  void unregisteringOneThreadContextKeepsTheOthersStates() throws Exception {
    Slot<String> names = new Slot<>();
    Slot<Integer> numbers = new Slot<>();
    Fiber.registerThreadContext(names);
    Fiber.registerThreadContext(numbers);
    try (Scheduler s = Schedulers.fifo()) {
      names.local.set("request-7");
      numbers.local.set(42);
      Trigger resume = Trigger.create();
      Computation<String> fiber = s.start(() -> {
        resume.await();
        Integer n = numbers.local.get(); // a typed read: a swapped state would throw here
        return names.local.get() + "/" + n;
      });
      names.local.remove();
      numbers.local.remove();
      Fiber.unregisterThreadContext(names);
      resume.signal();
      assertEquals("request-7/42", fiber.await());
    } finally {
      Fiber.unregisterThreadContext(names);
      Fiber.unregisterThreadContext(numbers);
    }
  }

  @Test
  void aThrowingThreadContextIsReportedAndNeverStopsTheCarrier() throws Exception {
    AtomicInteger failures = new AtomicInteger();
    Fiber.ThreadContext<Object> broken = new Fiber.ThreadContext<>() {
      @Override
      public Object capture() {
        throw new IllegalStateException("capture fails");
      }

      @Override
      public void restore(Object state) {
        throw new IllegalStateException("restore fails");
      }
    };
    Slot<String> names = new Slot<>();
    Fiber.registerThreadContext(broken);
    Fiber.registerThreadContext(names);
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> failures.incrementAndGet());
    Thread.UncaughtExceptionHandler mine = Thread.currentThread().getUncaughtExceptionHandler();
    Thread.currentThread().setUncaughtExceptionHandler((t, e) -> failures.incrementAndGet());
    try {
      for (Supplier<Scheduler> make : schedulers()) {
        try (Scheduler s = make.get()) {
          names.local.set("kept");
          Trigger resume = Trigger.create();
          Computation<String> fiber = s.start(() -> {
            resume.await();
            return names.local.get();
          });
          names.local.remove();
          resume.signal();
          assertEquals("kept", fiber.await(), s + ": the other context still travels");
          assertEquals("after", s.run(() -> "after"), s + " keeps running fibers");
        }
      }
      assertTrue(failures.get() > 0, "the hook failures are reported");
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
      Thread.currentThread().setUncaughtExceptionHandler(mine);
      Fiber.unregisterThreadContext(broken);
      Fiber.unregisterThreadContext(names);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Saturated executors

  /** A pool with one thread and a queue of one: {@link #saturate} fills both. */
  private static final class TinyPool {
    final ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(1));
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
  }

  @Test
  void aSaturatedExecutorRefusesNewFibersWithoutClosing() throws Exception {
    TinyPool tiny = new TinyPool();
    ExecutorScheduler s = Schedulers.onExecutor(tiny.pool);
    try {
      Trigger go = Trigger.create();
      Computation<String> waiting = s.start(() -> {
        go.await();
        return "resumed";
      });
      waitUntil(() -> tiny.pool.getActiveCount() == 0 && tiny.pool.getQueue().isEmpty());
      tiny.saturate();
      AtomicBoolean ran = new AtomicBoolean();
      RejectedExecutionException refused = assertThrows(RejectedExecutionException.class,
          () -> s.start(() -> ran.getAndSet(true)));
      assertTrue(refused.getMessage().contains("saturated"), refused.getMessage());
      assertFalse(s.isClosed(), "saturation is not a shutdown");
      assertTrue(waiting.isRunning(), "other fibers are not cancelled");
      go.signal(); // its resume is refused too (synchronously, here), and handed over again later
      tiny.release.countDown();
      waitUntil(() -> !waiting.isRunning());
      assertEquals("resumed", waiting.await());
      assertFalse(ran.get(), "a refused spawn never runs its main");
      assertEquals("after", s.run(() -> "after"));
    } finally {
      s.close();
      tiny.pool.shutdownNow();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Hosts that drop their timers

  /**
   * A host whose timer drops every pending task when it stops (as Netty, Vert.x and Reactor do):
   * a protected sleep armed on it must still end, and close must return.
   */
  @Test
  void timersOfAHostThatStopsMoveToATimerThatLivesOn() throws Exception {
    ScheduledThreadPoolExecutor hostTimer = new ScheduledThreadPoolExecutor(1);
    ExecutorService loop = Executors.newSingleThreadExecutor();
    AtomicBoolean hostDown = new AtomicBoolean();
    ExecutorScheduler s = ExecutorScheduler.builder(loop)
        .timer((task, nanos) -> {
          var f = hostTimer.schedule(task, nanos, TimeUnit.NANOSECONDS);
          return () -> f.cancel(false);
        })
        .shutdownWhen(hostDown::get)
        .build();
    AtomicBoolean cleanedUp = new AtomicBoolean();
    Trigger sleeping = Trigger.create();
    Computation<Void> fiber = s.start(() -> {
      try {
        Trigger.create().await();
        Fiber.check();
      } finally {
        Fiber.forbid(() -> {
          Computation<Void> nap = Computation.create();
          nap.cancelAfter(Duration.ofMillis(200), new RuntimeException("slept"));
          sleeping.signal();
          try {
            nap.await();
          } catch (RuntimeException slept) {
            cleanedUp.set(slept.getMessage().equals("slept"));
          }
          return null;
        });
      }
      return null;
    });
    waitUntil(() -> s.liveFibers() == 1);
    Thread.sleep(10);
    s.hostClosed("host stopping"); // cancels the fiber: its cleanup arms a host timer
    waitUntil(sleeping::isSignaled);
    hostTimer.shutdownNow(); // the host drops its pending timers
    hostDown.set(true);
    loop.shutdown();
    withinDeadline("close", s::close);
    assertTrue(cleanedUp.get(), "the protected cleanup finished its sleep");
    assertInstanceOf(SchedulerClosedException.class, failureOf(fiber));
  }

  /** Timers armed before the host stops are moved too. */
  @Test
  void timersArmedBeforeTheHostStopsStillFire() throws Exception {
    ScheduledThreadPoolExecutor hostTimer = new ScheduledThreadPoolExecutor(1);
    ExecutorService loop = Executors.newSingleThreadExecutor();
    ExecutorScheduler s = ExecutorScheduler.builder(loop)
        .timer((task, nanos) -> {
          var f = hostTimer.schedule(task, nanos, TimeUnit.NANOSECONDS);
          return () -> f.cancel(false);
        })
        .build();
    Trigger armed = Trigger.create();
    AtomicReference<String> outcome = new AtomicReference<>();
    Computation<Void> fiber = s.start(() -> Fiber.forbid(() -> {
      Computation<Void> nap = Computation.create();
      nap.cancelAfter(Duration.ofMillis(300), new RuntimeException("slept"));
      armed.signal();
      try {
        nap.await();
        outcome.set("woken without the timer");
      } catch (RuntimeException slept) {
        outcome.set(slept.getMessage());
      }
      return null;
    }));
    waitUntil(armed::isSignaled);
    hostTimer.shutdownNow(); // drops the pending timer
    withinDeadline("close", s::close);
    assertEquals("slept", outcome.get(), "the forbidden sleep ended by its own timer");
    assertInstanceOf(SchedulerClosedException.class, failureOf(fiber),
        "the close cancelled the fiber's computation (delivered after the forbidden section)");
    loop.shutdown();
  }

  private static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("condition not reached within " + DEADLINE);
      }
      Thread.sleep(1);
    }
  }

}
