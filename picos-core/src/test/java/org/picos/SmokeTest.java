package org.picos;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;
import org.picos.sched.Schedulers;

class SmokeTest {
  @Test
  void fifoRunsAndAwaits() {
    try (Scheduler s = Schedulers.fifo()) {
      int v = s.run(() -> {
        Computation<Integer> c = Fiber.spawn(() -> { Fiber.yield(); return 41; });
        return c.await() + 1;
      });
      assertEquals(42, v);
    }
  }

  @Test
  void cancelAfterWakesAwaitingFiber() {
    try (Scheduler s = Schedulers.multi(2)) {
      CancellationException cause = new CancellationException("timeout");
      CancellationException thrown = assertThrows(CancellationException.class, () -> s.run(() -> {
        Computation<Void> never = Computation.create();
        Fiber.current().computation().cancelAfter(Duration.ofMillis(20), cause);
        return never.await();
      }));
      assertSame(cause, thrown);
    }
  }
}
