package org.picos.bridge.rxjava;

import static org.junit.jupiter.api.Assertions.*;

import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.sched.Schedulers;

/** Rx schedulers as Picos schedulers, and Picos schedulers as Rx schedulers. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SchedulersTest {
  private final List<Throwable> rxErrors = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    RxJavaPlugins.setErrorHandler(rxErrors::add);
  }

  @AfterEach
  void tearDown() {
    RxJavaPlugins.reset();
  }

  // ---------------------------------------------------------------------------------------
  // scheduler(rx)

  /**
   * scheduler(x) is one shared scheduler per Rx scheduler: the same object on every call, another
   * for another host, refusing close with the way to get one's own, and closed (its fibers
   * cancelled) when the host shuts down; newScheduler(x) is a new closable one each time.
   */
  @Test
  void theSharedSchedulerIsOnePerHostRefusesCloseAndEndsWithTheHost() {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    io.reactivex.rxjava3.core.Scheduler host = io.reactivex.rxjava3.schedulers.Schedulers.from(pool);
    io.reactivex.rxjava3.core.Scheduler other = io.reactivex.rxjava3.schedulers.Schedulers.single();
    try {
      Scheduler shared = PicosRx.scheduler(host);
      assertSame(shared, PicosRx.scheduler(host));
      assertNotSame(shared, PicosRx.scheduler(other), "another host, another scheduler");
      UnsupportedOperationException refused = assertThrows(UnsupportedOperationException.class, shared::close);
      assertTrue(refused.getMessage().contains("PicosRx.newScheduler"), refused.getMessage());
      try (Scheduler own = PicosRx.newScheduler(host)) {
        assertNotSame(own, PicosRx.newScheduler(host), "newScheduler is new each time");
        assertEquals("own", own.run(() -> "own"));
      }
      Computation<Object> parked = shared.start(() -> Computation.create().await());
      assertEquals("shared", shared.run(() -> "shared"));
      pool.shutdownNow();
      assertThrows(SchedulerClosedException.class, parked::await);
      assertTrue(shared.isClosed(), "the host's shutdown closed its shared scheduler");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void fibersOnRxSingleStayOnItsThread() {
    try (Scheduler s = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.single())) {
      List<String> threads = s.run(() -> {
        List<String> seen = new ArrayList<>();
        seen.add(Thread.currentThread().getName());
        Fiber.yield();
        seen.add(Thread.currentThread().getName());
        seen.add(PicosRx.await(Single.timer(5, TimeUnit.MILLISECONDS)
            .map(t -> "awaited on " + Thread.currentThread().getName())));
        seen.add(Thread.currentThread().getName());
        return seen;
      });
      assertTrue(threads.get(0).startsWith("RxSingleScheduler"), threads.toString());
      assertEquals(threads.get(0), threads.get(1));
      assertEquals(threads.get(0), threads.get(3));
    }
  }

  @Test
  void manyFibersOnRxComputation() {
    try (Scheduler s = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.computation())) {
      int total = s.run(() -> {
        List<Computation<Integer>> children = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
          int n = i;
          children.add(Fiber.spawn(() -> {
            Fiber.yield();
            assertTrue(Thread.currentThread().getName().startsWith("RxComputationThreadPool"));
            return n;
          }));
        }
        int sum = 0;
        for (Computation<Integer> c : children) {
          sum += c.await();
        }
        return sum;
      });
      assertEquals(499_500, total);
    }
  }

  @Test
  void fibersOnRxIoAwaitEachOther() {
    try (Scheduler s = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.io())) {
      String answer = s.run(() -> {
        Computation<String> child = Fiber.spawn(() -> {
          Fiber.yield();
          return Thread.currentThread().getName();
        });
        return child.await();
      });
      assertTrue(answer.startsWith("RxCachedThreadScheduler"), answer);
    }
  }

  @Test
  void cancelAfterUsesTheRxTimer() {
    try (Scheduler s = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.single())) {
      CancellationException timeout = new CancellationException("timed out");
      CancellationException thrown = assertThrows(CancellationException.class, () -> s.run(() -> {
        Fiber.current().computation().cancelAfter(Duration.ofMillis(10), timeout);
        return Computation.create().await();
      }));
      assertSame(timeout, thrown);
    }
  }

  @Test
  void closingThePicosSchedulerLeavesTheRxSchedulerRunning() {
    Scheduler s = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.single());
    Computation<Object> stuck = s.start(() -> Computation.create().await());
    s.close();
    assertInstanceOf(SchedulerClosedException.class, stuck.canceled());
    assertEquals("still running", Single.just("still running")
        .subscribeOn(io.reactivex.rxjava3.schedulers.Schedulers.single()).blockingGet());
  }

  @Test
  void anRxSchedulerThatShutsDownClosesThePicosScheduler() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    io.reactivex.rxjava3.core.Scheduler rx = io.reactivex.rxjava3.schedulers.Schedulers.from(executor);
    Scheduler s = PicosRx.newScheduler(rx);
    CountDownLatch suspended = new CountDownLatch(1);
    Computation<Object> waiting = s.start(() -> {
      suspended.countDown();
      return Computation.create().await();
    });
    Computation<Object> other = s.start(() -> Computation.create().await());
    assertTrue(suspended.await(20, TimeUnit.SECONDS));
    executor.shutdown();
    // The next slice the Rx scheduler refuses closes the Picos scheduler.
    assertThrows(SchedulerClosedException.class, () -> s.start(() -> 1).await());
    SchedulerClosedException cause = assertThrows(SchedulerClosedException.class, waiting::await);
    assertTrue(cause.getMessage().contains("refused the task"), cause.getMessage());
    assertThrows(SchedulerClosedException.class, other::await);
    assertTrue(s.isClosed());
  }

  @Test
  void trampolineIsRefusedWithAReason() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.trampoline()));
    assertTrue(e.getMessage().contains("cannot host fibers"), e.getMessage());
  }

  @Test
  void roundTripGivesBackThePicosScheduler() {
    try (Scheduler fifo = Schedulers.fifo()) {
      assertSame(fifo, PicosRx.newScheduler(PicosRx.asRxScheduler(fifo)));
    }
  }

  // ---------------------------------------------------------------------------------------
  // asRxScheduler(picos)

  @Test
  void observeOnRunsDownstreamInFibers() {
    try (Scheduler fifo = Schedulers.fifo()) {
      io.reactivex.rxjava3.core.Scheduler rx = PicosRx.asRxScheduler(fifo);
      List<Integer> got = Flowable.range(1, 1000)
          .observeOn(rx)
          .map(i -> {
            assertTrue(Fiber.inFiber());
            return i;
          })
          .toList()
          .blockingGet();
      assertEquals(1000, got.size());
      assertEquals(1000, got.get(999));
    }
  }

  @Test
  void subscribeOnTasksMayAwaitPicosWork() {
    try (Scheduler multi = Schedulers.multi(2)) {
      io.reactivex.rxjava3.core.Scheduler rx = PicosRx.asRxScheduler(multi);
      String value = Single.fromCallable(() -> {
        Computation<String> child = Fiber.spawn(() -> "from a child fiber");
        return child.await();
      }).subscribeOn(rx).blockingGet();
      assertEquals("from a child fiber", value);
    }
  }

  @Test
  void aWorkerRunsItsTasksOneAtATimeInOrder() throws Exception {
    try (Scheduler multi = Schedulers.multi(2)) {
      io.reactivex.rxjava3.core.Scheduler.Worker worker = PicosRx.asRxScheduler(multi).createWorker();
      List<Integer> order = new CopyOnWriteArrayList<>();
      AtomicInteger running = new AtomicInteger();
      AtomicInteger overlaps = new AtomicInteger();
      CountDownLatch done = new CountDownLatch(200);
      for (int i = 0; i < 200; i++) {
        int n = i;
        worker.schedule(() -> {
          if (running.incrementAndGet() != 1) {
            overlaps.incrementAndGet();
          }
          Fiber.yield(); // a suspension inside a task does not let the next one start
          order.add(n);
          running.decrementAndGet();
          done.countDown();
        });
      }
      assertTrue(done.await(20, TimeUnit.SECONDS));
      assertEquals(0, overlaps.get());
      for (int i = 0; i < 200; i++) {
        assertEquals(i, order.get(i));
      }
      worker.dispose();
      assertTrue(worker.isDisposed());
      assertTrue(worker.schedule(() -> fail("runs after dispose")).isDisposed());
    }
  }

  @Test
  void delayedTasksRunAfterTheirDelayAndDisposeDropsThem() throws Exception {
    try (Scheduler fifo = Schedulers.fifo()) {
      io.reactivex.rxjava3.core.Scheduler rx = PicosRx.asRxScheduler(fifo);
      List<String> ran = new CopyOnWriteArrayList<>();
      CountDownLatch second = new CountDownLatch(1);
      Disposable dropped = rx.scheduleDirect(() -> ran.add("dropped"), 60, TimeUnit.SECONDS);
      rx.scheduleDirect(() -> {
        ran.add("late");
        second.countDown();
      }, 10, TimeUnit.MILLISECONDS);
      // Disposing wakes the fiber waiting out the minute: it ends without running the task, so
      // closing the scheduler below does not wait for it.
      dropped.dispose();
      assertTrue(dropped.isDisposed());
      assertTrue(second.await(20, TimeUnit.SECONDS));
      assertEquals(List.of("late"), ran);
    }
  }

  @Test
  void disposingARunningTaskCancelsItsFiber() throws Exception {
    try (Scheduler multi = Schedulers.multi(2)) {
      io.reactivex.rxjava3.core.Scheduler rx = PicosRx.asRxScheduler(multi);
      CountDownLatch started = new CountDownLatch(1);
      CompletableFuture<Throwable> seen = new CompletableFuture<>();
      Disposable task = rx.scheduleDirect(() -> {
        started.countDown();
        try {
          Computation.create().await();
        } catch (CancellationException e) {
          seen.complete(e);
          throw e;
        }
      });
      assertTrue(started.await(20, TimeUnit.SECONDS));
      task.dispose();
      assertEquals("Rx task disposed", seen.get(20, TimeUnit.SECONDS).getMessage());
      assertTrue(rxErrors.isEmpty(), "the task's own cancellation is no error: " + rxErrors);
    }
  }

  @Test
  void periodicSchedulingAndIntervalWork() throws Exception {
    try (Scheduler fifo = Schedulers.fifo()) {
      io.reactivex.rxjava3.core.Scheduler rx = PicosRx.asRxScheduler(fifo);
      List<Long> ticks = Observable.interval(2, TimeUnit.MILLISECONDS, rx).take(5).toList().blockingGet();
      assertEquals(List.of(0L, 1L, 2L, 3L, 4L), ticks);
      CountDownLatch three = new CountDownLatch(3);
      Disposable periodic = rx.schedulePeriodicallyDirect(() -> {
        assertTrue(Fiber.inFiber());
        three.countDown();
      }, 0, 2, TimeUnit.MILLISECONDS);
      assertTrue(three.await(20, TimeUnit.SECONDS));
      periodic.dispose();
      assertTrue(periodic.isDisposed());
    }
  }

  @Test
  void aTaskFailureGoesToRxJavaPlugins() throws Exception {
    try (Scheduler fifo = Schedulers.fifo()) {
      RuntimeException boom = new RuntimeException("task failed");
      CountDownLatch reported = new CountDownLatch(1);
      RxJavaPlugins.setErrorHandler(e -> {
        rxErrors.add(e);
        reported.countDown();
      });
      PicosRx.asRxScheduler(fifo).scheduleDirect(() -> {
        throw boom;
      });
      assertTrue(reported.await(20, TimeUnit.SECONDS));
      assertSame(boom, rxErrors.get(0).getCause());
    }
  }

  @Test
  void aClosedPicosSchedulerRefusesTasksLikeAShutDownRxScheduler() {
    Scheduler fifo = Schedulers.fifo();
    io.reactivex.rxjava3.core.Scheduler rx = PicosRx.asRxScheduler(fifo);
    fifo.close();
    Disposable refused = rx.scheduleDirect(() -> fail("must not run"));
    assertTrue(refused.isDisposed());
    assertEquals(1, rxErrors.size(), rxErrors.toString());
    // RxJavaPlugins passes IllegalStateExceptions (a CancellationException is one) unwrapped.
    assertInstanceOf(SchedulerClosedException.class, rxErrors.get(0));
  }
}
