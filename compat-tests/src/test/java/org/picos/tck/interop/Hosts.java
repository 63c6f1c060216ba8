package org.picos.tck.interop;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
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
import org.picos.Scheduler;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.sched.Schedulers;

/** Every host of the interop matrix and the stress tests: the core schedulers and each bridge's. */
final class Hosts {
  private Hosts() {}

  static List<Host> all() {
    return List.of(
        host("fifo", Schedulers::fifo, t -> t.getName().startsWith("fifo-")),
        host("multi(2)", () -> Schedulers.multi(2), t -> t.getName().startsWith("multi(2)")),
        host("threadPerFiber", Schedulers::threadPerFiber, Thread::isVirtual),
        executorHost(),
        host("futures(commonPool)", () -> PicosFutures.scheduler(ForkJoinPool.commonPool()),
            t -> t instanceof ForkJoinWorkerThread w && w.getPool() == ForkJoinPool.commonPool()),
        host("reactor parallel", () -> PicosReactor.scheduler(reactor.core.scheduler.Schedulers.parallel()),
            t -> t.getName().startsWith("parallel-")),
        host("rxjava", () -> PicosRx.scheduler(io.reactivex.rxjava3.schedulers.Schedulers.computation()),
            t -> t.getName().startsWith("RxComputationThreadPool-")),
        vertxHost("vertx-context", true),
        vertxHost("vertx", false),
        nettyHost(),
        nettyLoopHost());
  }

  /** {@code PicosNetty.scheduler(loop)} on one loop of a group of its own; fibers stay on it. */
  private static Host nettyLoopHost() {
    return new Host("netty-loop", () -> {
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(2,
          new DefaultThreadFactory("interop-loop"), NioIoHandler.newFactory());
      EventLoop loop = group.next();
      Scheduler s = PicosNetty.scheduler(loop);
      return new Host.Running() {
        @Override
        public Scheduler scheduler() {
          return s;
        }

        @Override
        public void checkHost() {
          if (!loop.inEventLoop()) {
            throw new AssertionError(
                "a fiber of the netty-loop host runs on " + Thread.currentThread());
          }
        }

        @Override
        public void close() {
          s.close();
          group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
      };
    });
  }

  /** {@code PicosNetty.scheduler(group)} on a NIO event-loop group of its own, stopped on close. */
  private static Host nettyHost() {
    return new Host("netty", () -> {
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(2,
          new DefaultThreadFactory("interop-netty"), NioIoHandler.newFactory());
      Scheduler s = PicosNetty.scheduler(group);
      return new Host.Running() {
        @Override
        public Scheduler scheduler() {
          return s;
        }

        @Override
        public void checkHost() {
          if (!Thread.currentThread().getName().startsWith("interop-netty-")) {
            throw new AssertionError("a fiber of the netty host runs on " + Thread.currentThread());
          }
        }

        @Override
        public void close() {
          s.close();
          group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
      };
    });
  }

  /** A host whose fibers' carrier threads are recognised by {@code onHost}. */
  static Host host(String name, java.util.function.Supplier<Scheduler> make, Predicate<Thread> onHost) {
    return new Host(name, () -> {
      Scheduler s = make.get();
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
          s.close();
        }
      };
    });
  }

  /**
   * A Vert.x instance of its own: fibers on one event-loop context ({@code oneContext}) or each on
   * a fresh one; every fiber must run on an event loop of that instance with its context current.
   */
  private static Host vertxHost(String name, boolean oneContext) {
    return new Host(name, () -> {
      Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
      Context context = oneContext ? vertx.getOrCreateContext() : null;
      Scheduler s = oneContext ? PicosVertx.scheduler(context) : PicosVertx.scheduler(vertx);
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

  private static Host executorHost() {
    return new Host("executor", () -> {
      ExecutorService pool = Executors.newFixedThreadPool(2, r -> new Thread(r, "interop-pool"));
      Scheduler s = Schedulers.onExecutor(pool);
      return new Host.Running() {
        @Override
        public Scheduler scheduler() {
          return s;
        }

        @Override
        public void checkHost() {
          if (!Thread.currentThread().getName().equals("interop-pool")) {
            throw new AssertionError("a fiber of the executor host runs on " + Thread.currentThread());
          }
        }

        @Override
        public void close() {
          s.close();
          pool.shutdownNow();
        }
      };
    });
  }
}
