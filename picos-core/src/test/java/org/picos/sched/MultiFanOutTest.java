package org.picos.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fibers;
import org.picos.Scheduler;

/**
 * A recursive fan-out on {@code multi(2)}: tens of thousands of fibers spawning and awaiting
 * each other across carriers, for long enough that the JIT compiles the fiber code. Fibers that
 * read a stale {@code Thread.currentThread()} after moving to another carrier lost track of
 * themselves here and the run hung within the first rounds.
 */
class MultiFanOutTest {
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void recursiveFanOutCompletesEveryRound() throws InterruptedException {
    try (Scheduler s = Schedulers.multi(2)) {
      for (int round = 0; round < 30; round++) {
        int r = round;
        Computation<Integer> fib = s.start(() -> InlineJoinTest.fib(20));
        CountDownLatch done = new CountDownLatch(1);
        fib.whenDone(done::countDown);
        assertTrue(done.await(20, TimeUnit.SECONDS),
            () -> "round " + r + " hung; live fibers:\n" + Fibers.toText());
        assertEquals(6765, fib.await());
      }
    }
  }
}
