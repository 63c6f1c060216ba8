package org.picos.bridge.netty;

import static org.junit.jupiter.api.Assertions.*;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.BlockingOperationException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.sched.Schedulers;

/** Event loops as schedulers, Netty futures both ways, the blocking guard, and shutdown. */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PicosNettyTest {
  private EventLoopGroup group;

  @BeforeEach
  void startLoops() {
    group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  }

  @AfterEach
  void stopLoops() throws InterruptedException {
    assertTrue(group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
  }

  @Test
  void fiberOnLoopStaysOnItsThreadAcrossAwaits() {
    EventLoop loop = group.next();
    try (Scheduler s = PicosNetty.newScheduler(loop)) {
      List<Boolean> onLoop = s.run(() -> {
        List<Boolean> seen = new ArrayList<>();
        seen.add(loop.inEventLoop());
        Promise<String> fromElsewhere = loop.newPromise();
        Thread.ofPlatform().start(() -> fromElsewhere.setSuccess("x"));
        assertEquals("x", PicosNetty.await(fromElsewhere));
        seen.add(loop.inEventLoop());
        Computation<Integer> other = Computation.create();
        Thread.ofPlatform().start(() -> other.tryReturn(1));
        assertEquals(1, other.await());
        seen.add(loop.inEventLoop());
        Fiber.yield();
        seen.add(loop.inEventLoop());
        assertEquals(7, Fiber.spawn(() -> loop.inEventLoop() ? 7 : -1).await());
        seen.add(loop.inEventLoop());
        return seen;
      });
      assertEquals(List.of(true, true, true, true, true), onLoop);
    }
  }

  @Test
  void groupPlacesEachFiberOnOneLoopForLifeAndChildrenWithTheirParent() {
    placesEachFiberOnOneLoopForLife(PicosNetty.scheduler(group));
    try (Scheduler own = PicosNetty.newScheduler(group)) {
      placesEachFiberOnOneLoopForLife(own);
    }
  }

  private static void placesEachFiberOnOneLoopForLife(Scheduler s) {
    ConcurrentHashMap<Integer, Thread> firstThread = new ConcurrentHashMap<>();
    List<Computation<Boolean>> fibers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      int id = i;
      fibers.add(s.start(() -> {
        firstThread.put(id, Thread.currentThread());
        boolean stayed = true;
        for (int round = 0; round < 5; round++) {
          Promise<Void> p = GlobalEventExecutor.INSTANCE.newPromise();
          Thread.ofPlatform().start(() -> p.setSuccess(null));
          PicosNetty.await(p);
          stayed &= Thread.currentThread() == firstThread.get(id);
        }
        Thread parent = Thread.currentThread();
        stayed &= Fiber.spawn(() -> Thread.currentThread() == parent).await();
        stayed &= s.start(() -> Thread.currentThread() == parent).await();
        return stayed;
      }));
    }
    for (Computation<Boolean> f : fibers) {
      assertTrue(f.await(), "a fiber, its child and a fiber it started stay on one loop");
    }
    assertEquals(2, firstThread.values().stream().distinct().count(), "both loops were used");
  }

  @Test
  void cancelAfterFiresOnTheLoopTimer() throws InterruptedException {
    EventLoop loop = group.next();
    try (Scheduler s = PicosNetty.newScheduler(loop)) {
      CancellationException timeout = new CancellationException("too slow");
      CountDownLatch firedOnLoop = new CountDownLatch(1);
      Computation<Object> fiber = s.start(() -> {
        Fiber.current().computation().whenDone(() -> {
          if (loop.inEventLoop()) {
            firedOnLoop.countDown();
          }
        });
        Fiber.current().computation().cancelAfter(Duration.ofMillis(20), timeout);
        return Computation.create().await();
      });
      assertSame(timeout, assertThrows(CancellationException.class, fiber::await));
      assertTrue(firedOnLoop.await(10, TimeUnit.SECONDS), "the timeout was delivered by the loop's timer");
    }
  }

  @Test
  void futureRunsOnTheExecutorAndCarriesValueAndFailure() throws Exception {
    EventLoop loop = group.next();
    Future<Boolean> value = PicosNetty.future(PicosNetty.scheduler(loop), loop::inEventLoop);
    assertTrue(value.get(10, TimeUnit.SECONDS));

    IllegalArgumentException boom = new IllegalArgumentException("boom");
    Future<Object> failed = PicosNetty.future(PicosNetty.scheduler(loop), () -> {
      throw boom;
    });
    assertTrue(failed.await(10, TimeUnit.SECONDS));
    assertSame(boom, failed.cause());
  }

  @Test
  void cancellingTheNettyFutureCancelsTheFiber() throws Exception {
    EventLoop loop = group.next();
    CountDownLatch suspended = new CountDownLatch(1);
    Computation<Throwable> seen = Computation.create();
    Future<Object> f = PicosNetty.future(PicosNetty.scheduler(loop), () -> {
      suspended.countDown();
      try {
        return Computation.create().await();
      } catch (CancellationException e) {
        seen.tryReturn(e);
        throw e;
      }
    });
    assertTrue(suspended.await(10, TimeUnit.SECONDS));
    assertTrue(f.cancel(false));
    Throwable cause = seen.await();
    assertInstanceOf(CancellationException.class, cause);
    assertTrue(cause.getMessage().contains("PicosNetty.future was cancelled"), cause.getMessage());
  }

  @Test
  void futureListenersRunOnTheFibersLoopOrElseOnTheCompletingThread() throws Exception {
    EventLoop loop = group.next();
    Computation<String> gate = Computation.create();
    Future<String> onLoop = PicosNetty.future(PicosNetty.scheduler(loop), gate::await);
    CompletableFuture<Boolean> beforeDone = new CompletableFuture<>();
    onLoop.addListener(f -> beforeDone.complete(loop.inEventLoop()));
    gate.tryReturn("x");
    assertTrue(beforeDone.get(10, TimeUnit.SECONDS), "notified on the fiber's loop");
    CompletableFuture<Boolean> afterDone = new CompletableFuture<>();
    onLoop.addListener(f -> afterDone.complete(loop.inEventLoop()));
    assertTrue(afterDone.get(10, TimeUnit.SECONDS), "a listener added later is run by the loop too");

    try (Scheduler fifo = Schedulers.fifo()) {
      Computation<String> later = Computation.create();
      Future<String> elsewhere = PicosNetty.future(fifo, later::await);
      CompletableFuture<Thread> completing = new CompletableFuture<>();
      elsewhere.addListener(f -> completing.complete(Thread.currentThread()));
      later.tryReturn("y");
      assertTrue(completing.get(10, TimeUnit.SECONDS).getName().startsWith("fifo-"),
          "a fiber on no Netty thread notifies on its carrier as it ends");
      assertEquals("y", elsewhere.get(10, TimeUnit.SECONDS));
      Future<String> done = PicosNetty.future(fifo, () -> "z");
      assertTrue(done.await(10, TimeUnit.SECONDS));
      List<Thread> adding = new ArrayList<>();
      done.addListener(f -> adding.add(Thread.currentThread()));
      assertEquals(List.of(Thread.currentThread()), adding, "a completed future notifies the adder at once");
    }
  }

  @Test
  void futureOfACallableRunsOnTheCallingFibersSchedulerElseOnTheSharedOne() throws Exception {
    EventLoop loop = group.next();
    Future<Boolean> nested = PicosNetty.scheduler(loop).start(
        () -> PicosNetty.future(loop::inEventLoop)).await();
    assertTrue(nested.get(10, TimeUnit.SECONDS), "called in a fiber on the loop, it runs there");
    String thread = PicosNetty.future(() -> Thread.currentThread().getName()).get(10, TimeUnit.SECONDS);
    assertTrue(thread.startsWith("multi("), "outside a fiber it runs on Schedulers.shared(): " + thread);
  }

  @Test
  void blockingOnAFutureFromItsFibersOwnLoopIsRefused() throws Exception {
    EventLoop loop = group.next();
    Future<Object> never = PicosNetty.future(PicosNetty.scheduler(loop), () -> Computation.create().await());
    Future<Throwable> syncOnLoop = loop.submit(() -> {
      try {
        never.sync();
        return null;
      } catch (Throwable t) {
        return t;
      }
    });
    assertInstanceOf(BlockingOperationException.class, syncOnLoop.get(10, TimeUnit.SECONDS));
    assertFalse(never.await(10, TimeUnit.MILLISECONDS), "a plain thread may wait on it");
    assertTrue(never.cancel(false));
  }

  @Test
  void toFutureFollowsTheComputationAndCancelsIt() throws Exception {
    assertEquals("done", PicosNetty.toFuture(Computation.returned("done")).getNow());
    IllegalStateException boom = new IllegalStateException("boom");
    assertSame(boom, PicosNetty.toFuture(Computation.canceled(boom)).cause());

    Computation<String> running = Computation.create();
    Future<String> f = PicosNetty.toFuture(running);
    assertFalse(f.isDone());
    assertTrue(f.cancel(false));
    CancellationException cause = assertThrows(CancellationException.class, running::await);
    assertTrue(cause.getMessage().contains("PicosNetty.toFuture was cancelled"), cause.getMessage());

    EventLoop loop = group.next();
    Computation<String> fromElsewhere = Computation.create();
    CompletableFuture<Boolean> notifiedOnLoop = new CompletableFuture<>();
    loop.submit(() -> PicosNetty.toFuture(fromElsewhere)
        .addListener(done -> notifiedOnLoop.complete(loop.inEventLoop()))).sync();
    fromElsewhere.tryReturn("late");
    assertTrue(notifiedOnLoop.get(10, TimeUnit.SECONDS), "made on the loop, it notifies on the loop");
  }

  @Test
  void awaitReturnsDoneFuturesAtOnceAndRethrowsTheOriginalFailure() {
    EventLoop loop = group.next();
    try (Scheduler s = PicosNetty.newScheduler(loop)) {
      IllegalStateException unchecked = new IllegalStateException("unchecked");
      IOException checked = new IOException("checked");
      s.run(() -> {
        assertEquals("done", PicosNetty.await(loop.newSucceededFuture("done")));
        assertSame(unchecked, assertThrows(IllegalStateException.class,
            () -> PicosNetty.await(loop.newFailedFuture(unchecked))));
        Promise<Void> later = loop.newPromise();
        loop.execute(() -> later.setFailure(checked));
        CompletionException wrapped =
            assertThrows(CompletionException.class, () -> PicosNetty.await(later));
        assertSame(checked, wrapped.getCause());
        return null;
      });
    }
  }

  @Test
  void cancellingTheFiberCancelsTheAwaitedNettyFuture() throws InterruptedException {
    EventLoop loop = group.next();
    try (Scheduler s = PicosNetty.newScheduler(loop)) {
      Promise<String> never = loop.newPromise();
      CancellationException stop = new CancellationException("stop");
      Computation<String> fiber = s.start(() -> PicosNetty.await(never));
      fiber.cancelAfter(Duration.ofMillis(20), stop);
      assertSame(stop, assertThrows(CancellationException.class, fiber::await));
      assertTrue(never.await(10, TimeUnit.SECONDS), "the awaited Netty future was cancelled");
      assertTrue(never.isCancelled());
    }
  }

  @Test
  void blockingOnALoopThreadOutsideAFiberIsRefused() throws Exception {
    EventLoop loop = group.next();
    try (Scheduler s = PicosNetty.newScheduler(loop)) {
      Computation<Void> never = Computation.create();
      Future<Throwable> onLoop = loop.submit(() -> {
        try {
          never.await();
          return null;
        } catch (Throwable t) {
          return t;
        }
      });
      Throwable refused = onLoop.get(10, TimeUnit.SECONDS);
      assertInstanceOf(BlockingOperationException.class, refused);
      assertInstanceOf(IllegalStateException.class, refused);
      assertTrue(refused.getMessage().contains("would deadlock the loop"), refused.getMessage());
      assertTrue(refused.getMessage().contains("PicosNetty.scheduler(eventLoop)"), refused.getMessage());
      assertTrue(refused.getMessage().contains("PicosNetty.fiberPerChannel"), refused.getMessage());

      Future<Throwable> run = loop.submit(() -> {
        try {
          s.run(() -> 1);
          return null;
        } catch (Throwable t) {
          return t;
        }
      });
      assertInstanceOf(BlockingOperationException.class, run.get(10, TimeUnit.SECONDS));
      assertEquals(2, s.run(() -> 2), "a plain thread may still block");

      Computation<Object> suspended = s.start(() -> Computation.create().await());
      Future<Throwable> close = loop.submit(() -> {
        try {
          s.close();
          return null;
        } catch (Throwable t) {
          return t;
        }
      });
      assertInstanceOf(BlockingOperationException.class, close.get(10, TimeUnit.SECONDS));
      assertTrue(s.isClosed());
      assertThrows(SchedulerClosedException.class, suspended::await);
    }
  }

  @Test
  void shutdownGracefullyEndsSuspendedFibersWithACauseNamingIt() throws Exception {
    EventLoopGroup doomed = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    Scheduler onLoop = PicosNetty.scheduler(doomed.next());
    Scheduler onGroup = PicosNetty.scheduler(doomed);
    List<Computation<Object>> fibers = new ArrayList<>();
    CountDownLatch suspended = new CountDownLatch(6);
    for (int i = 0; i < 3; i++) {
      fibers.add(onLoop.start(() -> {
        suspended.countDown();
        return Computation.create().await();
      }));
      fibers.add(onGroup.start(() -> {
        suspended.countDown();
        return PicosNetty.await(doomed.next().newPromise());
      }));
    }
    Future<Object> viaFuture =
        PicosNetty.future(PicosNetty.scheduler(doomed.next()), () -> Computation.create().await());
    assertTrue(suspended.await(10, TimeUnit.SECONDS));

    doomed.shutdownGracefully(0, 1, TimeUnit.SECONDS);

    for (Computation<Object> f : fibers) {
      SchedulerClosedException cause = assertThrows(SchedulerClosedException.class, f::await);
      assertTrue(cause.getMessage().contains("shut down"), cause.getMessage());
    }
    assertTrue(viaFuture.await(10, TimeUnit.SECONDS));
    assertInstanceOf(SchedulerClosedException.class, viaFuture.cause());
    assertTrue(doomed.terminationFuture().await(10, TimeUnit.SECONDS), "the group terminated");
    assertTrue(onLoop.isClosed());
    assertTrue(onGroup.isClosed());
  }

  @Test
  void nullsAreRefusedByName() {
    assertEquals("loop", assertThrows(NullPointerException.class,
        () -> PicosNetty.scheduler((EventLoop) null)).getMessage());
    assertEquals("group", assertThrows(NullPointerException.class,
        () -> PicosNetty.scheduler((EventLoopGroup) null)).getMessage());
    assertEquals("loop", assertThrows(NullPointerException.class,
        () -> PicosNetty.newScheduler((EventLoop) null)).getMessage());
    assertEquals("group", assertThrows(NullPointerException.class,
        () -> PicosNetty.newScheduler((EventLoopGroup) null)).getMessage());
    assertEquals("body", assertThrows(NullPointerException.class,
        () -> PicosNetty.future(null)).getMessage());
    assertEquals("scheduler", assertThrows(NullPointerException.class,
        () -> PicosNetty.future(null, () -> 1)).getMessage());
    assertEquals("body", assertThrows(NullPointerException.class,
        () -> PicosNetty.future(PicosNetty.scheduler(group), null)).getMessage());
    assertEquals("computation", assertThrows(NullPointerException.class,
        () -> PicosNetty.toFuture(null)).getMessage());
    assertEquals("future", assertThrows(NullPointerException.class,
        () -> PicosNetty.await(null)).getMessage());
    assertEquals("handler", assertThrows(NullPointerException.class,
        () -> PicosNetty.fiberPerChannel(null)).getMessage());
  }
}
