package org.picos.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;
import static org.picos.jcstress.ComputationRaces.CAUSE;
import static org.picos.jcstress.ComputationRaces.VALUE;

import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;
import org.openjdk.jcstress.infra.results.III_Result;
import org.openjdk.jcstress.infra.results.I_Result;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;

/**
 * The hand-off between a waiter and a completer: no lost wake-up. A fiber that waits for a
 * computation attaches a trigger to it, then its scheduler installs a resume action with
 * {@code onSignal}; the completer signals the trigger. Whatever the interleaving, the waiter is
 * resumed exactly once and sees the result (or, when its own computation was cancelled, the
 * cause).
 *
 * <p>The first three tests keep the actors non-blocking: the "waiter" is the suspend step a
 * scheduler performs, and the resume action only records that the fiber would run again; the
 * arbiter then plays the resumed fiber. The suspend/cancel tests drive the core's own protocol
 * ({@code Handler.trySuspend}/{@code unsuspend}) on a {@link Fiber} object, as every scheduler
 * does. The last test blocks a plain thread in {@link Computation#await()} for real; a lost
 * wake-up there would hang the test, which jcstress reports as an error.
 */
public final class AwaitRaces {
  private AwaitRaces() {}

  /** Path code: the waiter suspended; someone else's signal resumed it. */
  static final int SUSPENDED = 1;
  /** Path code: the trigger was signalled (or disposed) before the resume action was installed. */
  static final int SIGNALLED_FIRST = 2;
  /** Path code: the computation had completed before the waiter attached; no trigger needed. */
  static final int DONE_FIRST = 3;

  /** r1: the waiter's path; r2: times the waiter was resumed; r3: the value it then saw. */
  @JCStressTest
  @Description("Computation.await-style hand-off, (tryAttach(t); t.onSignal(resume)) vs "
      + "tryReturn(v): the waiter is resumed exactly once, and then sees the value.")
  @Outcome(id = "1, 1, 42", expect = ACCEPTABLE,
      desc = "The waiter suspended; the completer's signal resumed it.")
  @Outcome(id = "2, 1, 42", expect = ACCEPTABLE_INTERESTING,
      desc = "The completer signalled between attach and onSignal; the waiter resumed itself.")
  @Outcome(id = "3, 1, 42", expect = ACCEPTABLE,
      desc = "The computation had completed: the attach was refused and the waiter read the value.")
  @Outcome(expect = FORBIDDEN,
      desc = "A lost wake-up (never resumed), a double resume, or a resumed waiter that did not "
          + "see the value.")
  @State
  public static class Handoff {
    private final Computation<Integer> computation = Computation.create();
    private final Trigger trigger = Trigger.create();
    private final AtomicInteger resumes = new AtomicInteger();
    private volatile int seen;

    private void resume() {
      resumes.incrementAndGet();
      seen = computation.isReturned() ? computation.resultNow() : -1;
    }

    @Actor
    public void await(III_Result r) {
      if (!computation.tryAttach(trigger)) {
        r.r1 = DONE_FIRST;
        resume();
      } else if (SchedulerSide.attachAction(trigger, this::resume)) {
        r.r1 = SUSPENDED;
      } else {
        r.r1 = SIGNALLED_FIRST;
        resume();
      }
    }

    @Actor
    public void complete() {
      computation.tryReturn(VALUE);
    }

    @Arbiter
    public void arbiter(III_Result r) {
      r.r2 = resumes.get();
      r.r3 = seen;
    }
  }

  /**
   * The waiting side of both suspend tests: a fiber (its computation {@code own}) awaiting
   * {@code awaited} as {@code Computation.await} does on a scheduler: attach a trigger to the
   * awaited computation, then suspend through {@code Handler.trySuspend}. The resume action
   * records who resumed the fiber; {@link #continueFiber} then plays the resumed fiber.
   */
  abstract static class SuspendedFiber {
    final Computation<Integer> own = Computation.create();
    final Fiber fiber = Fiber.create(false, own);
    final Computation<Integer> awaited = Computation.create();
    final Trigger trigger = Trigger.create();
    final AtomicInteger resumes = new AtomicInteger();
    volatile Thread resumer;
    Thread completer;
    int path;

