package org.picos.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;
import org.openjdk.jcstress.infra.results.II_Result;
import org.picos.Computation;
import org.picos.Trigger;
import org.picos.spi.Handler;

/**
 * Races on one {@link Computation}: completion is decided by one CAS (exactly one of
 * {@code tryReturn}/{@code tryCancel} wins and everybody observes the winner), a trigger that
 * {@code tryAttach} accepted is always signalled by completion while a refused one is never
 * needed, {@code detach} and completion together run a trigger's action exactly once, and lazy
 * removal keeps the trigger list bounded under concurrent attach/detach.
 *
 * <p>Two actors per test, each on a plain thread; nothing blocks.
 */
public final class ComputationRaces {
  private ComputationRaces() {}

  /** Observation code: the computation was seen returned with the expected value. */
  static final int SAW_RETURNED = 1;
  /** Observation code: the computation was seen cancelled with the expected cause. */
  static final int SAW_CANCELED = 2;
  /** Observation code: the computation was seen running, or with a wrong value or cause. */
  static final int SAW_WRONG = 3;

  static final Integer VALUE = 42;
  static final CancellationException CAUSE = new CancellationException("jcstress: cancelled");

  /** What an observer run on completion sees: one of the observation codes. */
  static int observe(Computation<Integer> c) {
    if (c.isReturned()) {
      return c.resultNow() == VALUE ? SAW_RETURNED : SAW_WRONG;
    }
    return c.canceled() == CAUSE ? SAW_CANCELED : SAW_WRONG;
  }

  /**
   * r1: tryReturn won; r2: tryCancel won; r3: what a trigger attached beforehand saw when it was
   * signalled; r4: what a trigger attached during the race saw.
   */
  @JCStressTest
  @Description("tryReturn(v) vs (whenDone(observer); tryCancel(cause)): exactly one completion "
      + "wins, and every observer, attached before or during the race, sees that winner once.")
  @Outcome(id = "1, 0, 1, 1", expect = ACCEPTABLE,
      desc = "tryReturn won; both observers saw the value.")
  @Outcome(id = "0, 1, 2, 2", expect = ACCEPTABLE,
      desc = "tryCancel won; both observers saw the cause.")
  @Outcome(expect = FORBIDDEN,
      desc = "Both or neither completion won, an observer was not run, ran twice, or saw a state "
          + "other than the winner's.")
  @State
  public static class ReturnVsCancel {
    private final Computation<Integer> computation = Computation.create();
    private final AtomicInteger early = new AtomicInteger();
    private final AtomicInteger late = new AtomicInteger();

    public ReturnVsCancel() {
      computation.whenDone(() -> early.addAndGet(observe(computation)));
    }

    @Actor
    public void complete(IIII_Result r) {
      r.r1 = computation.tryReturn(VALUE) ? 1 : 0;
    }

    @Actor
    public void observeThenCancel(IIII_Result r) {
      computation.whenDone(() -> late.addAndGet(observe(computation)));
      r.r2 = computation.tryCancel(CAUSE) ? 1 : 0;
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
      r.r3 = early.get();
      r.r4 = late.get();
    }
  }

  /** r1: tryAttach (1 accepted, 0 refused after completion, -1 refused while running); r2: signalled. */
  @JCStressTest
  @Description("tryAttach(trigger) vs tryReturn(v): an accepted trigger is always signalled by "
      + "the completion; a refused one is refused only because the computation has completed, "
      + "so nobody needs it signalled.")
  @Outcome(id = "1, 1", expect = ACCEPTABLE,
      desc = "Attached before completion; the completion signalled it.")
  @Outcome(id = "0, 0", expect = ACCEPTABLE,
      desc = "Refused: the computation had already completed; the trigger stays unsignalled.")
  @Outcome(expect = FORBIDDEN,
      desc = "An accepted trigger was never signalled (a lost wake-up), a trigger was refused "
          + "while the computation was running, or a refused trigger was signalled.")
  @State
  public static class AttachVsComplete {
    private final Computation<Integer> computation = Computation.create();
    private final Trigger trigger = Trigger.create();

