package org.picos.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;
import org.openjdk.jcstress.infra.results.ZII_Result;
import org.openjdk.jcstress.infra.results.ZZI_Result;
import org.picos.Trigger;

/**
 * Races on one {@link Trigger}. Its single atomic cell must let exactly one transition out of
 * each state win, run an attached action at most once (and exactly once when the action was
 * attached and the trigger is then signalled), and refuse a second action, or a dispose of an
 * awaited trigger, with an {@link IllegalStateException}.
 *
 * <p>Each nested class is one jcstress test. jcstress runs each actor on a plain thread of its
 * own, two actors per test (so that the tests run on a 2-core machine), then the arbiter once
 * both are done. Three-party races are therefore written as one actor doing two steps in the
 * order a scheduler does them (attach an action, then be signalled) against a second actor.
 * The triggers are driven as schedulers drive them ({@code onSignal}, {@code signal},
 * {@code dispose}), never awaited, so no actor blocks.
 */
public final class TriggerRaces {
  private TriggerRaces() {}

  /** Result code of {@code onSignal}: the action was attached. */
  static final int ATTACHED = 1;
  /** Result code of {@code onSignal}: false, the trigger was already signalled. */
  static final int TOO_LATE = 0;
  /** Result code of {@code onSignal}: IllegalStateException, another action is attached. */
  static final int REFUSED = -1;

  /** Calls {@code SchedulerSide.attachAction(trigger, action)} and encodes the answer as a result code. */
  static int onSignal(Trigger trigger, Runnable action) {
    try {
      return SchedulerSide.attachAction(trigger, action) ? ATTACHED : TOO_LATE;
    } catch (IllegalStateException alreadyAwaited) {
      return REFUSED;
    }
  }

  /** r1: onSignal attached; r2: runs of the action; r3: whose signal ran it (1 or 2, 0 none). */
  @JCStressTest
  @Description("signal() vs (onSignal(action); signal()): the action runs at most once, exactly "
      + "once iff onSignal won the cell, in the thread of whichever signal won the CAS.")
  @Outcome(id = "true, 1, 1", expect = ACCEPTABLE_INTERESTING,
      desc = "onSignal attached first; the other actor's signal won the CAS and ran the action.")
  @Outcome(id = "true, 1, 2", expect = ACCEPTABLE,
      desc = "onSignal attached first; the attaching actor's own signal won and ran the action.")
  @Outcome(id = "false, 0, 0", expect = ACCEPTABLE,
      desc = "The other actor's signal came first: onSignal answered false, the action never ran.")
  @Outcome(expect = FORBIDDEN,
      desc = "The action ran twice or on a third thread, ran without having been attached, or "
          + "an attached action was lost.")
  @State
  public static class SignalVsOnSignalSignal {
    private final Trigger trigger = Trigger.create();
    private final AtomicInteger runs = new AtomicInteger();
    private volatile Thread runner;
    private Thread signaller;
    private Thread attacher;

    @Actor
    public void signal() {
      signaller = Thread.currentThread();
      trigger.signal();
    }

    @Actor
    public void attachThenSignal(ZII_Result r) {
      attacher = Thread.currentThread();
      r.r1 = SchedulerSide.attachAction(trigger, () -> {
        runner = Thread.currentThread();
        runs.incrementAndGet();
      });
      trigger.signal();
    }

    @Arbiter
    public void arbiter(ZII_Result r) {
      trigger.signal();
      r.r2 = runs.get();
      Thread t = runner;
      r.r3 = t == null ? 0 : t == signaller ? 1 : t == attacher ? 2 : 3;
    }
  }

  /** r1: onSignal attached; r2: dispose threw IllegalStateException; r3: runs of the action. */
  @JCStressTest
  @Description("dispose() vs (onSignal(action); signal()): dispose never runs nor drops an "
      + "attached action; it refuses with IllegalStateException exactly while one is attached.")
  @Outcome(id = "true, false, 1", expect = ACCEPTABLE,
      desc = "onSignal attached and the signal ran the action; dispose then found it signalled.")
  @Outcome(id = "true, true, 1", expect = ACCEPTABLE_INTERESTING,
      desc = "dispose met the attached action and refused; the signal then ran the action.")
  @Outcome(id = "false, false, 0", expect = ACCEPTABLE,
      desc = "dispose came first: onSignal answered false and nothing ran.")
  @Outcome(expect = FORBIDDEN,
      desc = "An attached action was lost or ran twice, dispose refused with no action attached, "
          + "or the trigger did not end signalled.")
  @State
  public static class DisposeVsOnSignalSignal {
    private final Trigger trigger = Trigger.create();
    private final AtomicInteger runs = new AtomicInteger();

    @Actor
    public void dispose(ZZI_Result r) {
      try {
        SchedulerSide.disposeTrigger(trigger);
      } catch (IllegalStateException actionAttached) {
        r.r2 = true;
      }
    }

    @Actor
    public void attachThenSignal(ZZI_Result r) {
      r.r1 = SchedulerSide.attachAction(trigger, runs::incrementAndGet);
      trigger.signal();
    }

    @Arbiter
    public void arbiter(ZZI_Result r) {
      r.r3 = trigger.isSignaled() ? runs.get() : -1;
    }
  }

  /**
   * r1, r2: the answers of onSignal(a) and onSignal(b) (1 attached, 0 false, -1
   * IllegalStateException); r3, r4: runs of a and of b.
   */
  @JCStressTest
  @Description("(onSignal(a); signal()) vs onSignal(b): exactly one action is attached and runs "
      + "once; the loser gets IllegalStateException while the winner's action is attached, or "
      + "false once the trigger is signalled.")
  @Outcome(id = "1, -1, 1, 0", expect = ACCEPTABLE,
      desc = "a attached; b was refused with IllegalStateException; the signal ran a.")
  @Outcome(id = "1, 0, 1, 0", expect = ACCEPTABLE_INTERESTING,
      desc = "a attached and the signal ran it before b came: b answered false.")
  @Outcome(id = "-1, 1, 0, 1", expect = ACCEPTABLE,
      desc = "b attached first; a was refused with IllegalStateException; the signal ran b.")
  @Outcome(expect = FORBIDDEN,
      desc = "Both or neither attached, a refusal without a winner, or an action lost or run twice.")
  @State
  public static class OnSignalSignalVsOnSignal {
    private final Trigger trigger = Trigger.create();
    private final AtomicInteger runsA = new AtomicInteger();
    private final AtomicInteger runsB = new AtomicInteger();

    @Actor
    public void attachThenSignal(IIII_Result r) {
      r.r1 = onSignal(trigger, runsA::incrementAndGet);
      trigger.signal();
    }

    @Actor
    public void attach(IIII_Result r) {
      r.r2 = onSignal(trigger, runsB::incrementAndGet);
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
      trigger.signal();
      r.r3 = runsA.get();
      r.r4 = runsB.get();
    }
  }
}