    void suspend() {
      if (!awaited.tryAttach(trigger)) {
        path = DONE_FIRST;
      } else if (SchedulerSide.suspend(fiber, trigger, this::resume)) {
        path = SUSPENDED;
        return;
      } else {
        path = SIGNALLED_FIRST;
      }
      resume();
    }

    private void resume() {
      resumer = Thread.currentThread();
      resumes.incrementAndGet();
    }

    /**
     * Once both actors are done: r1 path, r2 resumes, r3 who resumed the fiber (1 the other
     * actor, 0 the fiber itself, 3 anybody else), r4 what the fiber's await answers (1 the
     * value, 2 the cancellation cause, 3 something else, 0 not resumed).
     */
    void continueFiber(IIII_Result r) {
      r.r1 = path;
      r.r2 = resumes.get();
      Thread t = resumer;
      r.r3 = t == completer ? 1 : path != SUSPENDED ? 0 : 3;
      if (r.r2 == 0) {
        return;
      }
      if (path == SUSPENDED) {
        SchedulerSide.resumed(fiber, trigger);
      }
      Throwable cancel = path == DONE_FIRST ? null : fiber.canceled();
      if (cancel != null) {
        awaited.detach(trigger);
        r.r4 = cancel == CAUSE ? 2 : 3;
      } else {
        r.r4 = awaited.isReturned() && awaited.resultNow() == VALUE ? 1 : 3;
      }
    }
  }

  @JCStressTest
  @Description("A fiber suspending on a trigger (Handler.trySuspend) vs cancellation of the "
      + "fiber's computation: a suspended fiber is always woken by the cancellation and its await "
      + "answers the cause; a fiber cancelled first does not suspend at all.")
  @Outcome(id = "1, 1, 1, 2", expect = ACCEPTABLE,
      desc = "The fiber suspended; the cancellation signalled its trigger and it saw the cause.")
  @Outcome(id = "2, 1, 0, 2", expect = ACCEPTABLE_INTERESTING,
      desc = "Cancelled before suspending: trySuspend disposed the trigger, the fiber resumed "
          + "itself and saw the cause.")
  @Outcome(expect = FORBIDDEN,
      desc = "A suspended fiber the cancellation did not wake (lost wake-up), a double resume, or "
          + "an await that did not answer the cause.")
  @State
  public static class SuspendVsCancel extends SuspendedFiber {
    @Actor
    public void fiber() {
      suspend();
    }

    @Actor
    public void cancel() {
      completer = Thread.currentThread();
      own.tryCancel(CAUSE);
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
      continueFiber(r);
      awaited.tryReturn(VALUE);
    }
  }

  @JCStressTest
  @Description("A fiber suspending on a trigger (Handler.trySuspend) vs completion of the "
      + "computation it awaits: it is resumed exactly once and its await answers the value.")
  @Outcome(id = "1, 1, 1, 1", expect = ACCEPTABLE,
      desc = "The fiber suspended; the completion signalled its trigger and it saw the value.")
  @Outcome(id = "2, 1, 0, 1", expect = ACCEPTABLE_INTERESTING,
      desc = "The completion signalled the trigger while the fiber was suspending; trySuspend "
          + "answered false and the fiber resumed itself.")
  @Outcome(id = "3, 1, 0, 1", expect = ACCEPTABLE,
      desc = "The computation had completed before the fiber attached; it read the value.")
  @Outcome(expect = FORBIDDEN,
      desc = "A lost wake-up, a double resume, or an await that did not answer the value.")
  @State
  public static class SuspendVsReturn extends SuspendedFiber {
    @Actor
    public void fiber() {
      suspend();
    }

    @Actor
    public void complete() {
      completer = Thread.currentThread();
      awaited.tryReturn(VALUE);
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
      continueFiber(r);
    }
  }

  @JCStressTest
  @Description("Computation.await() blocking a plain thread vs tryReturn(v): the thread always "
      + "wakes with the value (a lost wake-up would hang the test).")
  @Outcome(id = "42", expect = ACCEPTABLE, desc = "The blocked or late waiter got the value.")
  @Outcome(expect = FORBIDDEN, desc = "The waiter returned something other than the value.")
  @State
  public static class PlainThreadAwait {
    private final Computation<Integer> computation = Computation.create();

    @Actor
    public void await(I_Result r) {
      r.r1 = computation.await();
    }

    @Actor
    public void complete() {
      computation.tryReturn(VALUE);
    }
  }
}
