package org.picos.bridge.future;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.sched.Schedulers;

@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PicosFuturesTest {
  /** Executors created by a test; shut down after it. */
  private final List<ExecutorService> executors = new ArrayList<>();

  @AfterEach
  void shutDownExecutors() throws InterruptedException {
    for (ExecutorService e : executors) {
      e.shutdownNow();
      assertTrue(e.awaitTermination(10, TimeUnit.SECONDS), "executor threads did not end");
    }
  }

  private ExecutorService singleThread(String name) {
    ExecutorService e = Executors.newSingleThreadExecutor(r -> daemon(r, name));
    executors.add(e);
    return e;
  }

  private ExecutorService fixedPool(int threads, String name) {
    ExecutorService e = Executors.newFixedThreadPool(threads, r -> daemon(r, name));
    executors.add(e);
    return e;
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** The exception a future completed with, as stored (no wrapping added); null for a value. */
  private static Throwable failureOf(CompletableFuture<?> future) throws Exception {
    return future.handle((value, failure) -> failure).get(10, TimeUnit.SECONDS);
  }

  /** Waits until somebody (an awaiting fiber) has registered a callback on {@code future}. */
  private static void awaitDependent(CompletableFuture<?> future) throws InterruptedException {
    for (int i = 0; i < 10_000 && future.getNumberOfDependents() == 0; i++) {
      Thread.sleep(1);
    }
    assertTrue(future.getNumberOfDependents() > 0, "nobody awaited the future");
  }

  /** A future completed by another thread a little later. */
  private static <T> CompletableFuture<T> later(T value) {
    return CompletableFuture.supplyAsync(() -> value,
        CompletableFuture.delayedExecutor(5, TimeUnit.MILLISECONDS));
  }

  @Nested
  class ExecutorAsScheduler {
    @Test
    void fiberOnSingleThreadExecutorStaysOnItsThread() throws Exception {
      ExecutorService loop = singleThread("cf-loop");
      Thread loopThread = loop.submit(Thread::currentThread).get();
      Scheduler scheduler = PicosFutures.scheduler(loop);
      List<Thread> seen = scheduler.run(() -> {
        List<Thread> threads = new ArrayList<>();
        threads.add(Thread.currentThread());
        for (int i = 0; i < 5; i++) {
          assertEquals(i, PicosFutures.await(later(i)));
          threads.add(Thread.currentThread());
          Fiber.yield();
          threads.add(Thread.currentThread());
        }
        return threads;
      });
      assertEquals(11, seen.size());
      for (Thread t : seen) {
        assertSame(loopThread, t);
      }
    }

    @Test
    void awaitSuspendsTheFiberNotTheCarrier() throws Exception {
      // One carrier thread: if await blocked it, the fiber completing the future could never run.
      Scheduler scheduler = PicosFutures.scheduler(singleThread("cf-one"));
      String result = scheduler.run(() -> {
        CompletableFuture<String> handOff = new CompletableFuture<>();
        Computation<Boolean> completer = Fiber.spawn(() -> handOff.complete("from a sibling"));
        String got = PicosFutures.await(handOff);
        assertTrue(completer.await());
        return got;
      });
      assertEquals("from a sibling", result);
    }

    @Test
    void yieldingFibersTakeTurnsOnTheCommonPool() {
      Scheduler scheduler = PicosFutures.scheduler(ForkJoinPool.commonPool());
      // A ForkJoinPool in LIFO mode would run a fiber that yields again at once, forever.
      assertEquals("sibling ran", scheduler.run(() -> {
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
    }

    @Test
    void cancelAfterWakesAFiberAwaitingAFuture() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-timer"));
      CompletableFuture<String> never = new CompletableFuture<>();
      CancellationException timeout = new CancellationException("took too long");
      CancellationException thrown = assertThrows(CancellationException.class, () ->
          scheduler.run(() -> {
            Fiber.current().computation().cancelAfter(Duration.ofMillis(20), timeout);
            return PicosFutures.await(never);
          }));
      assertSame(timeout, thrown);
      // The computation is cancelled before the fiber unwinds; the fiber then cancels the future.
      assertInstanceOf(CancellationException.class, failureOf(never));
    }

    @Test
    void closingTheSchedulerEndsSuspendedFibersAndLeavesTheExecutorRunning() throws Exception {
      ExecutorService pool = fixedPool(2, "cf-close");
      Scheduler scheduler = PicosFutures.newScheduler(pool);
      CompletableFuture<String> never = new CompletableFuture<>();
      CompletableFuture<String> fiber = PicosFutures.future(scheduler, () -> PicosFutures.await(never));
      awaitDependent(never);
      scheduler.close();
      Throwable cause = failureOf(fiber);
      assertInstanceOf(SchedulerClosedException.class, cause);
      assertTrue(cause.getMessage().startsWith("Scheduler PicosFutures.newScheduler(ThreadPoolExecutor@"),
          cause.getMessage());
      assertTrue(cause.getMessage().contains("was closed"), cause.getMessage());
      assertTrue(never.isCancelled());
      assertFalse(pool.isShutdown());
      assertEquals("still running", pool.submit(() -> "still running").get(10, TimeUnit.SECONDS));
      SchedulerClosedException refused = assertThrows(SchedulerClosedException.class,
          () -> PicosFutures.future(scheduler, () -> 1));
      assertTrue(refused.getMessage().contains("is closed"), refused.getMessage());
    }

    @Test
    void shuttingTheExecutorDownEndsSuspendedFibersWithACauseNamingTheShutdown() throws Exception {
      ExecutorService pool = fixedPool(2, "cf-shutdown");
      Scheduler scheduler = PicosFutures.scheduler(pool);
      List<CompletableFuture<String>> awaited = new ArrayList<>();
      List<CompletableFuture<String>> fibers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        CompletableFuture<String> never = new CompletableFuture<>();
        awaited.add(never);
        fibers.add(PicosFutures.future(scheduler, () -> PicosFutures.await(never)));
      }
      for (CompletableFuture<String> never : awaited) {
        awaitDependent(never);
      }
      pool.shutdown();
      for (CompletableFuture<String> fiber : fibers) {
        Throwable cause = failureOf(fiber);
        assertInstanceOf(SchedulerClosedException.class, cause);
        assertTrue(cause.getMessage().contains("shut down"), cause.getMessage());
        assertTrue(cause.getMessage().contains("PicosFutures.scheduler(ThreadPoolExecutor@"),
            cause.getMessage());
      }
      for (CompletableFuture<String> never : awaited) {
        assertInstanceOf(CancellationException.class, failureOf(never),
            "an awaited future was not cancelled");
      }
      assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS), "the pool's threads did not end");
      assertTrue(scheduler.isClosed());
      assertThrows(SchedulerClosedException.class, () -> PicosFutures.future(scheduler, () -> 1));
    }

    @Test
    void shutdownNowWithARunnableFiberStillLetsItEndAndCloseReturn() throws Exception {
      ExecutorService loop = singleThread("cf-shutdown-now");
      Scheduler scheduler = PicosFutures.newScheduler(loop);
      CompletableFuture<String> yielding = PicosFutures.future(scheduler, () -> {
        for (;;) {
          Fiber.yield(); // always runnable: its next step is queued in the executor
        }
      });
      PicosFutures.await(later("let it spin a little"));
      loop.shutdownNow();
      assertInstanceOf(SchedulerClosedException.class, failureOf(yielding));
      scheduler.close(); // returns: the dropped step was run elsewhere and the fiber ended
      assertTrue(loop.awaitTermination(10, TimeUnit.SECONDS));
    }

    @Test
    void anExecutorAlreadyShutDownIsRefused() {
      ExecutorService pool = fixedPool(1, "cf-dead");
      pool.shutdown();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> PicosFutures.scheduler(pool));
      assertTrue(e.getMessage().contains("already shut down; pass an executor that is running"),
          e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> PicosFutures.newScheduler(pool));
      assertTrue(e.getMessage().startsWith("PicosFutures.newScheduler("), e.getMessage());
    }

    @Test
    void aPlainExecutorRunsFibersToo() {
      ExecutorService pool = fixedPool(1, "cf-plain");
      Scheduler scheduler = PicosFutures.scheduler(pool::execute);
      assertEquals("cf-plain", scheduler.run(() -> {
        PicosFutures.await(later("x"));
        return Thread.currentThread().getName();
      }));
    }
  }

  @Nested
  class SharedSchedulers {
    @Test
    void theSameExecutorAnswersTheSameSchedulerWhichCannotBeClosed() {
      ExecutorService pool = fixedPool(1, "cf-shared");
      ExecutorService other = fixedPool(1, "cf-other");
      Scheduler shared = PicosFutures.scheduler(pool);
      assertSame(shared, PicosFutures.scheduler(pool));
      assertNotSame(shared, PicosFutures.scheduler(other));
      assertNotSame(shared, PicosFutures.newScheduler(pool));
      Computation<Object> running = shared.start(() -> PicosFutures.await(new CompletableFuture<>()));
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, shared::close);
      assertTrue(e.getMessage().contains("PicosFutures.newScheduler(executor)"), e.getMessage());
      assertFalse(shared.isClosed());
      assertTrue(running.isRunning(), "a refused close cancels nothing");
      running.tryCancel(new CancellationException("done"));
    }

    @Test
    void aSharedSchedulerWithFibersStaysTheSameEvenWhenNobodyHoldsIt() {
      ExecutorService pool = fixedPool(1, "cf-kept");
      CompletableFuture<String> never = new CompletableFuture<>();
      Computation<String> suspended = PicosFutures.scheduler(pool).start(() -> PicosFutures.await(never));
      java.lang.ref.WeakReference<Scheduler> first = new java.lang.ref.WeakReference<>(PicosFutures.scheduler(pool));
      for (int i = 0; i < 5; i++) {
        System.gc();
      }
      assertSame(first.get(), PicosFutures.scheduler(pool), "its suspended fiber keeps it");
      assertNotNull(first.get());
      never.complete("done");
      assertEquals("done", suspended.await());
    }

    @Test
    void anExecutorNobodyUsesFreesItsScheduler() throws InterruptedException {
      ExecutorService pool = fixedPool(1, "cf-freed");
      Executor plain = pool::execute;
      ExecutorService service = Executors.newSingleThreadExecutor();
      java.lang.ref.WeakReference<Executor> executor = new java.lang.ref.WeakReference<>(plain);
      java.lang.ref.WeakReference<Executor> shutDown = new java.lang.ref.WeakReference<>(service);
      java.lang.ref.WeakReference<Scheduler> scheduler =
          new java.lang.ref.WeakReference<>(PicosFutures.scheduler(plain));
      java.lang.ref.WeakReference<Scheduler> ofService =
          new java.lang.ref.WeakReference<>(PicosFutures.scheduler(service));
      assertEquals(1, scheduler.get().run(() -> 1));
      assertEquals(2, ofService.get().run(() -> 2));
      service.shutdown();
      assertTrue(service.awaitTermination(10, TimeUnit.SECONDS));
      plain = null;
      service = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (executor.get() != null || scheduler.get() != null || shutDown.get() != null
          || ofService.get() != null) {
        assertTrue(System.nanoTime() < deadline, "an executor or its scheduler is still reachable");
        System.gc();
        Thread.sleep(10);
      }
    }
  }

  @Nested
  class SchedulerAsExecutor {
    @Test
    void eachTaskRunsInAFiberOfTheSchedulerAndMayAwait() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(singleThread("cf-as-executor"));
      Executor executor = PicosFutures.asExecutor(scheduler);
      CompletableFuture<String> f = CompletableFuture.supplyAsync(
          () -> PicosFutures.await(later("awaited")) + " in a fiber " + Fiber.inFiber()
              + " on " + Thread.currentThread().getName(), executor);
      assertEquals("awaited in a fiber true on cf-as-executor", f.get(10, TimeUnit.SECONDS));
    }

    @Test
    void aFailingTaskGoesToTheCarriersUncaughtHandlerAndACancelledOneDoesNot() throws Exception {
      CompletableFuture<Throwable> uncaught = new CompletableFuture<>();
      ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
        Thread t = daemon(r, "cf-uncaught");
        t.setUncaughtExceptionHandler((thread, e) -> uncaught.complete(e));
        return t;
      });
      executors.add(pool);
      Scheduler scheduler = PicosFutures.newScheduler(pool);
      Executor executor = PicosFutures.asExecutor(scheduler);
      CountDownLatch waiting = new CountDownLatch(1);
      executor.execute(() -> {
        waiting.countDown();
        PicosFutures.await(new CompletableFuture<>());
      });
      assertTrue(waiting.await(10, TimeUnit.SECONDS));
      scheduler.close();
      RejectedExecutionException refused =
          assertThrows(RejectedExecutionException.class, () -> executor.execute(() -> {}));
      assertInstanceOf(SchedulerClosedException.class, refused.getCause());
      assertFalse(uncaught.isDone(), "a task cut short by the closing is no failure: " + uncaught.getNow(null));

      IllegalStateException boom = new IllegalStateException("boom");
      PicosFutures.asExecutor(PicosFutures.newScheduler(pool)).execute(() -> {
        throw boom;
      });
      assertSame(boom, uncaught.get(10, TimeUnit.SECONDS));
    }
  }

  @Nested
  class FibersAsFutures {
    @Test
    void outsideAFiberTheWorkRunsOnTheSharedScheduler() throws Exception {
      CompletableFuture<String> f = PicosFutures.future(() -> {
        assertTrue(Fiber.inFiber());
        return PicosFutures.await(later("hello")) + " from " + Thread.currentThread().getName();
      });
      assertTrue(f.get(10, TimeUnit.SECONDS).startsWith("hello from multi("), f.get());
    }

    @Test
    void inAFiberTheWorkRunsOnTheCallersScheduler() throws Exception {
      ExecutorService loop = singleThread("cf-parent");
      Scheduler scheduler = PicosFutures.scheduler(loop);
      String where = scheduler.run(() -> {
        CompletableFuture<String> child = PicosFutures.future(() -> {
          assertTrue(Fiber.inFiber());
          return Thread.currentThread().getName();
        });
        return PicosFutures.await(child);
      });
      assertEquals("cf-parent", where);
    }

    @Test
    void aFutureCompletesWithTheFibersValue() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-value"));
      CompletableFuture<Integer> f = PicosFutures.future(scheduler, () -> PicosFutures.await(later(41)) + 1);
      assertEquals(42, f.get(10, TimeUnit.SECONDS));
    }

    @Test
    void aFiberFailureCompletesTheFutureWithTheSameException() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-fail"));
      for (Throwable failure : List.of(new IllegalStateException("unchecked"),
          new IOException("checked"), new StackOverflowError("an error"))) {
        CompletableFuture<Object> f = PicosFutures.future(scheduler, () -> {
          PicosFutures.await(later("first suspend"));
          if (failure instanceof Exception e) {
            throw e;
          }
          throw (Error) failure;
        });
        assertSame(failure, failureOf(f));
        // join() adds CompletableFuture's usual single wrapper, around the original.
        CompletionException joined = assertThrows(CompletionException.class, f::join);
        assertSame(failure, joined.getCause());
      }
    }

    @ParameterizedTest(name = "cancel({0})")
    @ValueSource(booleans = {true, false})
    void cancellingTheFutureCancelsTheFiberAtItsAwait(boolean mayInterrupt) throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-cancel"));
      CompletableFuture<String> never = new CompletableFuture<>();
      CompletableFuture<Throwable> seenByFiber = new CompletableFuture<>();
      Computation<String> computation = scheduler.start(() -> {
        try {
          return PicosFutures.await(never);
        } catch (Throwable t) {
          seenByFiber.complete(t);
          throw t;
        }
      });
      CompletableFuture<String> f = PicosFutures.toFuture(computation);
      awaitDependent(never);
      assertTrue(f.cancel(mayInterrupt));
      Throwable cause = assertThrows(CancellationException.class, computation::await);
      assertTrue(cause.getMessage().contains("was cancelled by its holder"), cause.getMessage());
      assertInstanceOf(CancellationException.class, cause.getCause());
      assertSame(cause, seenByFiber.get(10, TimeUnit.SECONDS), "the fiber's await did not throw the cause");
      assertInstanceOf(CancellationException.class, failureOf(never),
          "the cancellation did not reach the awaited future");
    }

    @Test
    void aRunningFiberSeesTheCancellationAtItsNextAwait() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-running"));
      CountDownLatch started = new CountDownLatch(1);
      CompletableFuture<String> next = new CompletableFuture<>();
      AtomicBoolean wasRunningWhenCancelled = new AtomicBoolean();
      Computation<String> computation = scheduler.start(() -> {
        started.countDown();
        Computation<?> mine = Fiber.current().computation();
        for (int i = 0; i < 10_000 && !mine.isCanceled(); i++) {
          Thread.sleep(1); // busy, not awaiting: cancellation cannot interrupt this
        }
        wasRunningWhenCancelled.set(mine.isCanceled());
        return PicosFutures.await(next);
      });
      CompletableFuture<String> f = PicosFutures.toFuture(computation);
      started.await();
      f.cancel(false);
      assertThrows(CancellationException.class, computation::await);
      assertInstanceOf(CancellationException.class, failureOf(next),
          "the await after the cancellation did not cancel its future");
      assertTrue(wasRunningWhenCancelled.get());
    }

    @Test
    void completingTheFutureFromOutsideCancelsTheComputation() throws Exception {
      Computation<String> byValue = Computation.create();
      assertTrue(PicosFutures.toFuture(byValue).complete("not yours"));
      assertTrue(byValue.canceled().getMessage().contains("completed with a value by its holder"));

      Computation<String> byTimeout = Computation.create();
      CompletableFuture<String> f = PicosFutures.toFuture(byTimeout).orTimeout(1, TimeUnit.MILLISECONDS);
      assertInstanceOf(TimeoutException.class, failureOf(f));
      Throwable cause = assertThrows(CancellationException.class, byTimeout::await);
      assertTrue(cause.getMessage().contains("completed exceptionally by its holder"), cause.getMessage());
      assertInstanceOf(TimeoutException.class, cause.getCause());
    }

    @Test
    void completedComputationsGiveCompletedFutures() throws Exception {
      assertEquals("done", PicosFutures.toFuture(Computation.returned("done")).getNow(null));
      IllegalStateException failure = new IllegalStateException("failed earlier");
      CompletableFuture<Object> f = PicosFutures.toFuture(Computation.canceled(failure));
      assertTrue(f.isDone());
      assertSame(failure, failureOf(f));
      CancellationException cancelled = new CancellationException("cancelled earlier");
      CompletableFuture<Object> g = PicosFutures.toFuture(Computation.canceled(cancelled));
      assertTrue(g.isCancelled());
      assertSame(cancelled, failureOf(g));
    }
  }

  @Nested
  class AwaitingStages {
    @Test
    void aCompletedStageAnswersWithoutSuspending() {
      try (Scheduler fifo = Schedulers.fifo()) {
        fifo.run(() -> {
          AtomicBoolean siblingRan = new AtomicBoolean();
          Computation<Void> sibling = Fiber.spawn(() -> {
            siblingRan.set(true);
            return null;
          });
          // On one FIFO carrier the sibling runs only if this fiber suspends or yields.
          assertEquals("ready", PicosFutures.await(CompletableFuture.completedFuture("ready")));
          assertEquals("view", PicosFutures.await(CompletableFuture.completedStage("view")));
          IllegalStateException failure = new IllegalStateException("failed");
          assertSame(failure, assertThrows(IllegalStateException.class,
              () -> PicosFutures.await(CompletableFuture.failedFuture(failure))));
          assertFalse(siblingRan.get(), "await of a completed stage suspended the fiber");
          // Control: awaiting a stage that is not complete does suspend, and the sibling runs.
          PicosFutures.await(later("suspends"));
          assertTrue(siblingRan.get());
          return sibling.await();
        });
      }
    }

    @Test
    void theOriginalUncheckedExceptionReachesTheCaller() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-errors"));
      AtomicReference<IllegalStateException> thrownInSupplier = new AtomicReference<>();
      CompletableFuture<String> failing = CompletableFuture.supplyAsync(() -> {
        IllegalStateException e = new IllegalStateException("in the supplier");
        thrownInSupplier.set(e);
        throw e;
      });
      // supplyAsync stores CompletionException(e); a dependent stage stores it too.
      CompletionStage<String> dependent = failing.thenApply(s -> s + "!");
      for (CompletionStage<String> stage : List.of(failing, dependent)) {
        IllegalStateException thrown = scheduler.run(() -> {
          try {
            PicosFutures.await(stage);
            return null;
          } catch (IllegalStateException e) {
            return e;
          }
        });
        assertSame(thrownInSupplier.get(), thrown);
        assertTrue(thrown.getStackTrace()[0].getClassName().startsWith(PicosFuturesTest.class.getName()),
            "the stack is not the supplier's: " + thrown.getStackTrace()[0]);
      }
      Error error = new StackOverflowError("an error");
      assertSame(error, assertThrows(StackOverflowError.class, () ->
          scheduler.run(() -> PicosFutures.await(CompletableFuture.failedFuture(error)))));
    }

    @Test
    void aCheckedExceptionIsWrappedExactlyOnce() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-checked"));
      IOException io = new IOException("disk on fire");
      CompletableFuture<String> direct = new CompletableFuture<>();
      CompletionStage<String> dependent = direct.thenApply(s -> s + "!");
      CompletableFuture<String> fiber = PicosFutures.future(scheduler, () -> {
        PicosFutures.await(later("first suspend"));
        throw io;
      });
      later("go").thenRun(() -> direct.completeExceptionally(io));
      for (CompletionStage<String> stage : List.of(direct, dependent, fiber)) {
        CompletionException thrown = assertThrows(CompletionException.class,
            () -> scheduler.run(() -> PicosFutures.await(stage)));
        assertSame(io, thrown.getCause(), "not exactly one CompletionException around the original");
      }
    }

    @Test
    void aCancelledStageThrowsItsCancellationException() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-cancelled"));
      CompletableFuture<String> cancelled = new CompletableFuture<>();
      CancellationException reason = new CancellationException("no longer needed");
      later("go").thenRun(() -> cancelled.completeExceptionally(reason));
      assertSame(reason, assertThrows(CancellationException.class,
          () -> scheduler.run(() -> PicosFutures.await(cancelled))));
      assertSame(reason, assertThrows(CancellationException.class,
          () -> scheduler.run(() -> PicosFutures.await(cancelled.thenApply(s -> s + "!")))));
    }

    @Test
    void cancellingTheFiberCancelsTheAwaitedFuture() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-fiber-cancel"));
      CompletableFuture<String> never = new CompletableFuture<>();
      Computation<String> fiber = scheduler.start(() -> PicosFutures.await(never));
      awaitDependent(never);
      IllegalStateException reason = new IllegalStateException("stop");
      assertTrue(fiber.tryCancel(reason));
      assertSame(reason, assertThrows(IllegalStateException.class, fiber::await));
      assertInstanceOf(CancellationException.class, failureOf(never));
      assertTrue(never.isCancelled());
    }

    @Test
    void cancellingTheFiberDetachesFromAReadOnlyStage() throws Exception {
      Scheduler scheduler = PicosFutures.scheduler(fixedPool(2, "cf-detach"));
      CompletableFuture<String> source = new CompletableFuture<>();
      CompletionStage<String> readOnly = source.minimalCompletionStage();
      CompletableFuture<Throwable> seenByFiber = new CompletableFuture<>();
      Computation<String> fiber = scheduler.start(() -> {
        try {
          return PicosFutures.await(readOnly);
        } catch (Throwable t) {
          seenByFiber.complete(t);
          throw t;
        }
      });
      awaitDependent(source);
      CancellationException reason = new CancellationException("stop waiting");
      fiber.tryCancel(reason);
      assertSame(reason, assertThrows(CancellationException.class, fiber::await));
      assertSame(reason, seenByFiber.get(10, TimeUnit.SECONDS));
      assertFalse(source.isDone(), "a read-only stage must be left alone");
      assertTrue(source.complete("later"));
    }

    @Test
    void outsideAFiberAwaitBlocksTheThreadLikeJoin() throws Exception {
      assertFalse(Fiber.inFiber());
      assertEquals("blocked until ready", PicosFutures.await(later("blocked until ready")));
      IllegalStateException failure = new IllegalStateException("failed later");
      CompletableFuture<String> failing = new CompletableFuture<>();
      later("go").thenRun(() -> failing.completeExceptionally(failure));
      assertSame(failure, assertThrows(IllegalStateException.class, () -> PicosFutures.await(failing)));
      // Like join(), an interrupt does not end the wait; the interrupt status is kept.
      Thread.currentThread().interrupt();
      try {
        assertEquals("despite the interrupt", PicosFutures.await(later("despite the interrupt")));
      } finally {
        assertTrue(Thread.interrupted(), "the interrupt status was lost");
      }
    }
  }

  @Test
  void nullsAreRefusedWithMessagesNamingTheArgument() {
    Scheduler scheduler = Schedulers.shared();
    assertEquals("PicosFutures.scheduler: executor must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.scheduler(null)).getMessage());
    assertEquals("PicosFutures.newScheduler: executor must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.newScheduler(null)).getMessage());
    assertEquals("PicosFutures.asExecutor: scheduler must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.asExecutor(null)).getMessage());
    assertEquals("PicosFutures.future: body must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.future(null)).getMessage());
    assertEquals("PicosFutures.future: scheduler must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.future(null, () -> 1)).getMessage());
    assertEquals("PicosFutures.future: body must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.future(scheduler, null)).getMessage());
    assertEquals("PicosFutures.toFuture: computation must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.toFuture(null)).getMessage());
    assertEquals("PicosFutures.await: stage must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.await(null)).getMessage());
  }
}
