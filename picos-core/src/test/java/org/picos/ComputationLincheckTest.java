package org.picos;

import static org.picos.modelcheck.ModelCheck.expect;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.picos.modelcheck.ModelCheck;

/**
 * {@link Computation}'s trigger list under the model checker: racing completers, attaches and
 * detaches (the DSCheck computation tests of OCaml Picos and checklist items 3 to 5), and a
 * plain thread blocked in {@link Computation#await()} racing completion and its own
 * cancellation.
 */
@Tag("lincheck")
class ComputationLincheckTest {
  static final class Completion {
    final Computation<Integer> computation;
    final RuntimeException cause = new RuntimeException("cancelled");
    final Trigger plain = Trigger.create();
    final AtomicInteger sequence = new AtomicInteger();
    final AtomicInteger firstRan = new AtomicInteger();
    final AtomicInteger secondRan = new AtomicInteger();
    final Trigger first = Trigger.fromAction(() -> firstRan.set(sequence.incrementAndGet()));
    final Trigger second = Trigger.fromAction(() -> secondRan.set(sequence.incrementAndGet()));
    volatile boolean returned;
    volatile boolean cancelled;
    volatile boolean plainAttached;
    volatile boolean firstAttached;
    volatile boolean secondAttached;

    Completion(Computation.Mode mode) {
      computation = Computation.create(mode);
    }
  }

  /**
   * Exactly one of a racing tryReturn and tryCancel wins and decides the state; every trigger
   * attached successfully is signalled, a trigger whose attach failed is not, and callbacks
   * attached by one thread run once each, in attach order (FIFO) or newest first (LIFO).
   */
  private static void completionRace(Computation.Mode mode) {
    Completion s = ModelCheck.share(new Completion(mode));
    ModelCheck.runAll(
        () -> s.returned = s.computation.tryReturn(42),
        () -> s.cancelled = s.computation.tryCancel(s.cause),
        () -> {
          s.firstAttached = s.computation.tryAttach(s.first);
          s.plainAttached = s.computation.tryAttach(s.plain);
          s.secondAttached = s.computation.tryAttach(s.second);
        });
    expect(s.returned ^ s.cancelled, "not exactly one completer won");
    if (s.returned) {
      expect(s.computation.isReturned() && s.computation.resultNow() == 42, "winner's value not stored");
    } else {
      expect(s.computation.canceled() == s.cause, "winner's cause not stored");
    }
    expect(s.plain.isSignaled() == s.plainAttached, "trigger signalled iff attached: violated");
    expect((s.firstRan.get() != 0) == s.firstAttached, "first callback ran iff attached: violated");
    expect((s.secondRan.get() != 0) == s.secondAttached, "second callback ran iff attached: violated");
    expect(s.sequence.get() == (s.firstAttached ? 1 : 0) + (s.secondAttached ? 1 : 0),
        "a callback ran more than once");
    if (s.firstAttached && s.secondAttached) {
      expect(mode == Computation.Mode.FIFO
          ? s.firstRan.get() < s.secondRan.get()
          : s.secondRan.get() < s.firstRan.get(), "callbacks ran out of order");
    }
    expect(s.computation.triggerEntries() == 0, "a completed computation holds trigger entries");
  }

  @Test
  void oneCompleterWinsAndEveryAttachedTriggerIsSignalledInOrder() {
    ModelCheck.check(220, () -> completionRace(Computation.Mode.FIFO));
  }

  @Test
  void lifoSignalsNewestFirstUnderRacingCompletion() {
    ModelCheck.check(120, () -> completionRace(Computation.Mode.LIFO));
  }

  static final class Churn {
    final Computation<Void> computation = Computation.create();
    final Trigger live = Trigger.create();
    final Trigger[][] pairs = {
      {Trigger.create(), Trigger.create()}, {Trigger.create(), Trigger.create()}
    };
    volatile boolean liveAttached;
    final AtomicInteger failedAttaches = new AtomicInteger();
  }

