package org.picos.sched;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.spi.Handler;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.spi.BlockingGuard;
import org.picos.spi.BlockingGuards;

/** Behaviour of the core schedulers beyond the compatibility kit: misuse, pinning, hosts. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SchedulerBehaviourTest {

  /** Started in a child JVM without the --add-exports flag. */
  public static final class WithoutFlag {
    public static void main(String[] args) {
      try {
        Schedulers.fifo();
        System.out.println("fifo created: UNEXPECTED");
      } catch (IllegalStateException e) {
        System.out.println("fifo refused: " + e.getMessage());
      }
      try (Scheduler s = Schedulers.threadPerFiber()) {
        System.out.println("threadPerFiber ran: " + s.run(() -> "fine"));
      }
    }
  }

  @Test
  void missingJvmFlagIsNamedAndThreadPerFiberStillWorks() throws Exception {
    String java = ProcessHandle.current().info().command().orElseThrow();
    Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        WithoutFlag.class.getName())
        .redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertTrue(out.contains("fifo refused: Picos fibers on continuations need the JVM flag"
        + " --add-exports java.base/jdk.internal.vm=ALL-UNNAMED"), out);
    assertTrue(out.contains("threadPerFiber ran: fine"), out);
    assertEquals(0, p.exitValue(), out);
  }

  /** Awaits in its static initializer: a native frame pins the fiber. */
  static final class AwaitsInInitializer {
    static final Throwable FAILURE;

    static {
      Throwable failure = null;
      try {
        Trigger.create().await();
      } catch (IllegalStateException e) {
        failure = e;
      }
      FAILURE = failure;
    }
  }

  @Test
  void awaitWhilePinnedByAClassInitializerFailsWithTheReason() {
    try (Scheduler s = Schedulers.fifo()) {
      Throwable failure = s.run(() -> AwaitsInInitializer.FAILURE);
      assertNotNull(failure, "the await inside <clinit> must fail, not hang");
      assertTrue(failure.getMessage().contains("cannot suspend because a native frame is on its stack"),
          failure.getMessage());
      assertTrue(failure.getMessage().contains("static initializers"), failure.getMessage());
    }
  }

  @Test
  void monitorsAcrossAwaitFollowTheJdk() throws Exception {
    Object lock = new Object();
    Trigger resume = Trigger.create();
    try (Scheduler s = Schedulers.fifo()) {
      Computation<String> fiber = s.start(() -> {
        synchronized (lock) {
          try {
            resume.await();
          } catch (IllegalStateException pinned) {
            return "pinned: " + pinned.getMessage();
          }
          return "suspended holding the monitor";
        }
      });
      if (Runtime.version().feature() >= 24) {
        // JEP 491: the fiber suspends inside synchronized and keeps the monitor while suspended.
        while (resume.isSignaled() || isInitial(resume)) {
          Thread.onSpinWait();
        }
        Thread contender = new Thread(() -> {
          synchronized (lock) {
            lock.notifyAll();
          }
        });
        contender.start();
        while (contender.getState() != Thread.State.BLOCKED && contender.isAlive()) {
          Thread.onSpinWait();
        }
        assertEquals(Thread.State.BLOCKED, contender.getState(),
            "another thread must block on the monitor the suspended fiber holds");
        resume.signal();
        assertEquals("suspended holding the monitor", fiber.await());
        contender.join();
      } else {
        assertTrue(fiber.await().contains("holds a monitor"), fiber.await());
      }
    }
  }

  private static boolean isInitial(Trigger t) {
    try {
      return t.isInitial();
    } catch (IllegalStateException awaiting) {
      return false;
    }
  }

  @Test
  void threadContextIsCarriedAcrossSuspensions() {
    ThreadLocal<String> mdc = new ThreadLocal<>();
    Fiber.ThreadContext<String> hook = new Fiber.ThreadContext<>() {
      @Override
      public String capture() {
        return mdc.get();
      }

      @Override
      public void restore(String state) {
        mdc.set(state);
      }
    };
    Fiber.registerThreadContext(hook);
    try (Scheduler s = Schedulers.multi(2)) {
      mdc.set("request-1");
      List<String> seen = s.run(() -> {
        List<String> values = new ArrayList<>();
        values.add(mdc.get()); // inherited from the starting thread
        mdc.set("request-2");
        Computation<String> child = Fiber.spawn(() -> {
          Fiber.yield();
          return mdc.get();
        });
        for (int i = 0; i < 20; i++) {
          Fiber.yield();
        }
        values.add(mdc.get());
        values.add(child.await());
        return values;
      });
      assertEquals(List.of("request-1", "request-2", "request-2"), seen);
      assertEquals("request-1", mdc.get(), "the caller's own context is untouched");
    } finally {
      Fiber.unregisterThreadContext(hook);
      mdc.remove();
    }
  }

  @Test
  void executorShutdownEndsSuspendedFibersWithACauseNamingIt() {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    Scheduler s = Schedulers.onExecutor(pool);
    List<Computation<Object>> fibers = new ArrayList<>();
    List<Trigger> triggers = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Trigger t = Trigger.create();
      triggers.add(t);
      fibers.add(s.start(() -> {
        Throwable cause = t.await();
        Fiber.check();
        return cause;
      }));
    }
    for (Trigger t : triggers) {
      while (isInitial(t)) {
        Thread.onSpinWait();
      }
    }
    pool.shutdown();
    for (Computation<Object> f : fibers) {
      SchedulerClosedException e = assertThrows(SchedulerClosedException.class, f::await);
      assertTrue(e.getMessage().contains("was shut down"), e.getMessage());
    }
    assertTrue(s.isClosed());
    assertThrows(SchedulerClosedException.class, () -> s.start(() -> 1));
  }

  /**
   * A scheduler that owns its executor polls no shutdown probe: the same external shutdown that
   * the probe of {@link #executorShutdownEndsSuspendedFibersWithACauseNamingIt} notices within a
   * few probe periods goes unseen until the fiber's next slice is refused.
   */
  @Test
  void aSchedulerThatOwnsItsExecutorPollsNoShutdownProbe() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(1);
    ExecutorScheduler s = ExecutorScheduler.builder(pool).ownsExecutor().build();
    Trigger t = Trigger.create();
    Computation<Throwable> fiber = s.start(t::await);
    while (isInitial(t)) {
      Thread.onSpinWait();
    }
    pool.shutdown();
    Thread.sleep(10 * ExecutorScheduler.PROBE_MILLIS);
    assertFalse(s.isClosed(), "a probe was polled: the scheduler saw the shutdown by itself");
    t.signal(); // its resume is refused by the shut-down pool: that is a shutdown too
    assertThrows(SchedulerClosedException.class, fiber::await);
    assertTrue(s.isClosed());
  }

  @Test
  void closeDoesNotWaitForAFiberWhoseSliceShutdownNowDropped() throws Exception {
    ExecutorService single = Executors.newSingleThreadExecutor();
    Scheduler s = Schedulers.onExecutor(single);
    CountDownLatch blocking = new CountDownLatch(1);
    single.execute(() -> {
      blocking.countDown();
      try {
        new CountDownLatch(1).await(); // until shutdownNow interrupts it
      } catch (InterruptedException expected) {
        // ends the task; the thread then terminates
      }
    });
    blocking.await();
    AtomicReference<String> ranOn = new AtomicReference<>();
    Computation<Object> fiber = s.start(() -> {
      ranOn.set(Thread.currentThread().getName());
      Fiber.check();
      return "not reached: the fiber is cancelled before it runs";
    });
    assertEquals(1, single.shutdownNow().size(), "the fiber's first slice was queued and dropped");
    s.close();
    assertInstanceOf(SchedulerClosedException.class, fiber.canceled());
    assertEquals("picos-orphans", ranOn.get());
    assertEquals(0, ((ExecutorScheduler) s).liveFibers());
  }

  @Test
  void yieldOnALifoForkJoinPoolLetsSiblingsRun() {
    ForkJoinPool lifo = new ForkJoinPool(1);
    try (Scheduler s = Schedulers.onExecutor(lifo)) {
      assertEquals("sibling ran", s.run(() -> {
        AtomicBoolean siblingRan = new AtomicBoolean();
        Computation<String> sibling = Fiber.spawn(() -> {
          siblingRan.set(true);
          return "sibling ran";
        });
        for (int yields = 0; !siblingRan.get(); yields++) {
          assertTrue(yields < 1_000_000, "the sibling never ran while this fiber yielded");
          Fiber.yield();
        }
        return sibling.await();
      }));
    } finally {
      lifo.shutdownNow();
    }
  }

  @Test
  void closeFromInsideOwnFiberDoesNotHang() throws Exception {
    Scheduler s = Schedulers.fifo();
    Computation<Object> other = s.start(() -> Computation.create().await());
    // The closing fiber is itself one of the live fibers: it is cancelled too.
    assertThrows(SchedulerClosedException.class, () -> s.run(() -> {
      s.close();
      Fiber.check();
      return null;
    }));
    assertThrows(SchedulerClosedException.class, other::await);
    assertTrue(s.isClosed());
  }

  @Test
  void blockingGuardsRefuseBlockingOnGuardedThreads() throws Exception {
    BlockingGuard guard = () -> {
      if (Thread.currentThread().getName().equals("no-blocking-here")) {
        throw new IllegalStateException("this thread must not block: use a fiber");
      }
    };
    BlockingGuards.add(guard);
    try {
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread t = new Thread(() -> {
        try {
          Computation.create().await();
        } catch (Throwable e) {
          failure.set(e);
        }
      }, "no-blocking-here");
      t.start();
      t.join();
      assertEquals("this thread must not block: use a fiber", failure.get().getMessage());
      Computation<Void> shared = Computation.create();
      Thread u = new Thread(() -> assertThrows(IllegalStateException.class, shared::await), "no-blocking-here");
      u.start();
      u.join();
      // The refused waiter's trigger was detached: the next attach's clean-up drops it.
      shared.tryAttach(Trigger.create());
      assertEquals(1, Handler.triggerEntries(shared), "a refused await leaves no live trigger behind");
      try (Scheduler s = Schedulers.fifo()) {
        assertEquals(1, s.run(() -> 1), "fibers are not affected by guards");
      }
    } finally {
      BlockingGuards.remove(guard);
    }
  }

  @Test
  void failureAfterAnOutsideCancellationIsReportedNotLost() throws Exception {
    AtomicReference<Throwable> reported = new AtomicReference<>();
    ExecutorService single = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "reporting");
      t.setUncaughtExceptionHandler((th, e) -> reported.set(e));
      return t;
    });
    try (Scheduler s = Schedulers.onExecutor(single)) {
      Trigger t = Trigger.create();
      IllegalStateException cleanupFailure = new IllegalStateException("cleanup failed");
      Computation<Object> c = s.start(() -> {
        t.await();
        throw cleanupFailure;
      });
      while (isInitial(t)) {
        Thread.onSpinWait();
      }
      c.tryCancel(new CancellationException("cancelled from outside"));
      while (reported.get() == null) {
        Thread.onSpinWait();
      }
      assertSame(cleanupFailure, reported.get());

      // The cancellation cause itself unwinding is not a failure to report.
      reported.set(null);
      CancellationException cause = new CancellationException("quiet");
      Trigger u = Trigger.create();
      Computation<Object> quiet = s.start(() -> {
        u.await();
        Fiber.check();
        return null;
      });
      while (isInitial(u)) {
        Thread.onSpinWait();
      }
      quiet.tryCancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, quiet::await));
      assertEquals(1, s.run(() -> 1)); // the fiber has unwound by the time this runs on one thread
      assertNull(reported.get());
    } finally {
      single.shutdownNow();
    }
  }

  @Test
  void misuseIsRejectedClearly() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Schedulers.multi(0));
    assertTrue(e.getMessage().contains("positive"));
    UnsupportedOperationException u = assertThrows(UnsupportedOperationException.class,
        () -> Schedulers.shared().close());
    assertTrue(u.getMessage().contains("cannot be closed"));
    assertEquals(5, Schedulers.shared().run(() -> 5));
    assertThrows(NullPointerException.class, () -> Schedulers.onExecutor(null));
    try (Scheduler s = Schedulers.fifo()) {
      s.run(() -> {
        Fiber f = Fiber.create(false, Computation.create());
        Fiber.spawn(f, () -> {});
        IllegalStateException twice = assertThrows(IllegalStateException.class,
            () -> Fiber.spawn(f, () -> {}));
        assertTrue(twice.getMessage().contains("already spawned"));
        return null;
      });
      // Scheduler.spawn from a plain thread: a fiber with a computation of the caller's choosing.
      Computation<String> c = Computation.create();
      Fiber g = Fiber.create(false, c);
      s.spawn(g, () -> c.tryReturn("spawned from outside"));
      assertEquals("spawned from outside", c.await());
      assertTrue(assertThrows(IllegalStateException.class, () -> s.spawn(g, () -> {}))
          .getMessage().contains("already spawned"));
    }
    Scheduler closed = Schedulers.fifo();
    closed.close();
    assertThrows(SchedulerClosedException.class,
        () -> closed.spawn(Fiber.create(false, Computation.create()), () -> {}));
  }

  @Test
  void fiberOnSingleThreadExecutorStaysOnItsThread() throws Exception {
    AtomicReference<Thread> carrier = new AtomicReference<>();
    ExecutorService single = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "only-carrier");
      carrier.set(t);
      return t;
    });
    try (Scheduler s = Schedulers.onExecutor(single)) {
      assertTrue(s.run(() -> {
        boolean same = true;
        for (int i = 0; i < 50; i++) {
          Computation<Void> c = Computation.create();
          Thread other = new Thread(() -> c.tryReturn(null));
          other.start();
          c.await();
          same &= Thread.currentThread() == carrier.get();
        }
        return same;
      }));
    } finally {
      single.shutdownNow();
    }
  }

  @Test
  void uncaughtFailureOfACompletedFiberReachesTheHandler() throws Exception {
    AtomicReference<Throwable> reported = new AtomicReference<>();
    Computation<Void> done = Computation.returned(null);
    IllegalStateException late = new IllegalStateException("late failure");
    ExecutorService single = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "reporting");
      t.setUncaughtExceptionHandler((th, e) -> reported.set(e));
      return t;
    });
    try (Scheduler s = Schedulers.onExecutor(single)) {
      s.run(() -> {
        Fiber.spawn(Fiber.create(false, done), () -> {
          throw late;
        });
        return null;
      });
      while (reported.get() == null) {
        Thread.onSpinWait();
      }
      assertSame(late, reported.get());
    } finally {
      single.shutdownNow();
    }
  }
}
