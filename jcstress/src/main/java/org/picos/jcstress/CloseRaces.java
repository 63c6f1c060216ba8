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
import org.openjdk.jcstress.infra.results.III_Result;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Handler;
import org.picos.Trigger;

/**
 * Closing a fiber ({@code Handler.closeFiber}, what a closing scheduler does to each live
 * fiber) races the fiber swapping its computation — entering or leaving a scope — and then
 * suspending. The close marks the fiber before it reads the computation to cancel, and
 * {@code Handler.trySuspend} reads the mark after the swap, so whatever the interleaving the
 * fiber is never left suspended: either it does not suspend (the mark or the cancelled
 * computation is seen), or the close's cancellation wakes it. Afterwards the fiber sees the
 * close at every cancellation point, whichever computation it has.
 */
public final class CloseRaces {
  private CloseRaces() {}

  static final RuntimeException CLOSED = new IllegalStateException("scheduler closed");

  /** Handler's protected closing and suspend protocol, for the tests. */
  abstract static class Protocol extends Handler {
    private Protocol() {}

    static void close(Fiber fiber, Throwable cause) {
      closeFiber(fiber, cause);
    }

    static boolean suspend(Fiber fiber, Trigger trigger, Runnable resume) {
      return trySuspend(fiber, trigger, resume);
    }
  }

  /** A fiber that swaps its computation, then suspends on a fresh trigger; the close races it. */
  abstract static class Swapping {
    final Computation<Void> outer = Computation.create();
    final Computation<Void> inner = Computation.create();
    final Fiber fiber = Fiber.create(false, outer);
    final Trigger trigger = Trigger.create();
    final AtomicInteger wakes = new AtomicInteger();
    int suspended;

    void swapAndSuspend(Computation<?> to) {
      fiber.setComputation(to);
      suspended = Protocol.suspend(fiber, trigger, wakes::incrementAndGet) ? 1 : 0;
    }

    /** r1: whether it suspended; r2: times the resume action ran; r3: whether it sees the close. */
    void judge(III_Result r) {
      r.r1 = suspended;
      r.r2 = wakes.get();
      r.r3 = fiber.canceled() == CLOSED ? 1 : 0;
    }
  }

  @JCStressTest
  @Description("closeFiber vs (leave a scope: setComputation(outer); trySuspend): the fiber is "
      + "never left suspended and sees the close afterwards.")
  @Outcome(id = "1, 1, 1", expect = ACCEPTABLE,
      desc = "The fiber suspended on its outer computation; the close cancelled it and woke it.")
  @Outcome(id = "0, 0, 1", expect = ACCEPTABLE_INTERESTING,
      desc = "The close came first: trySuspend saw the mark (or the cancelled computation) and "
          + "did not suspend.")
  @Outcome(expect = FORBIDDEN,
      desc = "A suspended fiber nobody wakes, a double wake-up, or a close the fiber no longer sees.")
  @State
  public static class CloseVsLeavingScope extends Swapping {
    {
      fiber.setComputation(inner);
    }

    @Actor
    public void fiber() {
      swapAndSuspend(outer);
    }

    @Actor
    public void close() {
      Protocol.close(fiber, CLOSED);
    }

    @Arbiter
    public void arbiter(III_Result r) {
      judge(r);
    }
  }

  @JCStressTest
  @Description("closeFiber vs (enter a scope whose computation nobody links to the fiber's: "
      + "setComputation(inner); trySuspend): the fiber is never left suspended.")
  @Outcome(id = "1, 1, 1", expect = ACCEPTABLE,
      desc = "The fiber suspended in the scope; the close read the scope's computation, "
          + "cancelled it and woke the fiber.")
  @Outcome(id = "0, 0, 1", expect = ACCEPTABLE_INTERESTING,
      desc = "trySuspend saw the close (the mark, or the cancelled computation) and did not "
          + "suspend.")
  @Outcome(expect = FORBIDDEN,
      desc = "A suspended fiber nobody wakes, a double wake-up, or a close the fiber no longer sees.")
  @State
  public static class CloseVsEnteringScope extends Swapping {
    @Actor
    public void fiber() {
      swapAndSuspend(inner);
    }

    @Actor
    public void close() {
      Protocol.close(fiber, CLOSED);
    }

    @Arbiter
    public void arbiter(III_Result r) {
      judge(r);
      fiber.setComputation(outer);
      if (fiber.canceled() != CLOSED) {
        r.r3 = 0; // the close must survive leaving the scope too
      }
    }
  }
}
