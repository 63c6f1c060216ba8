package org.picos.tck.interop;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;
import org.picos.Scheduler;
import org.picos.bridge.rxjava.PicosRx;
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
        host("rxjava", () -> PicosRx.scheduler(io.reactivex.rxjava3.schedulers.Schedulers.computation()),
            t -> t.getName().startsWith("RxComputationThreadPool-")));
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
