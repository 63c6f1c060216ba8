package org.picos;

import static org.picos.modelcheck.ModelCheck.expect;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.picos.modelcheck.ModelCheck;

/**
 * {@link Trigger} under the model checker: the DSCheck trigger contract of OCaml Picos, and an
 * await that blocks a plain thread (LockSupport.park) racing a signal and a cancellation.
 */
@Tag("lincheck")
class TriggerLincheckTest {
  /** What an {@code onSignal} call answered: TRUE, FALSE, or the IllegalStateException. */
  static Object onSignal(Trigger t, Runnable action) {
    try {
      return t.onSignal(action);
    } catch (IllegalStateException alreadyAwaiting) {
      return alreadyAwaiting;
    }
  }

  static final class Contract {
    final Trigger trigger = Trigger.create();
    final AtomicInteger actionRuns = new AtomicInteger();
    volatile Object first;
    volatile Object second;
  }

  private static void checkLoser(Object answer, int wins) {
    if (answer instanceof IllegalStateException) {
      expect(wins == 1, "onSignal threw IllegalStateException although no action was attached");
    } else {
      expect(answer instanceof Boolean, "onSignal neither answered nor threw IllegalStateException");
    }
  }

  /**
   * Two signals and two onSignals: at most one onSignal wins; the action runs exactly once iff
   * one won; the other answers false (a signal came first) or IllegalStateException (it came
   * while the winner's action was attached). Picos' {@code test_trigger_contract}.
   */
  @Test
  void twoSignalsAndTwoOnSignalsKeepTheContract() {
    ModelCheck.check(220, () -> {
      Contract s = ModelCheck.share(new Contract());
      Runnable action = s.actionRuns::incrementAndGet;
      ModelCheck.runAll(
          () -> s.first = onSignal(s.trigger, action),
          () -> s.second = onSignal(s.trigger, action),
          s.trigger::signal,
          s.trigger::signal);
      int wins = (s.first == Boolean.TRUE ? 1 : 0) + (s.second == Boolean.TRUE ? 1 : 0);
      expect(wins <= 1, "both onSignal calls won");
      expect(s.actionRuns.get() == wins, "the action did not run exactly once per winning onSignal");
      checkLoser(s.first, wins);
      checkLoser(s.second, wins);
      expect(s.trigger.isSignaled(), "trigger not signalled");
    });
  }

  static final class Dispose {
    final Trigger trigger = Trigger.create();
    final AtomicInteger actionRuns = new AtomicInteger();
    volatile Object attached;
    volatile Object disposed;
  }

  /**
   * dispose racing onSignal and signal: dispose refuses (IllegalStateException) exactly when an
   * action is attached, never runs it, and the action still runs exactly once iff attached.
   */
  @Test
  void disposeRacingOnSignalAndSignalNeverRunsTheAction() {
    ModelCheck.check(200, () -> {
      Dispose s = ModelCheck.share(new Dispose());
      ModelCheck.runAll(
          () -> s.attached = onSignal(s.trigger, s.actionRuns::incrementAndGet),
          () -> {
            try {
              s.trigger.dispose();
              s.disposed = "disposed";
            } catch (IllegalStateException refused) {
              s.disposed = refused;
            }
          },
          s.trigger::signal);
      expect(s.attached instanceof Boolean, "onSignal threw");
      boolean won = s.attached == Boolean.TRUE;
      expect(s.actionRuns.get() == (won ? 1 : 0), "the action did not run exactly once iff attached");
      expect(won || !(s.disposed instanceof IllegalStateException),
          "dispose refused although no action was attached");
      expect(s.trigger.isSignaled(), "trigger not signalled");
    });
  }

  static final class Await {
    final Trigger trigger = Trigger.create();
    final Computation<Void> waiterComputation = Computation.create();
    final RuntimeException cause = new RuntimeException("cancelled");
    volatile Object result = "not returned";
    volatile boolean signaledAfterAwait;
    volatile int entriesAfterAwait = -1;
  }

  private static void awaitOnPlainThread(Await s) {
    Fiber.current().setComputation(s.waiterComputation);
    s.result = s.trigger.await();
    s.signaledAfterAwait = s.trigger.isSignaled();
    s.entriesAfterAwait = s.waiterComputation.triggerEntries();
  }

  /**
   * A plain thread blocked in await, a signaller and a canceller of the waiter's fiber: the
   * waiter always wakes (no lost wake-up), answers null or the cause (the cause only when
   * cancelled), leaves the trigger signalled and its computation's trigger list empty.
   */
  @Test
  void awaitOnAPlainThreadWakesForSignalOrCancellation() {
    ModelCheck.check(220, () -> {
      Await s = ModelCheck.share(new Await());
      ModelCheck.runAll(
          () -> awaitOnPlainThread(s),
          s.trigger::signal,
          () -> s.waiterComputation.tryCancel(s.cause));
      expect(s.result == null || s.result == s.cause, "await answered neither null nor the cause");
      expect(s.signaledAfterAwait, "trigger not signalled after await returned");
      expect(s.entriesAfterAwait == 0, "await left trigger entries on the waiter's computation");
    });
  }

  /** Without a signal, only cancellation ends the wait: await answers the cause. */
  @Test
  void awaitOnAPlainThreadEndsByCancellationAlone() {
    ModelCheck.check(120, () -> {
      Await s = ModelCheck.share(new Await());
      ModelCheck.runAll(
          () -> awaitOnPlainThread(s),
          () -> s.waiterComputation.tryCancel(s.cause));
      expect(s.result == s.cause, "await did not answer the cancellation cause");
      expect(s.signaledAfterAwait, "trigger not signalled after await returned");
    });
  }
}
