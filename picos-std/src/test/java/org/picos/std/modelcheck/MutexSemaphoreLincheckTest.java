package org.picos.std.modelcheck;

import static org.picos.modelcheck.ModelCheck.expect;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Mutex;
import org.picos.std.sync.Semaphore;
import org.picos.modelcheck.ModelCheck;

/**
 * {@link Mutex} and {@link Semaphore} on plain threads under the model checker, with the
 * cancellation of a waiter as one of the racing operations. A plain thread's implicit fiber
 * takes the scenario's {@code victim} computation as its cancellation token, so cancelling that
 * computation cancels the thread's wait. A cancelled waiter either completes its operation or
 * leaves no trace: the mutex ends unlocked with nobody queued, the semaphore with its permits.
 */
@Tag("lincheck")
class MutexSemaphoreLincheckTest {
  static final class Cell {
    int value;

    /** A read and a write with a possible thread switch between them. */
    void increment() {
      int v = value;
      value = v + 1;
    }
  }

  static final class MutexState {
    final Mutex mutex = new Mutex();
    final Cell guarded = new Cell();
    final Computation<Void> victim = Computation.create();
    final RuntimeException cause = new RuntimeException("cancelled");
    volatile Object victimOutcome = "not finished";
  }

  private static void lockIncrementUnlock(MutexState s) {
    s.mutex.lock();
    try {
      s.guarded.increment();
    } finally {
      s.mutex.unlock();
    }
  }

  /** Three threads in lock/increment/unlock: no lost update, and the mutex ends free. */
  @Test
  void mutexExcludesAndHandsOff() {
    ModelCheck.check(250, () -> {
      MutexState s = ModelCheck.share(new MutexState());
      ModelCheck.runAll(() -> lockIncrementUnlock(s), () -> lockIncrementUnlock(s), () -> lockIncrementUnlock(s));
      expect(s.guarded.value == 3, "lost update under the mutex");
      expect(!s.mutex.isLocked() && s.mutex.queueLength() == 0, "mutex not free at the end");
    });
  }

  /**
   * A holder, a victim waiting to lock, the victim's canceller and a second waiter: the victim
   * either locks (and increments) or throws its cause; a victim cancelled just as ownership was
   * handed to it passes it on, so the second waiter always gets the mutex and nothing hangs.
   */
  @Test
  void aCancelledMutexWaiterLeavesNoTrace() {
    ModelCheck.check(300, () -> {
      MutexState s = ModelCheck.share(new MutexState());
      ModelCheck.runAll(
          () -> lockIncrementUnlock(s),
          () -> {
            Fiber.current().setComputation(s.victim);
            try {
              lockIncrementUnlock(s);
              s.victimOutcome = "locked";
            } catch (RuntimeException e) {
              s.victimOutcome = e;
            }
          },
          () -> s.victim.tryCancel(s.cause),
          () -> lockIncrementUnlock(s));
      boolean locked = "locked".equals(s.victimOutcome);
      expect(locked || s.victimOutcome == s.cause, "the victim neither locked nor threw its cause");
      expect(s.guarded.value == (locked ? 3 : 2), "critical sections do not match the locks taken");
      expect(!s.mutex.isLocked() && s.mutex.queueLength() == 0, "mutex not free at the end");
    });
  }

  static final class SemaphoreState {
    final Semaphore semaphore = new Semaphore(1);
    final Cell guarded = new Cell();
    final Computation<Void> victim = Computation.create();
    final RuntimeException cause = new RuntimeException("cancelled");
    volatile Object victimOutcome = "not finished";
  }

  private static void acquireIncrementRelease(SemaphoreState s) {
    s.semaphore.acquire();
    try {
      s.guarded.increment();
    } finally {
      s.semaphore.release();
    }
  }

  /**
   * A binary use of a one-permit semaphore by two threads and a cancellable victim: a permit is
   * never lost or duplicated (no lost update, one permit at the end, nobody queued), and the
   * victim acquires or throws its cause.
   */
  @Test
  void aCancelledSemaphoreWaiterLosesNoPermit() {
    ModelCheck.check(300, () -> {
      SemaphoreState s = ModelCheck.share(new SemaphoreState());
      ModelCheck.runAll(
          () -> acquireIncrementRelease(s),
          () -> {
            Fiber.current().setComputation(s.victim);
            try {
              acquireIncrementRelease(s);
              s.victimOutcome = "acquired";
            } catch (RuntimeException e) {
              s.victimOutcome = e;
            }
          },
          () -> s.victim.tryCancel(s.cause),
          () -> acquireIncrementRelease(s));
      boolean acquired = "acquired".equals(s.victimOutcome);
      expect(acquired || s.victimOutcome == s.cause, "the victim neither acquired nor threw its cause");
      expect(s.guarded.value == (acquired ? 3 : 2), "critical sections do not match the permits taken");
      expect(s.semaphore.availablePermits() == 1 && s.semaphore.queueLength() == 0,
          "semaphore does not end with its one permit and nobody queued");
    });
  }
}
