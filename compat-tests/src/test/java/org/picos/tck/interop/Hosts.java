package org.picos.tck.interop;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.picos.FiberLocal;
import org.picos.Scheduler;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.junit.RandomExecutor;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;

/**
 * Every host this project has: the core schedulers, a seeded random one, and each bridge's. The
 * kits run on each ({@code KitsTest}); the interop matrix and the stress tests pair them up.
 * Bridges over a global foreign scheduler (Reactor's, RxJava's, the common pool) never stop it:
 * closing the Picos scheduler cancels its fibers and leaves the foreign one running.
 */
public final class Hosts {
  private Hosts() {}

  /** The hosts the interop matrix pairs up: one of each kind. */
  public static List<Host> all() {
    return List.of(fifo(), multi(), threadPerFiber(), fixedPool(), futuresCommonPool(),
        reactorParallel(), rxComputation(), vertxContext(), vertx(), nettyLoop(), nettyGroup());
  }

  public static Host fifo() {
    return host("fifo", Schedulers::fifo, t -> t.getName().startsWith("fifo-"));
  }

  public static Host multi() {
    return host("multi(2)", () -> Schedulers.multi(2), t -> t.getName().startsWith("multi(2)"));
  }

  public static Host threadPerFiber() {
    return host("threadPerFiber", Schedulers::threadPerFiber, Thread::isVirtual);
  }

  /** {@code Schedulers.onExecutor} on a fixed pool of threads named after the host. */
  public static Host fixedPool() {
    return onPool("executor(fixed pool)", 3, Schedulers::onExecutor);
  }

  /** {@code Schedulers.onExecutor} on a single thread: fibers never leave it. */
  public static Host singleThread() {
    return onPool("executor(single thread)", 1, Schedulers::onExecutor);
  }

  /** The test-only scheduler that runs ready fibers in an order drawn from {@code seed}. */
  public static Host random(long seed) {
    String name = "random(seed " + seed + ")";
    return new Host(name, () -> {
      System.out.println("random scheduler seed " + seed);
      RandomExecutor executor = new RandomExecutor(seed);
      Scheduler s = ExecutorScheduler.builder(executor).name(name).build();
      return running(name, s, t -> t.getName().startsWith("random-scheduler-seed-"), () -> {});
    });
  }

  public static Host futuresCommonPool() {
    return host("futures(commonPool)", () -> PicosFutures.newScheduler(ForkJoinPool.commonPool()),
        t -> t instanceof ForkJoinWorkerThread w && w.getPool() == ForkJoinPool.commonPool());
  }

  public static Host futuresFixedPool() {
    return onPool("futures(fixed pool)", 3, PicosFutures::newScheduler);
  }

  /** Reactor's global single(); its thread logs uncaught failures through a handler of its own. */
  public static Host reactorSingle() {
    return reactorHost("reactor single()", reactor.core.scheduler.Schedulers::single,
        t -> t.getName().startsWith("single-"));
  }

  /** Reactor's global parallel(); its threads log uncaught failures through a handler of their own. */
  public static Host reactorParallel() {
    return reactorHost("reactor parallel()", reactor.core.scheduler.Schedulers::parallel,
        t -> t.getName().startsWith("parallel-"));
  }

  private static Host reactorHost(String name, Supplier<reactor.core.scheduler.Scheduler> reactor,
      Predicate<Thread> onHost) {
    return new Host(name, () -> {
      Host.Running r = running(name, PicosReactor.newScheduler(reactor.get()), onHost, () -> {});
      return new Host.Running() {
        @Override
        public Scheduler scheduler() {
          return r.scheduler();
        }

        @Override
        public void checkHost() {
          r.checkHost();
        }

        @Override
        public boolean carrierReportsVisible() {
          return false;
        }

        @Override
        public void close() {
          r.close();
        }
      };
    });
  }

