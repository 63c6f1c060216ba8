package org.picos.modelcheck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.locks.LockSupport;
import org.jetbrains.lincheck.LincheckAssertionError;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The harness finds known bugs: if these stop failing under the model checker (for example
 * because a JDK or Lincheck upgrade hides the threads' shared state from it again), every
 * other model-checking test would pass without exploring anything.
 */
@Tag("lincheck")
class HarnessLincheckTest {
  static final class Counter {
    int value;
  }

  @Test
  void findsALostUpdate() {
    LincheckAssertionError e = assertThrows(LincheckAssertionError.class, () -> ModelCheck.check(200, () -> {
      Counter c = ModelCheck.share(new Counter());
      Runnable increment = () -> {
        int v = c.value;
        c.value = v + 1;
      };
      ModelCheck.runAll(increment, increment);
      assertEquals(2, c.value, "lost update");
    }));
    assertTrue(e.getMessage().contains("lost update"), e.getMessage());
  }

  /**
   * A one-shot flag whose setter skips the signal when no waiter has registered yet, while the
   * waiter registers only after checking the flag: a lost signal, after which the waiter parks
   * forever. (Lincheck wakes a parked thread spuriously when nothing else can run, so a lost
   * {@code unpark} alone, in a park loop that re-checks its condition, is not visible to it; a
   * condition that never becomes true is reported as a hang.)
   */
  static final class BrokenFlag {
    volatile boolean set;
    volatile Thread waiter;

    void await() {
      while (!set) {
        waiter = Thread.currentThread();
        LockSupport.park(this);
      }
    }

    void set() {
      Thread w = waiter;
      if (w != null) {
        set = true;
        LockSupport.unpark(w);
      }
    }
  }

  @Test
  void findsALostSignalToAParkedThread() {
    LincheckAssertionError e = assertThrows(LincheckAssertionError.class, () -> ModelCheck.check(200, () -> {
      BrokenFlag f = ModelCheck.share(new BrokenFlag());
      ModelCheck.runAll(f::await, f::set);
    }));
    assertTrue(e.getMessage().contains("hung"), e.getMessage());
  }
}
