package org.picos.tck.context;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Named;
import org.picos.Scheduler;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.sched.Schedulers;
import reactor.core.publisher.Mono;

/** The hosts the MDC tests run fibers on, each on a fresh host of its own. */
final class Places {
  private Places() {}

  /**
   * A live scheduler and what the tests need of its host.
   *
   * @param carrier runs a plain task (no fiber) on the one thread every fiber of the scheduler
   *     runs on; null when fibers have no single carrier
   * @param onHost whether the calling fiber runs where the host promises (its loop, context)
   * @param hostAwait awaits, in a fiber, an asynchronous operation of the host itself (a Netty
   *     timer, a Vert.x blocking task, a Reactor delay); null for the core schedulers
   */
  record Place(String name, Scheduler scheduler, Executor carrier, BooleanSupplier onHost,
      Runnable hostAwait, Runnable stop) implements AutoCloseable {
    @Override
    public void close() {
      try {
        scheduler.close();
      } finally {
        stop.run();
      }
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /** Every host, for parameterized tests. */
  static List<Named<Supplier<Place>>> all() {
    return List.of(
        Named.of("netty event loop", Places::nettyLoop),
        Named.of("vertx context", Places::vertxContext),
        Named.of("reactor parallel(1)", () -> reactorParallel(1)),
        Named.of("reactor parallel(2)", () -> reactorParallel(2)),
        Named.of("fifo", () -> core("fifo", Schedulers.fifo(), "fifo-")),
        Named.of("multi(2)", () -> core("multi(2)", Schedulers.multi(2), "multi(2)")),
        Named.of("threadPerFiber", Places::threadPerFiber));
  }

  /** The hosts whose fibers share one carrier thread that plain tasks can reach. */
  static List<Named<Supplier<Place>>> withCarrier() {
    return List.of(
        Named.of("netty event loop", Places::nettyLoop),
        Named.of("vertx context", Places::vertxContext),
        Named.of("reactor parallel(1)", () -> reactorParallel(1)));
  }

  static Place nettyLoop() {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("mdc-netty"),
        NioIoHandler.newFactory());
    EventLoop loop = group.next();
    return new Place("netty event loop", PicosNetty.newScheduler(loop), loop, loop::inEventLoop,
        () -> PicosNetty.await(loop.schedule(() -> "timer", 1, TimeUnit.MILLISECONDS)),
        () -> group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly());
  }

  static Place vertxContext() {
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    Context context = vertx.getOrCreateContext();
    return new Place("vertx context", PicosVertx.newScheduler(context),
        task -> context.runOnContext(ignored -> task.run()),
        () -> Context.isOnEventLoopThread() && Vertx.currentContext() == context,
        () -> PicosVertx.await(vertx.executeBlocking(() -> "blocking")),
        () -> {
          try {
            vertx.close().await(30, TimeUnit.SECONDS);
          } catch (Exception e) {
            throw new AssertionError("Vert.x did not close", e);
          }
        });
  }

  static Place reactorParallel(int threads) {
    String prefix = "mdc-reactor" + threads;
    reactor.core.scheduler.Scheduler parallel =
        reactor.core.scheduler.Schedulers.newParallel(prefix, threads);
    return new Place("reactor parallel(" + threads + ")", PicosReactor.newScheduler(parallel),
        threads == 1 ? parallel::schedule : null,
        () -> Thread.currentThread().getName().startsWith(prefix + "-"),
        () -> PicosReactor.await(Mono.delay(Duration.ofMillis(1)).thenReturn("delay")),
        parallel::dispose);
  }

  static Place core(String name, Scheduler scheduler, String threadPrefix) {
    return new Place(name, scheduler, null,
        () -> Thread.currentThread().getName().startsWith(threadPrefix), null, () -> {});
  }

  static Place threadPerFiber() {
    return new Place("threadPerFiber", Schedulers.threadPerFiber(), null,
        () -> Thread.currentThread().isVirtual(), null, () -> {});
  }
}
