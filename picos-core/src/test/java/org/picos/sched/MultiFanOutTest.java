package org.picos.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;

/**
 * A recursive fan-out on {@code multi(2)}: tens of thousands of fibers spawning and awaiting
 * each other across carriers, for long enough that the JIT compiles the fiber code. Fibers that
 * read a stale {@code Thread.currentThread()} after moving to another carrier lost track of
 * themselves here and the run hung within the first rounds.
 */
class MultiFanOutTest {
  private static int fib(int n) {
    if (n < 2) {
      return n;
    }
    Computation<Integer> first = Fiber.spawn(() -> fib(n - 1));
    int second = fib(n - 2);
    return first.await() + second;
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void recursiveFanOutCompletesEveryRound() {
    try (Scheduler s = Schedulers.multi(2)) {
      for (int round = 0; round < 30; round++) {
        assertEquals(6765, s.run(() -> fib(20)));
      }
    }
  }
}