  public static Host rxSingle() {
    return host("rxjava single()", () -> PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.single()),
        t -> t.getName().startsWith("RxSingleScheduler-"));
  }

  public static Host rxComputation() {
    return host("rxjava computation()",
        () -> PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.computation()),
        t -> t.getName().startsWith("RxComputationThreadPool-"));
  }

  /** A Vert.x instance of its own; every fiber on one event-loop context, with it current. */
  public static Host vertxContext() {
    return vertxHost("vertx context", true);
  }

  /** A Vert.x instance of its own; each fiber on a fresh event-loop context for life. */
  public static Host vertx() {
    return vertxHost("vertx", false);
  }

  /** A NIO event-loop group of its own; every fiber on one of its loops. */
  public static Host nettyLoop() {
    return nettyHost("netty event loop", true);
  }

  /** A NIO event-loop group of its own; each fiber on the loop it was placed on, for life. */
  public static Host nettyGroup() {
    return nettyHost("netty group", false);
  }

  /** A host whose fibers' carrier threads are recognised by {@code onHost}. */
  static Host host(String name, Supplier<Scheduler> make, Predicate<Thread> onHost) {
    return new Host(name, () -> running(name, make.get(), onHost, () -> {}));
  }

  /** A scheduler made by {@code make} over a pool of {@code threads} threads named after the host. */
  private static Host onPool(String name, int threads,
      java.util.function.Function<ExecutorService, Scheduler> make) {
    return new Host(name, () -> {
      ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
      });
      return running(name, make.apply(pool), t -> t.getName().equals(name), pool::shutdownNow);
    });
  }

  private static Host.Running running(String name, Scheduler s, Predicate<Thread> onHost, Runnable stopHost) {
    return new Host.Running() {
      @Override
      public Scheduler scheduler() {
        return s;
      }

      @Override
      public void checkHost() {
        Thread t = Thread.currentThread();
        if (!onHost.test(t)) {
          throw new AssertionError("a fiber of " + name + " runs on " + t);
        }
      }

      @Override
      public void close() {
        try {
          s.close();
        } finally {
          stopHost.run();
        }
      }
    };
  }

  /** The thread a fiber first checked its host on: a Netty group's fiber must stay there. */
  private static final FiberLocal<Thread> NETTY_HOME = FiberLocal.withInitial(Thread::currentThread);

  private static Host nettyHost(String name, boolean oneLoop) {
    return new Host(name, () -> {
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(2,
          new DefaultThreadFactory("kit-netty"), NioIoHandler.newFactory());
      EventLoop loop = group.next();
      Scheduler s = oneLoop ? PicosNetty.newScheduler(loop) : PicosNetty.newScheduler(group);
      Predicate<Thread> onHost = oneLoop
          ? loop::inEventLoop
          : t -> NETTY_HOME.get() == t && onLoopOf(group, t);
      return running(name, s, onHost,
          () -> group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly());
    });
  }

  private static boolean onLoopOf(EventLoopGroup group, Thread t) {
    for (EventExecutor e : group) {
      if (e.inEventLoop(t)) {
        return true;
      }
    }
    return false;
  }

  private static Host vertxHost(String name, boolean oneContext) {
    return new Host(name, () -> {
      Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
      Context context = oneContext ? vertx.getOrCreateContext() : null;
      Scheduler s = oneContext ? PicosVertx.newScheduler(context) : PicosVertx.newScheduler(vertx);
      return new Host.Running() {
        @Override
        public Scheduler scheduler() {
          return s;
        }

        @Override
        public void checkHost() {
          Context current = Vertx.currentContext();
          boolean onHost = Context.isOnEventLoopThread() && current != null
              && (oneContext ? current == context : current.owner() == vertx);
          if (!onHost) {
            throw new AssertionError("a fiber of " + name + " runs on " + Thread.currentThread()
                + " with context " + current);
          }
        }

        @Override
        public void close() {
          s.close();
          try {
            vertx.close().await(30, TimeUnit.SECONDS);
          } catch (Exception e) {
            throw new AssertionError("Vert.x did not close", e);
          }
        }
      };
    });
  }
}
