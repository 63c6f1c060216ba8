package org.picos.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.sched.Schedulers;

/**
 * Shutting a host down (a core scheduler, an executor, a Reactor or RxJava scheduler, a Netty
 * event-loop group, a Vert.x instance) while fibers are suspended on it ends every fiber with a cancellation naming the
 * shutdown, within a bound, and leaves none of the host's threads running.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class HostShutdownTest {
  private static final int FIBERS = 200;
  private static final AtomicInteger IDS = new AtomicInteger();

  @Test
  void fifo() {
    Scheduler s = Schedulers.fifo();
    shutDownWithSuspendedFibers(s, s::close, "closed", s.toString());
  }

  @Test
  void multi() {
    Scheduler s = Schedulers.multi(2);
    shutDownWithSuspendedFibers(s, s::close, "closed", s.toString());
  }

  @Test
  void threadPerFiber() {
    Scheduler s = Schedulers.threadPerFiber();
    shutDownWithSuspendedFibers(s, s::close, "closed", null);
  }

  @Test
  void executorShutDownUnderItsScheduler() {
    String name = "shutdown-pool-" + IDS.incrementAndGet();
    ExecutorService pool = Executors.newFixedThreadPool(2, r -> new Thread(r, name));
    Scheduler s = Schedulers.onExecutor(pool);
    shutDownWithSuspendedFibers(s, pool::shutdown, "shut down", name);
  }

  @Test
  void futuresExecutorShutDownNow() {
    String name = "shutdown-futures-" + IDS.incrementAndGet();
    ExecutorService pool = Executors.newFixedThreadPool(2, r -> new Thread(r, name));
    Scheduler s = PicosFutures.scheduler(pool);
    shutDownWithSuspendedFibers(s, pool::shutdownNow, "shut down", name);
  }

  @Test
  void reactorSchedulerDisposed() {
    String name = "shutdown-reactor-" + IDS.incrementAndGet();
    reactor.core.scheduler.Scheduler parallel = reactor.core.scheduler.Schedulers.newParallel(name, 2);
    Scheduler s = PicosReactor.newScheduler(parallel);
    shutDownWithSuspendedFibers(s, parallel::dispose, "", name);
  }

  @Test
  void rxSchedulerShutDown() {
    String name = "shutdown-rx-" + IDS.incrementAndGet();
    io.reactivex.rxjava3.core.Scheduler single =
        RxJavaPlugins.createSingleScheduler(r -> new Thread(r, name));
    Scheduler s = PicosRx.newScheduler(single);
    // Rx reports every task it refuses to RxJavaPlugins.onError; keep those out of the output.
    RxJavaPlugins.setErrorHandler(e -> {});
    try {
      shutDownWithSuspendedFibers(s, single::shutdown, "", name);
    } finally {
      RxJavaPlugins.setErrorHandler(null);
    }
  }

  /** RxJava's {@code Schedulers.from(pool)}: the pool shut down while every fiber is suspended. */
  @Test
  void rxSchedulerFromAPoolShutDown() {
    String name = "shutdown-rx-pool-" + IDS.incrementAndGet();
    ExecutorService pool = Executors.newFixedThreadPool(2, r -> new Thread(r, name));
    Scheduler s = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.from(pool));
    RxJavaPlugins.setErrorHandler(e -> {});
    try {
      shutDownWithSuspendedFibers(s, pool::shutdown, "shut down", name);
    } finally {
      RxJavaPlugins.setErrorHandler(null);
      pool.shutdownNow();
    }
  }

  @Test
  void nettyGroupShutDownGracefully() {
    String name = "shutdown-netty-" + IDS.incrementAndGet();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory(name),
        NioIoHandler.newFactory());
    Scheduler s = PicosNetty.scheduler(group);
    shutDownWithSuspendedFibers(s, () -> group.shutdownGracefully(0, 1, TimeUnit.SECONDS),
        "shut down", name);
  }

  @Test
  void nettyLoopOfAGroupShutDownGracefully() {
    String name = "shutdown-netty-" + IDS.incrementAndGet();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory(name),
        NioIoHandler.newFactory());
    Scheduler s = PicosNetty.scheduler(group.next());
    shutDownWithSuspendedFibers(s, () -> group.shutdownGracefully(0, 1, TimeUnit.SECONDS),
        "shut down", name);
  }

  @Test
  void vertxClosed() {
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
    Scheduler s = PicosVertx.scheduler(vertx);
    shutDownWithSuspendedFibers(s, () -> vertx.close(), "closed", null);
  }

  /**
   * Suspends {@value #FIBERS} fibers of {@code s} on triggers nobody signals, shuts the host down
   * with {@code shutdown}, and checks that each fiber ends with a {@link SchedulerClosedException}
   * (whose message contains {@code why}) and that no thread named {@code threadPrefix} is left.
   */
  static void shutDownWithSuspendedFibers(Scheduler s, Runnable shutdown, String why, String threadPrefix) {
    List<Trigger> triggers = new ArrayList<>();
    List<Computation<Object>> fibers = new ArrayList<>();
    for (int i = 0; i < FIBERS; i++) {
      Trigger t = Trigger.create();
      triggers.add(t);
      fibers.add(s.start(() -> {
        Throwable cause = t.await();
        if (cause == null) {
          throw new AssertionError("signalled, never expected");
        }
        throw Computation.unchecked(cause);
      }));
    }
    for (Trigger t : triggers) {
      awaitSuspended(t);
    }
    shutdown.run();
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
      for (Computation<Object> f : fibers) {
        try {
          f.await();
          fail("a fiber survived the shutdown of its host");
        } catch (CancellationException e) {
          assertInstanceOf(SchedulerClosedException.class, e, "cause: " + e);
          assertTrue(e.getMessage().contains(why), e.getMessage());
        }
      }
    }, "fibers did not end after their host shut down");
    assertTrue(s.isClosed(), "the scheduler closes itself when its host goes away");
    if (threadPrefix != null) {
      assertNoThreadLeft(threadPrefix);
    }
  }

  private static void awaitSuspended(Trigger t) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
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

  private static void assertNoThreadLeft(String prefix) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    List<String> alive;
    do {
      alive = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().startsWith(prefix) && t.isAlive())
          .map(Thread::getName)
          .toList();
      if (alive.isEmpty()) {
        return;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    } while (System.nanoTime() < deadline);
    fail("threads of the host are still running after its shutdown: " + alive);
  }
}