  private static void attachDetach(Churn s, Trigger[] triggers) {
    for (Trigger t : triggers) {
      if (!s.computation.tryAttach(t)) {
        s.failedAttaches.incrementAndGet();
      }
      s.computation.detach(t);
    }
  }

  /**
   * Four attach+detach pairs on two threads leave at most two dead entries, and the next attach
   * leaves exactly the new trigger (Picos' {@code test_computation_removes_triggers}).
   */
  @Test
  void attachDetachChurnLeavesAtMostTwoEntriesAndTheNextAttachCleansUp() {
    ModelCheck.check(220, () -> {
      Churn s = ModelCheck.share(new Churn());
      ModelCheck.runAll(() -> attachDetach(s, s.pairs[0]), () -> attachDetach(s, s.pairs[1]));
      expect(s.failedAttaches.get() == 0, "attach to a running computation failed");
      expect(s.computation.triggerEntries() <= 2, "more than two entries left after churn");
      Trigger next = Trigger.create();
      expect(s.computation.tryAttach(next), "attach failed");
      expect(s.computation.triggerEntries() == 1, "the next attach did not leave exactly one entry");
      s.computation.tryReturn(null);
      expect(next.isSignaled(), "attached trigger not signalled");
    });
  }

  /**
   * Churn by two threads around a trigger that a third attaches and never detaches: the
   * collection of dead entries never drops the live one, which completion signals; the list
   * stays within the live entry plus two.
   */
  @Test
  void churnNeverDropsALiveTrigger() {
    ModelCheck.check(220, () -> {
      Churn s = ModelCheck.share(new Churn());
      ModelCheck.runAll(
          () -> s.liveAttached = s.computation.tryAttach(s.live),
          () -> attachDetach(s, s.pairs[0]),
          () -> attachDetach(s, s.pairs[1]));
      expect(s.liveAttached && s.failedAttaches.get() == 0, "attach to a running computation failed");
      int entries = s.computation.triggerEntries();
      expect(entries >= 1 && entries <= 3, "entries not within [live, live + 2]");
      expect(!s.live.isSignaled(), "live trigger signalled before completion");
      s.computation.tryReturn(null);
      expect(s.live.isSignaled(), "live trigger dropped by the collection of dead entries");
    });
  }

  static final class Await {
    final Computation<Integer> computation = Computation.create();
    final Computation<Void> waiterComputation = Computation.create();
    final RuntimeException cause = new RuntimeException("waiter cancelled");
    volatile Object outcome = "not returned";
  }

  private static void awaitOnPlainThread(Await s) {
    Fiber.current().setComputation(s.waiterComputation);
    try {
      s.outcome = s.computation.await();
    } catch (RuntimeException e) {
      s.outcome = e;
    }
  }

  /**
   * A plain thread blocked in await, a completer and a canceller of the waiter: the waiter
   * returns the value or throws its own cause (only if cancelled); it never hangs.
   */
  @Test
  void awaitOnAPlainThreadReturnsTheValueOrTheWaitersCause() {
    ModelCheck.check(220, () -> {
      Await s = ModelCheck.share(new Await());
      ModelCheck.runAll(
          () -> awaitOnPlainThread(s),
          () -> s.computation.tryReturn(7),
          () -> s.waiterComputation.tryCancel(s.cause));
      expect(Integer.valueOf(7).equals(s.outcome) || s.outcome == s.cause,
          "await ended with neither the value nor the waiter's cause");
    });
  }

  /** A waiter cancelled while nothing completes the computation leaves no entry on it. */
  @Test
  void aCancelledAwaitLeavesNoTriggerBehind() {
    ModelCheck.check(120, () -> {
      Await s = ModelCheck.share(new Await());
      ModelCheck.runAll(() -> awaitOnPlainThread(s), () -> s.waiterComputation.tryCancel(s.cause));
      expect(s.outcome == s.cause, "await did not throw the waiter's cause");
      expect(s.computation.isRunning(), "computation completed");
      expect(s.computation.triggerEntries() == 0, "the cancelled waiter left a trigger entry");
    });
  }
}