    @Actor
    public void attach(II_Result r) {
      r.r1 = computation.tryAttach(trigger) ? 1 : computation.isRunning() ? -1 : 0;
    }

    @Actor
    public void complete() {
      computation.tryReturn(VALUE);
    }

    @Arbiter
    public void arbiter(II_Result r) {
      r.r2 = trigger.isSignaled() ? 1 : 0;
    }
  }

  /** r1: runs of the trigger's action; r2: who ran it (1 detach, 2 completion). */
  @JCStressTest
  @Description("detach(trigger) vs tryCancel(cause) on an attached callback trigger: its action "
      + "runs exactly once, in whichever thread signalled it first.")
  @Outcome(id = "1, 1", expect = ACCEPTABLE,
      desc = "detach signalled the trigger first and ran the action; completion skipped it.")
  @Outcome(id = "1, 2", expect = ACCEPTABLE_INTERESTING,
      desc = "The completion signalled the trigger first; detach found it signalled.")
  @Outcome(expect = FORBIDDEN, desc = "The action was lost, ran twice, or ran on a third thread.")
  @State
  public static class DetachVsComplete {
    private final Computation<Integer> computation = Computation.create();
    private final AtomicInteger runs = new AtomicInteger();
    private volatile Thread runner;
    private Thread detacher;
    private Thread completer;
    private final Trigger trigger = computation.whenDone(() -> {
      runner = Thread.currentThread();
      runs.incrementAndGet();
    });

    @Actor
    public void detach() {
      detacher = Thread.currentThread();
      computation.detach(trigger);
    }

    @Actor
    public void complete() {
      completer = Thread.currentThread();
      computation.tryCancel(CAUSE);
    }

    @Arbiter
    public void arbiter(II_Result r) {
      r.r1 = runs.get();
      Thread t = runner;
      r.r2 = t == detacher ? 1 : t == completer ? 2 : 0;
    }
  }

  /** How many attach/detach rounds each actor of {@link AttachDetachBalance} runs. */
  static final int ROUNDS = 4;

  /** r1: trigger entries left in the list; r2: whether the live trigger was then signalled. */
  @JCStressTest
  @Description("Two actors each attach and detach a fresh trigger " + ROUNDS + " times on a "
      + "computation holding one long-lived trigger: lazy removal keeps at most 4 entries (a "
      + "bound computed over every interleaving of the attach/detach state machine), and never "
      + "drops the live trigger, which completion then signals.")
  @Outcome(id = "1, 1", expect = ACCEPTABLE,
      desc = "Every dead entry was collected: only the live trigger is left.")
  @Outcome(id = {"2, 1", "3, 1", "4, 1"}, expect = ACCEPTABLE,
      desc = "Some dead entries await lazy removal, within the bound.")
  @Outcome(expect = FORBIDDEN,
      desc = "The list grew past the bound (a leak), or the live trigger was dropped and never "
          + "signalled.")
  @State
  public static class AttachDetachBalance {
    private final Computation<Integer> computation = Computation.create();
    private final Trigger live = Trigger.create();

    public AttachDetachBalance() {
      computation.tryAttach(live);
    }

    private void churn() {
      for (int i = 0; i < ROUNDS; i++) {
        Trigger t = Trigger.create();
        computation.tryAttach(t);
        computation.detach(t);
      }
    }

    @Actor
    public void churn1() {
      churn();
    }

    @Actor
    public void churn2() {
      churn();
    }

    @Arbiter
    public void arbiter(II_Result r) {
      r.r1 = Handler.triggerEntries(computation);
      computation.tryReturn(VALUE);
      r.r2 = live.isSignaled() ? 1 : 0;
    }
  }
}
