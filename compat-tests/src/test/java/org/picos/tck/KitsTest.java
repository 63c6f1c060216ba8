package org.picos.tck;

import org.junit.jupiter.api.Nested;
import org.picos.tck.interop.Host;
import org.picos.tck.interop.Hosts;

/**
 * Runs both kits, {@link SchedulerTck} and {@link StdTck}, on every host of this project: the core
 * schedulers, the seeded random one (two fixed seeds and a fresh one per run, printed; set
 * {@code -Dpicos.seed=N} to replay it) and every bridge's schedulers.
 */
class KitsTest {
  private static final long SEED = Long.getLong("picos.seed", System.nanoTime());

  @Nested
  class Fifo extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.fifo();
    }
  }

  @Nested
  class FifoStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.fifo();
    }
  }

  @Nested
  class Multi extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.multi();
    }
  }

  @Nested
  class MultiStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.multi();
    }
  }

  @Nested
  class ThreadPerFiber extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.threadPerFiber();
    }
  }

  @Nested
  class ThreadPerFiberStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.threadPerFiber();
    }
  }

  @Nested
  class FixedPool extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.fixedPool();
    }
  }

  @Nested
  class FixedPoolStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.fixedPool();
    }
  }

  @Nested
  class SingleThread extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.singleThread();
    }
  }

  @Nested
  class SingleThreadStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.singleThread();
    }
  }

  @Nested
  class RandomSeed1 extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.random(1);
    }
  }

  @Nested
  class RandomSeed1Std extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.random(1);
    }
  }

  @Nested
  class RandomSeed42 extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.random(42);
    }
  }

  @Nested
  class RandomSeed42Std extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.random(42);
    }
  }

  @Nested
  class RandomSeedOfThisRun extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.random(SEED);
    }
  }

  @Nested
  class RandomSeedOfThisRunStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.random(SEED);
    }
  }

  @Nested
  class FuturesCommonPool extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.futuresCommonPool();
    }
  }

  @Nested
  class FuturesCommonPoolStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.futuresCommonPool();
    }
  }

  @Nested
  class FuturesFixedPool extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.futuresFixedPool();
    }
  }

  @Nested
  class FuturesFixedPoolStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.futuresFixedPool();
    }
  }

  @Nested
  class ReactorSingle extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.reactorSingle();
    }
  }

  @Nested
  class ReactorSingleStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.reactorSingle();
    }
  }

  @Nested
  class ReactorParallel extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.reactorParallel();
    }
  }

  @Nested
  class ReactorParallelStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.reactorParallel();
    }
  }

  @Nested
  class RxSingle extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.rxSingle();
    }
  }

  @Nested
  class RxSingleStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.rxSingle();
    }
  }

  @Nested
  class RxComputation extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.rxComputation();
    }
  }

  @Nested
  class RxComputationStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.rxComputation();
    }
  }

  @Nested
  class VertxContext extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.vertxContext();
    }
  }

  @Nested
  class VertxContextStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.vertxContext();
    }
  }

  @Nested
  class Vertx extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.vertx();
    }
  }

  @Nested
  class VertxStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.vertx();
    }
  }

  @Nested
  class NettyEventLoop extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.nettyLoop();
    }
  }

  @Nested
  class NettyEventLoopStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.nettyLoop();
    }
  }

  @Nested
  class NettyGroup extends KitOn.Core {
    @Override
    Host host() {
      return Hosts.nettyGroup();
    }
  }

  @Nested
  class NettyGroupStd extends KitOn.Std {
    @Override
    Host host() {
      return Hosts.nettyGroup();
    }
  }
}
