package org.picos.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Supplier;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;

/**
 * Test classes the extension runs for {@link PicosExtensionTest} through the engine test kit;
 * surefire never runs them itself (nested classes).
 */
final class Fixtures {
  private Fixtures() {}

  /** Set by the fixtures, read by the test: what the bodies saw. */
  static volatile String carrier;
  static volatile Fiber leaked;

  @InFiber
  static class Passing {
    @Test
    void runsInAFiberOnFifo() {
      assertTrue(Fiber.inFiber());
      carrier = Thread.currentThread().getName();
      Computation<Integer> child = Fiber.spawn(() -> 21);
      assertEquals(42, 2 * child.await());
    }

    @RepeatedTest(3)
    void repeatedTestsToo() {
      assertTrue(Fiber.inFiber());
    }
  }

  @InFiber(scheduler = InFiber.Kind.MULTI)
  static class OnMulti {
    @Test
    void runsOnAMultiCarrier() {
      carrier = Thread.currentThread().getName();
    }
  }

  @InFiber
  static class MethodOverridesClass {
    @Test
    @InFiber(scheduler = InFiber.Kind.THREAD_PER_FIBER)
    void runsOnAVirtualThread() {
      carrier = Thread.currentThread().isVirtual() ? "virtual" : Thread.currentThread().getName();
    }
  }

  /** A provider: any scheduler, here a fifo one under a recognisable carrier name. */
  public static final class FifoProvider implements Supplier<Scheduler> {
    @Override
    public Scheduler get() {
      return Schedulers.fifo();
    }
  }

  @InFiber(provider = FifoProvider.class)
  static class FromAProvider {
    @Test
    void runsOnTheProvidedScheduler() {
      carrier = Thread.currentThread().getName();
    }
  }

  @InFiber
  static class Failing {
    @Test
    void failsWithItsOwnError() {
      throw new IllegalStateException("the body's own failure");
    }
  }

  @InFiber(timeoutMillis = 300)
  static class Stuck {
    /** The frame the timeout's dump must show. */
    private static void waitForever() {
      Computation.<Void>create().await();
    }

    @Test
    void neverEnds() {
      Fiber.current().setName("stuck-fiber");
      waitForever();
    }
  }

  @InFiber
  static class Leaking {
    @Test
    void startsAFiberAndForgetsIt() {
      Fiber.spawn(() -> {
        leaked = Fiber.current();
        Fiber.current().setName("forgotten");
        return Computation.<Void>create().await();
      });
      Fiber.yield(); // let it start
    }
  }

  @InFiber(leakCheck = false)
  static class LeakingUnchecked {
    @Test
    void startsAFiberAndForgetsIt() {
      Fiber.spawn(() -> Computation.<Void>create().await());
    }
  }

  @InFiber(scheduler = InFiber.Kind.RANDOM, seed = 7)
  static class FailingOnRandom {
    @Test
    void fails() {
      carrier = Thread.currentThread().getName();
      throw new AssertionError("failed on the random scheduler");
    }
  }
}
