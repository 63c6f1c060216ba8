package org.picos.std.blocking;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.picos.spi.BlockingGuards;
import org.picos.std.Env;
import org.picos.std.sync.Latch;

/**
 * {@link Blocking}: the call runs on another thread while only the fiber waits, failures keep
 * their identity and type, and cancellation interrupts the call, runs the cancel action, ends
 * the fiber at once and leaves the pool thread clean.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BlockingTest {
  private final List<ExecutorService> executors = new ArrayList<>();

  @AfterEach
  void shutDownExecutors() throws InterruptedException {
    for (ExecutorService e : executors) {
      e.shutdownNow();
      assertTrue(e.awaitTermination(10, TimeUnit.SECONDS), "executor threads did not end");
    }
  }

  /** A pool of one thread, so that the next call shows what the previous one left on it. */
  private ThreadPoolExecutor oneThread(String name) {
    ThreadPoolExecutor e = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
        Thread.ofPlatform().daemon().name(name).factory());
    executors.add(e);
    return e;
  }

  @ParameterizedTest
  @EnumSource(value = Env.class, names = {"FIFO", "MULTI_2", "THREAD_PER_FIBER", "FIXED_POOL"})
  void theCallRunsOnThePoolWhileOtherFibersOfTheCarrierRun(Env env) {
    String thread = env.run(() -> {
      CountDownLatch letGo = new CountDownLatch(1);
      Latch started = new Latch(1);
      // A sibling that can only run while the first fiber is suspended, on a single carrier.
      Env.Task<Void> sibling = Env.fork(() -> {
        started.await();
        letGo.countDown();
        return null;
      });
      String ranOn = Blocking.call(() -> {
        started.countDown();
        assertTrue(letGo.await(20, TimeUnit.SECONDS), "the sibling fiber never ran");
        return Thread.currentThread().getName();
      });
      sibling.join();
      return ranOn;
    });
    assertTrue(thread.startsWith("picos-blocking-"), "ran on " + thread);
  }

  @Test
  void theDefaultPoolIsMadeOfDaemonPlatformThreads() {
    Thread pooled = run(() -> Blocking.call(Thread::currentThread));
    assertTrue(pooled.isDaemon(), pooled + " is not a daemon");
    assertFalse(pooled.isVirtual(), pooled + " is virtual");
    assertTrue(pooled.getName().matches("picos-blocking-\\d+"), pooled.getName());
  }

  @Test
  void thePoolBoundComesFromTheSystemPropertyAndABadValueIsAClearError() {
    assertEquals(Blocking.DEFAULT_THREADS, Blocking.threads(null));
    assertTrue(Blocking.DEFAULT_THREADS >= 64);
    assertEquals(8, Blocking.threads("8"));
    for (String bad : new String[] {"0", "-3", "many", ""}) {
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> Blocking.threads(bad));
      assertTrue(e.getMessage().contains(Blocking.THREADS_PROPERTY) && e.getMessage().contains("\"" + bad + "\""),
          e.getMessage());
    }
  }

  @Test
  void failuresKeepTheirIdentityAndACheckedOneItsType() {
    IOException checked = new IOException("disk gone");
    IllegalArgumentException unchecked = new IllegalArgumentException("bad row");
    StackOverflowError error = new StackOverflowError("deep");
    run(() -> {
      try {
        Blocking.call(() -> {
          throw checked;
        });
        fail("nothing thrown");
      } catch (IOException thrown) { // compiles only because the call declares IOException
        assertSame(checked, thrown);
      }
      assertSame(unchecked, assertThrows(IllegalArgumentException.class, () -> Blocking.call(() -> {
        throw unchecked;
      })));
      assertSame(error, assertThrows(StackOverflowError.class, () -> Blocking.call(() -> {
        throw error;
      })));
      return null;
    });
  }

  @ParameterizedTest
  @EnumSource(value = Env.class, names = {"FIFO", "MULTI_2", "THREAD_PER_FIBER", "FIXED_POOL"})
  void cancellingTheFiberInterruptsTheCallRunsTheCancelActionOnceAndEndsTheFiberAtOnce(Env env)
      throws Exception {
    Blocking.Offload offload = Blocking.using(oneThread("blocking-cancel"));
    CountDownLatch letGo = new CountDownLatch(1);
    AtomicBoolean sawInterrupt = new AtomicBoolean();
    AtomicInteger cancelActions = new AtomicInteger();
    AtomicBoolean returned = new AtomicBoolean();
    env.exec(() -> {
      Latch started = new Latch(1);
      Env.Task<String> caller = Env.fork(() -> offload.call(() -> {
        started.countDown();
        while (!Thread.currentThread().isInterrupted()) {
          Thread.onSpinWait(); // ignores the interrupt, as a busy driver would, and keeps the flag set
        }
        sawInterrupt.set(true);
        while (letGo.getCount() > 0) {
          Thread.yield(); // does not return until the test lets it, and leaves the flag set
        }
        returned.set(true);
        return "late";
      }, cancelActions::incrementAndGet));
      started.await();
      CancellationException cause = new CancellationException("the client went away");
      caller.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, caller::join));
      assertFalse(returned.get(), "the fiber ended only once the call had returned");
      assertEquals(1, cancelActions.get());
      until("the call saw the interrupt", sawInterrupt::get);
    });
    letGo.countDown();
    // The pool's only thread is reclaimed, with its interrupt flag cleared.
    assertFalse(run(() -> offload.call(() -> Thread.currentThread().isInterrupted())));
    assertTrue(returned.get());
    assertEquals(1, cancelActions.get(), "the cancel action ran again");
  }

  @Test
  void aCallStillQueuedWhenItsFiberIsCancelledNeverRuns() throws Exception {
    ThreadPoolExecutor pool = oneThread("blocking-queued");
    Blocking.Offload offload = Blocking.using(pool);
    CountDownLatch busy = new CountDownLatch(1);
    AtomicBoolean queuedRan = new AtomicBoolean();
    AtomicInteger cancelActions = new AtomicInteger();
    Env.FIFO.exec(() -> {
      Latch started = new Latch(1);
      Env.Task<Object> occupier = Env.fork(() -> offload.call(() -> {
        started.countDown();
        return busy.await(20, TimeUnit.SECONDS);
      }));
      started.await();
      Env.Task<Object> queued = Env.fork(() -> offload.call(() -> queuedRan.getAndSet(true),
          cancelActions::incrementAndGet));
      until("the second call queued behind the first", () -> pool.getQueue().size() == 1);
      CancellationException cause = new CancellationException("no longer needed");
      queued.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, queued::join));
      busy.countDown();
      assertEquals(true, occupier.join());
    });
    assertEquals("after", run(() -> offload.call(() -> "after")));
    assertFalse(queuedRan.get(), "the cancelled call ran");
    assertEquals(0, cancelActions.get(), "the cancel action ran for a call that never started");
  }

  @Test
  void aCallThatReturnedAsItsFiberWasCancelledIsNotLost() {
    ThreadPoolExecutor pool = oneThread("blocking-returned");
    CountDownLatch suspended = new CountDownLatch(1);
    CountDownLatch returned = new CountDownLatch(1);
    Blocking.Offload offload = Blocking.using(task -> pool.execute(() -> {
      assertTrue(await(suspended)); // the caller waits for the call before it runs
      task.run();
      returned.countDown(); // the call has returned, and its fiber has been woken
    }));
    AtomicInteger cancelActions = new AtomicInteger();
    Env.FIFO.exec(() -> {
      AtomicReference<String> got = new AtomicReference<>();
      Env.Task<Void> caller = Env.fork(() -> {
        got.set(offload.call(() -> "a row", cancelActions::incrementAndGet));
        Fiber.check();
        return null;
      });
      Fiber.yield(); // the caller submits its call and suspends
      suspended.countDown();
      // Hold the single carrier until the call has returned, then cancel the woken caller before
      // it runs again: it is both signalled and cancelled when it resumes.
      assertTrue(returned.await(20, TimeUnit.SECONDS));
      CancellationException cause = new CancellationException("cancelled as the row came");
      caller.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, caller::join));
      assertEquals("a row", got.get(), "the finished call's value was dropped");
    });
    assertEquals(0, cancelActions.get(), "a cancel action for a call that had returned");
  }

  @Test
  void aCancelActionThatThrowsIsReportedAndTheFiberStillEnds() throws Exception {
    AtomicReference<Throwable> reported = new AtomicReference<>();
    ExecutorService carrier = Executors.newSingleThreadExecutor(r -> {
      Thread t = Thread.ofPlatform().daemon().name("blocking-carrier").unstarted(r);
      t.setUncaughtExceptionHandler((thread, e) -> reported.set(e));
      return t;
    });
    executors.add(carrier);
    Blocking.Offload offload = Blocking.using(oneThread("blocking-failing-cancel"));
    IllegalStateException broken = new IllegalStateException("the driver cannot cancel");
    try (Scheduler scheduler = Schedulers.onExecutor(carrier)) {
      CountDownLatch started = new CountDownLatch(1);
      Computation<Object> fiber = scheduler.start(() -> offload.call(() -> {
        started.countDown();
        Thread.sleep(60_000);
        return "never";
      }, () -> {
        throw broken;
      }));
      assertTrue(started.await(20, TimeUnit.SECONDS));
      CancellationException cause = new CancellationException("stop");
      fiber.tryCancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, fiber::await));
    }
    assertSame(broken, reported.get());
    assertEquals("next", run(() -> offload.call(() -> "next")), "the interrupt did not end the sleep");
  }

  @Test
  void aRejectingExecutorGivesTheFiberARejectedExecutionException() {
    ExecutorService stopped = oneThread("blocking-stopped");
    stopped.shutdown();
    Blocking.Offload offload = Blocking.using(stopped);
    AtomicBoolean ran = new AtomicBoolean();
    RejectedExecutionException refused = run(() -> assertThrows(RejectedExecutionException.class,
        () -> offload.call(() -> ran.getAndSet(true))));
    assertTrue(refused.getMessage().startsWith("Blocking.call: Blocking.using(") && refused.getMessage().contains("refused"),
        refused.getMessage());
    assertInstanceOf(RejectedExecutionException.class, refused.getCause());
    assertFalse(ran.get());
  }

  @Test
  void aFiberThatForbidsCancellationWaitsForTheResult() {
    Blocking.Offload offload = Blocking.using(oneThread("blocking-forbid"));
    CountDownLatch letGo = new CountDownLatch(1);
    AtomicInteger cancelActions = new AtomicInteger();
    Env.FIFO.exec(() -> {
      Latch started = new Latch(1);
      AtomicReference<String> got = new AtomicReference<>();
      Env.Task<Void> caller = Env.fork(() -> {
        got.set(Fiber.forbid(() -> offload.call(() -> {
          started.countDown();
          assertTrue(letGo.await(20, TimeUnit.SECONDS));
          return "finished";
        }, cancelActions::incrementAndGet)));
        Fiber.check();
        return null;
      });
      started.await();
      CancellationException cause = new CancellationException("cancelled while protected");
      caller.cancel(cause);
      Fiber.yield();
      assertFalse(caller.isDone(), "the protected fiber stopped waiting");
      letGo.countDown();
      assertSame(cause, assertThrows(CancellationException.class, caller::join));
      assertEquals("finished", got.get());
    });
    assertEquals(0, cancelActions.get());
  }

  @Test
  void aFiberAlreadyCancelledRunsNothing() {
    AtomicBoolean ran = new AtomicBoolean();
    CancellationException cause = new CancellationException("already");
    Env.FIFO.exec(() -> {
      Computation<Void> token = Computation.canceled(cause);
      Computation<Boolean> result = Computation.create();
      Fiber.spawn(Fiber.create(false, token), () -> result.tryCapture(() -> Blocking.call(() -> ran.getAndSet(true))));
      assertSame(cause, assertThrows(CancellationException.class, result::await));
    });
    assertFalse(ran.get());
  }

  @Test
  void outsideAFiberTheCallingThreadRunsTheCallAfterTheGuardsAgree() {
    assertFalse(Fiber.inFiber());
    assertSame(Thread.currentThread(), Blocking.call(Thread::currentThread));
    Thread refusedThread = Thread.currentThread();
    org.picos.spi.BlockingGuard guard = () -> {
      if (Thread.currentThread() == refusedThread) {
        throw new IllegalStateException("this thread must not block");
      }
    };
    BlockingGuards.add(guard);
    try {
      AtomicInteger ran = new AtomicInteger();
      for (int i = 0; i < 100; i++) {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Blocking.call(ran::incrementAndGet));
        assertEquals("this thread must not block", e.getMessage());
      }
      assertEquals(0, ran.get(), "a refused call ran");
    } finally {
      BlockingGuards.remove(guard);
    }
  }

  @Test
  void nullsAreRefusedWithMessagesNamingTheArgument() {
    assertEquals("Blocking.call: body must not be null",
        assertThrows(NullPointerException.class, () -> Blocking.call(null)).getMessage());
    assertEquals("Blocking.call: onCancel must not be null",
        assertThrows(NullPointerException.class, () -> Blocking.call(() -> 1, null)).getMessage());
    assertEquals("Blocking.using: executor must not be null",
        assertThrows(NullPointerException.class, () -> Blocking.using(null)).getMessage());
  }

  private static boolean await(CountDownLatch latch) {
    try {
      return latch.await(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** Runs {@code main} in a fiber of a fifo scheduler. */
  private static <T> T run(java.util.concurrent.Callable<T> main) {
    return Env.FIFO.run(main);
  }
}
