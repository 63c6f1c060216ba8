package org.picos.bridge.netty;

import static org.junit.jupiter.api.Assertions.*;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ManualIoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.picos.Computation;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;

/** The shared per-loop schedulers, schedulers of one's own, and how both see a loop's shutdown. */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class LoopSchedulersTest {
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
  void theSameLoopOrGroupAnswersTheSameSharedScheduler() {
    EventLoop a = group.next();
    EventLoop b = group.next();
    assertNotSame(a, b);
    assertSame(PicosNetty.scheduler(a), PicosNetty.scheduler(a));
    assertNotSame(PicosNetty.scheduler(a), PicosNetty.scheduler(b));
    assertSame(PicosNetty.scheduler(group), PicosNetty.scheduler(group));
    try (Scheduler own = PicosNetty.newScheduler(a); Scheduler other = PicosNetty.newScheduler(a)) {
      assertNotSame(own, other);
      assertNotSame(own, PicosNetty.scheduler(a));
    }
  }

  @Test
  void aSharedSchedulerCannotBeClosedAndSaysWhatToUseInstead() {
    EventLoop loop = group.next();
    Scheduler shared = PicosNetty.scheduler(loop);
    Computation<Object> suspended = shared.start(() -> Computation.create().await());
    UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, shared::close);
    assertTrue(e.getMessage().contains("PicosNetty.newScheduler(loop)"), e.getMessage());
    UnsupportedOperationException g =
        assertThrows(UnsupportedOperationException.class, PicosNetty.scheduler(group)::close);
    assertTrue(g.getMessage().contains("PicosNetty.newScheduler(group)"), g.getMessage());
    assertFalse(shared.isClosed());
    assertTrue(suspended.isRunning(), "a refused close cancels nothing");
    suspended.tryCancel(new CancellationException("done"));
  }

  @Test
  void theLoopKeepsItsSharedSchedulerAliveWhileItRuns() {
    EventLoop loop = group.next();
    WeakReference<Scheduler> first = new WeakReference<>(PicosNetty.scheduler(loop));
    for (int i = 0; i < 5; i++) {
      System.gc();
    }
    assertNotNull(first.get(), "held by the loop, not only by its callers");
    assertSame(first.get(), PicosNetty.scheduler(loop));
  }

  @Test
  void aTerminatedLoopFreesItsSharedScheduler() throws InterruptedException {
    EventLoopGroup doomed = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    WeakReference<EventLoop> loop = new WeakReference<>(doomed.next());
    WeakReference<Scheduler> shared = new WeakReference<>(PicosNetty.scheduler(loop.get()));
    assertEquals(1, shared.get().start(() -> 1).await());
    assertTrue(doomed.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
    doomed = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (shared.get() != null || loop.get() != null) {
      assertTrue(System.nanoTime() < deadline, "the loop or its scheduler is still reachable");
      System.gc();
      Thread.sleep(10);
    }
  }

  /**
   * The four ways to get a scheduler on a loop of a {@code MultiThreadIoEventLoopGroup}: a
   * graceful shutdown with no quiet period cancels the fibers from the loop's shutdown hook, so
   * their unwinding still runs on the loop. (A probe polled every 50 ms sees the shutdown only
   * once the loop has terminated, and the unwinding runs on the fallback thread.)
   */
  @ParameterizedTest
  @ValueSource(strings = {"scheduler(loop)", "scheduler(group)", "newScheduler(loop)", "newScheduler(group)"})
  void aGracefulShutdownCancelsTheFibersWhileTheLoopStillRunsTheirUnwinding(String kind) throws Exception {
    EventLoopGroup doomed = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    EventLoop loop = doomed.next();
    Scheduler s = switch (kind) {
      case "scheduler(loop)" -> PicosNetty.scheduler(loop);
      case "scheduler(group)" -> PicosNetty.scheduler(doomed);
      case "newScheduler(loop)" -> PicosNetty.newScheduler(loop);
      default -> PicosNetty.newScheduler(doomed);
    };
    List<Trigger> waits = new ArrayList<>();
    List<CompletableFuture<Boolean>> unwoundOnLoop = new ArrayList<>();
    List<Computation<Object>> fibers = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Trigger wait = Trigger.create();
      CompletableFuture<Boolean> unwound = new CompletableFuture<>();
      waits.add(wait);
      unwoundOnLoop.add(unwound);
      fibers.add(s.start(() -> {
        try {
          Throwable cause = wait.await();
          throw Computation.unchecked(cause);
        } finally {
          unwound.complete(loop.inEventLoop());
        }
      }));
    }
    for (Trigger wait : waits) {
      awaitSuspended(wait);
    }
    doomed.shutdownGracefully(0, 5, TimeUnit.SECONDS);
    for (int i = 0; i < fibers.size(); i++) {
      SchedulerClosedException e = assertThrows(SchedulerClosedException.class, fibers.get(i)::await);
      assertTrue(e.getMessage().contains("was shut down"), e.getMessage());
      assertTrue(unwoundOnLoop.get(i).get(10, TimeUnit.SECONDS), "the fiber unwound on its loop");
    }
    assertTrue(doomed.terminationFuture().await(10, TimeUnit.SECONDS));
    assertTrue(s.isClosed());
    assertThrows(SchedulerClosedException.class, () -> s.start(() -> 1));
  }

  @Test
  void aSchedulerOnALoopAlreadyShuttingDownIsClosedFromTheStart() throws InterruptedException {
    EventLoopGroup doomed = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    EventLoop loop = doomed.next();
    assertTrue(doomed.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
    assertTrue(PicosNetty.scheduler(loop).isClosed());
    assertTrue(PicosNetty.newScheduler(loop).isClosed());
    assertTrue(PicosNetty.newScheduler(doomed).isClosed());
    assertTrue(PicosNetty.scheduler(doomed).isClosed());
    SchedulerClosedException e =
        assertThrows(SchedulerClosedException.class, () -> PicosNetty.scheduler(loop).start(() -> 1));
    assertTrue(e.getMessage().contains("is closed"), e.getMessage());
  }

  /**
   * A loop that is not a SingleThreadEventExecutor has no shutdown hooks: its termination future
   * closes the schedulers, and the fibers unwind on the fallback thread.
   */
  @Test
  void aLoopWithoutShutdownHooksClosesItsSchedulersWhenItTerminates() throws Exception {
    CompletableFuture<ManualIoEventLoop> made = new CompletableFuture<>();
    Thread driver = Thread.ofPlatform().name("manual-loop").start(() -> {
      ManualIoEventLoop loop = new ManualIoEventLoop(Thread.currentThread(), NioIoHandler.newFactory());
      made.complete(loop);
      while (!loop.isTerminated()) {
        loop.run(TimeUnit.MILLISECONDS.toNanos(10));
      }
    });
    ManualIoEventLoop loop = made.get(10, TimeUnit.SECONDS);
    Scheduler shared = PicosNetty.scheduler(loop);
    Scheduler own = PicosNetty.newScheduler(loop);
    List<Computation<Object>> fibers = new ArrayList<>();
    List<Trigger> waits = new ArrayList<>();
    for (Scheduler s : List.of(shared, own)) {
      Trigger wait = Trigger.create();
      waits.add(wait);
      fibers.add(s.start(() -> {
        Throwable cause = wait.await();
        throw Computation.unchecked(cause);
      }));
    }
    for (Trigger wait : waits) {
      awaitSuspended(wait);
    }
    loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    for (Computation<Object> f : fibers) {
      SchedulerClosedException e = assertThrows(SchedulerClosedException.class, f::await);
      assertTrue(e.getMessage().contains("was shut down"), e.getMessage());
    }
    assertTrue(shared.isClosed());
    assertTrue(own.isClosed());
    driver.join(TimeUnit.SECONDS.toMillis(10));
    assertFalse(driver.isAlive());
  }

  /**
   * Fibers resumed from other threads as fast as they go while their group shuts down: every
   * slice the loop takes while it stops taking tasks is run once, on the loop or on the fallback
   * thread, so every fiber ends.
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4})
  void fibersResumedFromOutsideDuringShutdownAllEnd(int round) throws Exception {
    EventLoopGroup doomed = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    Scheduler shared = PicosNetty.scheduler(doomed);
    Scheduler own = PicosNetty.newScheduler(doomed);
    List<Computation<Object>> fibers = new ArrayList<>();
    List<Thread> pingers = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      Scheduler s = i % 2 == 0 ? shared : own;
      LinkedBlockingQueue<Trigger> handOff = new LinkedBlockingQueue<>();
      fibers.add(s.start(() -> {
        for (;;) {
          Trigger t = Trigger.create();
          handOff.add(t);
          Throwable cause = t.await();
          if (cause != null) {
            throw Computation.unchecked(cause);
          }
        }
      }));
      pingers.add(Thread.ofPlatform().daemon().start(() -> {
        try {
          for (;;) {
            handOff.take().signal();
          }
        } catch (InterruptedException stop) {
          // done
        }
      }));
    }
    Thread.sleep(20 + round * 7);
    doomed.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
      for (Computation<Object> f : fibers) {
        assertThrows(SchedulerClosedException.class, f::await);
      }
    });
    pingers.forEach(Thread::interrupt);
    assertTrue(doomed.terminationFuture().await(10, TimeUnit.SECONDS));
  }

  private static void awaitSuspended(Trigger t) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    for (;;) {
      try {
        t.isInitial();
      } catch (IllegalStateException awaited) {
        return;
      }
      if (System.nanoTime() > deadline) {
        fail("a fiber never reached its await");
      }
      Thread.onSpinWait();
    }
  }
}
