package org.picos.bridge.reactor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class SchedulerTest {

  // ---------------------------------------------------------------------------------------
  // A Reactor scheduler as a Picos scheduler

  /**
   * scheduler(x) is one shared scheduler per Reactor scheduler: the same object on every call,
   * another for another host, refusing close with the way to get one's own, and closed (its
   * fibers cancelled) by the host's disposal; newScheduler(x) is a new closable one each time.
   */
  @Test
  void theSharedSchedulerIsOnePerHostRefusesCloseAndEndsWithTheHost() {
    reactor.core.scheduler.Scheduler host = reactor.core.scheduler.Schedulers.newSingle("shared-host");
    reactor.core.scheduler.Scheduler other = reactor.core.scheduler.Schedulers.newSingle("other-host");
    try {
      Scheduler shared = PicosReactor.scheduler(host);
      assertSame(shared, PicosReactor.scheduler(host));
      assertFalse(shared == PicosReactor.scheduler(other), "another host, another scheduler");
      UnsupportedOperationException refused = assertThrows(UnsupportedOperationException.class, shared::close);
      assertTrue(refused.getMessage().contains("PicosReactor.newScheduler"), refused.getMessage());
      try (Scheduler own = PicosReactor.newScheduler(host)) {
        assertFalse(own == shared || own == PicosReactor.newScheduler(host), "newScheduler is new each time");
        assertEquals("own", own.run(() -> "own"));
      }
      Computation<Object> parked = shared.start(() -> Computation.create().await());
      assertEquals("shared", shared.run(() -> "shared"));
      host.dispose();
      assertThrows(SchedulerClosedException.class, parked::await);
      assertTrue(shared.isClosed(), "the host's disposal closed its shared scheduler");
    } finally {
      host.dispose();
      other.dispose();
    }
  }

  @Test
  void fibersRunOnTheReactorSchedulersThreads() {
    reactor.core.scheduler.Scheduler single = reactor.core.scheduler.Schedulers.newSingle("picos-on-single");
    try (Scheduler picos = PicosReactor.newScheduler(single)) {
      List<String> threads = picos.run(() -> {
        List<String> names = new ArrayList<>();
        names.add(Thread.currentThread().getName());
        PicosReactor.await(Mono.delay(Duration.ofMillis(5)));
        names.add(Thread.currentThread().getName());
        return names;
      });
      assertTrue(threads.get(0).startsWith("picos-on-single-"), threads.toString());
      assertEquals(threads.get(0), threads.get(1));
    } finally {
      single.dispose();
    }
  }

  /** A ScheduledThreadPoolExecutor that counts the delayed tasks it is given. */
  private static final class CountingExecutor extends ScheduledThreadPoolExecutor {
    final AtomicInteger delayed = new AtomicInteger();

    CountingExecutor() {
      super(1);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
      if (delay > 0) {
        delayed.incrementAndGet();
      }
      return super.schedule(command, delay, unit);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(java.util.concurrent.Callable<V> callable, long delay, TimeUnit unit) {
      if (delay > 0) {
        delayed.incrementAndGet();
      }
      return super.schedule(callable, delay, unit);
    }
  }

  @Test
  void cancelAfterUsesTheReactorSchedulersTimer() {
    CountingExecutor executor = new CountingExecutor();
    reactor.core.scheduler.Scheduler reactorScheduler = reactor.core.scheduler.Schedulers.fromExecutorService(executor);
    try (Scheduler picos = PicosReactor.newScheduler(reactorScheduler)) {
      CancellationException timeout = new CancellationException("timed out");
      Throwable seen = picos.run(() -> {
        Computation<Void> slow = Computation.create();
        slow.cancelAfter(Duration.ofMillis(10), timeout);
        try {
          slow.await();
          return null;
        } catch (CancellationException e) {
          return e;
        }
      });
      assertSame(timeout, seen);
      assertEquals(1, executor.delayed.get());
    } finally {
      reactorScheduler.dispose();
    }
  }

  @Test
  void aSchedulerWithoutTimeFallsBackToThePicosTimer() {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    reactor.core.scheduler.Scheduler noTime = reactor.core.scheduler.Schedulers.fromExecutor(executor);
    try (Scheduler picos = PicosReactor.newScheduler(noTime)) {
      CancellationException timeout = new CancellationException("timed out");
      Computation<Void> slow = Computation.create();
      assertSame(timeout, assertThrows(CancellationException.class, () -> picos.run(() -> {
        slow.cancelAfter(Duration.ofMillis(5), timeout);
        return slow.await();
      })));
    } finally {
      executor.shutdown();
    }
  }

  @Test
  void disposingTheReactorSchedulerClosesThePicosOneAndCancelsItsFibers() {
    reactor.core.scheduler.Scheduler single = reactor.core.scheduler.Schedulers.newSingle("picos-disposed");
    Scheduler picos = PicosReactor.newScheduler(single);
    Computation<Void> suspended = Computation.create();
    Computation<Object> fiber = picos.start(() -> {
      suspended.tryReturn(null);
      return Computation.create().await();
    });
    suspended.await();
    single.dispose();
    SchedulerClosedException cause = assertThrows(SchedulerClosedException.class, fiber::await);
    assertTrue(cause.getMessage().contains("picos-disposed"), cause.getMessage());
    assertTrue(picos.isClosed());
    picos.close();
  }

  @Test
  void closingThePicosSchedulerLeavesTheReactorOneRunning() {
    reactor.core.scheduler.Scheduler single = reactor.core.scheduler.Schedulers.newSingle("picos-owner");
    try {
      Scheduler picos = PicosReactor.newScheduler(single);
      assertEquals(1, picos.run(() -> 1));
      picos.close();
      assertFalse(single.isDisposed());
      assertEquals(2, Mono.fromCallable(() -> 2).subscribeOn(single).block());
    } finally {
      single.dispose();
    }
  }

  @Test
  void theImmediateSchedulerIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PicosReactor.newScheduler(reactor.core.scheduler.Schedulers.immediate()));
    assertEquals("PicosReactor.scheduler: Schedulers.immediate() runs tasks inline in the calling"
        + " thread and cannot carry fibers; use single(), parallel(), boundedElastic() or a"
        + " scheduler made from an executor", e.getMessage());
  }

  // ---------------------------------------------------------------------------------------
  // A Picos scheduler as a Reactor scheduler

  @Test
  void publishOnAndSubscribeOnRunTasksInFibers() {
    try (Scheduler picos = Schedulers.multi(2)) {
      reactor.core.scheduler.Scheduler rs = PicosReactor.asReactorScheduler(picos);
      List<Boolean> inFiber = Flux.range(1, 5).publishOn(rs).map(x -> Fiber.inFiber()).collectList().block();
      assertEquals(List.of(true, true, true, true, true), inFiber);
      // A task may suspend its fiber: await here does not block a thread.
      String awaited = Mono.fromCallable(() -> PicosReactor.await(Mono.delay(Duration.ofMillis(5)).map(t -> "awaited")))
          .subscribeOn(rs)
          .block();
      assertEquals("awaited", awaited);
    }
  }

  @Test
  void disposingARunningTaskCancelsItsFiber() {
    try (Scheduler picos = Schedulers.multi(2)) {
      reactor.core.scheduler.Scheduler rs = PicosReactor.asReactorScheduler(picos);
      Computation<Void> started = Computation.create();
      Computation<Throwable> seen = Computation.create();
      Disposable task = rs.schedule(() -> {
        started.tryReturn(null);
        try {
          Computation.create().await();
        } catch (CancellationException e) {
          seen.tryReturn(e);
        }
      });
      started.await();
      assertFalse(task.isDisposed());
      task.dispose();
      assertEquals("The Reactor task was disposed", seen.await().getMessage());
      assertTrue(task.isDisposed());
    }
  }

  @Test
  void aTaskDisposedBeforeItStartsNeverRuns() {
    try (Scheduler picos = Schedulers.fifo()) {
      reactor.core.scheduler.Scheduler rs = PicosReactor.asReactorScheduler(picos);
      List<String> ran = new ArrayList<>();
      Computation<Void> later = Computation.create();
      picos.run(() -> {
        // The only carrier is busy with this fiber: the tasks start after it suspends.
        rs.schedule(() -> ran.add("disposed task")).dispose();
        rs.schedule(() -> later.tryReturn(null));
        later.await();
        return null;
      });
      assertEquals(List.of(), ran);
    }
  }

  @Test
  void delayedTasksRunAndCanBeDisposedWhileWaiting() {
    try (Scheduler picos = Schedulers.multi(2)) {
      reactor.core.scheduler.Scheduler rs = PicosReactor.asReactorScheduler(picos);
      Computation<String> ran = Computation.create();
      rs.schedule(() -> ran.tryReturn(Fiber.inFiber() ? "in a fiber" : "not"), 10, TimeUnit.MILLISECONDS);
      assertEquals("in a fiber", ran.await());
      assertEquals(1L, Mono.delay(Duration.ofMillis(1), rs).map(t -> 1L).block());
    }
  }

  @Test
  void disposingAWaitingDelayedTaskEndsItsTimerFiber() throws InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    ExecutorScheduler picos = Schedulers.onExecutor(pool);
    try {
      reactor.core.scheduler.Scheduler rs = PicosReactor.asReactorScheduler(picos);
      reactor.core.scheduler.Scheduler.Worker worker = rs.createWorker();
      Disposable direct = rs.schedule(() -> {
        throw new AssertionError("must not run");
      }, 1, TimeUnit.HOURS);
      Disposable onWorker = worker.schedule(() -> {
        throw new AssertionError("must not run");
      }, 1, TimeUnit.HOURS);
      direct.dispose();
      worker.dispose();
      assertTrue(direct.isDisposed());
      assertTrue(onWorker.isDisposed());
      // Both timer fibers wake from their hour-long sleep and end (the @Timeout bounds this).
      while (picos.liveFibers() != 0) {
        Thread.sleep(1);
      }
    } finally {
      picos.close();
      pool.shutdown();
    }
  }

  @Test
  void periodicTasksRepeatUntilDisposed() {
    try (Scheduler picos = Schedulers.multi(2)) {
      reactor.core.scheduler.Scheduler rs = PicosReactor.asReactorScheduler(picos);
      AtomicInteger runs = new AtomicInteger();
      Computation<Void> thrice = Computation.create();
      Disposable direct = rs.schedulePeriodically(() -> {
        if (runs.incrementAndGet() == 3) {
          thrice.tryReturn(null);
        }
      }, 0, 1, TimeUnit.MILLISECONDS);
      thrice.await();
      direct.dispose();
      assertTrue(direct.isDisposed());

      reactor.core.scheduler.Scheduler.Worker worker = rs.createWorker();
      AtomicInteger workerRuns = new AtomicInteger();
      Computation<Void> workerThrice = Computation.create();
      Disposable periodic = worker.schedulePeriodically(() -> {
        if (workerRuns.incrementAndGet() == 3) {
          workerThrice.tryReturn(null);
        }
      }, 1, 1, TimeUnit.MILLISECONDS);
      workerThrice.await();
      worker.dispose();
      assertTrue(worker.isDisposed());
      assertTrue(periodic.isDisposed());
    }
  }

  @Test
  void aWorkerRunsItsTasksOneAtATimeInOrder() {
    try (Scheduler picos = Schedulers.multi(2)) {
      reactor.core.scheduler.Scheduler.Worker worker = PicosReactor.asReactorScheduler(picos).createWorker();
      List<Integer> order = new ArrayList<>();
      AtomicInteger running = new AtomicInteger();
      Computation<Void> done = Computation.create();
      int tasks = 200;
      for (int i = 0; i < tasks; i++) {
        int n = i;
        worker.schedule(() -> {
          if (running.incrementAndGet() != 1) {
            done.tryCancel(new AssertionError("two tasks of one worker ran at once"));
          }
          order.add(n);
          if (n % 50 == 0) {
            Fiber.yield();
          }
          running.decrementAndGet();
          if (n == tasks - 1) {
            done.tryReturn(null);
          }
        });
      }
      done.await();
      for (int i = 0; i < tasks; i++) {
        assertEquals(i, order.get(i));
      }
      worker.dispose();
      RejectedExecutionException rejected = assertThrows(RejectedExecutionException.class, () -> worker.schedule(() -> {}));
      assertTrue(rejected.getMessage().contains("is disposed"), rejected.getMessage());
    }
  }

  @Test
  void taskFailuresGoToOnErrorDropped() {
    try (Scheduler picos = Schedulers.multi(2)) {
      reactor.core.scheduler.Scheduler rs = PicosReactor.asReactorScheduler(picos);
      IllegalStateException failure = new IllegalStateException("task failed");
      TestSupport.withDroppedErrors(dropped -> {
        rs.schedule(() -> {
          throw failure;
        });
        assertSame(failure, dropped.first.orTimeout(10, TimeUnit.SECONDS).join());
      });
    }
  }

  @Test
  void aClosedOrDisposedSchedulerRejectsTasks() {
    Scheduler picos = Schedulers.fifo();
    reactor.core.scheduler.Scheduler rs = PicosReactor.asReactorScheduler(picos);
    reactor.core.scheduler.Scheduler other = PicosReactor.asReactorScheduler(picos);
    rs.dispose();
    assertTrue(rs.isDisposed());
    RejectedExecutionException e = assertThrows(RejectedExecutionException.class, () -> rs.schedule(() -> {}));
    assertEquals("Scheduler PicosReactor.asReactorScheduler(" + picos + ") is disposed (or its Picos"
        + " scheduler is closed) and accepts no more tasks", e.getMessage());
    assertFalse(picos.isClosed());
    picos.close();
    assertTrue(other.isDisposed());
    assertInstanceOf(RejectedExecutionException.class,
        assertThrows(RejectedExecutionException.class, () -> other.schedule(() -> {})));
  }
}
