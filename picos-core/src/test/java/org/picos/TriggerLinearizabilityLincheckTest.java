package org.picos;

import java.util.concurrent.atomic.AtomicInteger;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.picos.modelcheck.ModelCheck;

/**
 * {@link Trigger}'s operations are linearizable: Lincheck generates random concurrent scenarios
 * of them and checks every explored interleaving's results against the trigger run
 * sequentially. The action's run count is not an operation (the action runs after the signalling
 * CAS, by design); it is checked at the end instead.
 */
@Tag("lincheck")
public class TriggerLinearizabilityLincheckTest {
  private final Trigger trigger = Trigger.create();
  private final AtomicInteger actionRuns = new AtomicInteger();
  private final AtomicInteger attached = new AtomicInteger();

  @Operation
  public void signal() {
    trigger.signal();
  }

  @Operation
  public String onSignal() {
    try {
      boolean won = trigger.onSignal(actionRuns::incrementAndGet);
      if (won) {
        attached.incrementAndGet();
      }
      return String.valueOf(won);
    } catch (IllegalStateException alreadyAwaiting) {
      return "IllegalStateException";
    }
  }

  @Operation
  public String dispose() {
    try {
      trigger.dispose();
      return "disposed";
    } catch (IllegalStateException actionAttached) {
      return "IllegalStateException";
    }
  }

  @Operation
  public boolean isSignaled() {
    return trigger.isSignaled();
  }

  @Operation
  public String isInitial() {
    try {
      return String.valueOf(trigger.isInitial());
    } catch (IllegalStateException awaiting) {
      return "IllegalStateException";
    }
  }

  /** The action ran once iff it was attached and the trigger got signalled, else never. */
  @Validate
  public void actionRanOnceIffAttachedAndSignaled() {
    int expected = attached.get() == 1 && trigger.isSignaled() ? 1 : 0;
    if (attached.get() > 1 || actionRuns.get() != expected) {
      throw new IllegalStateException(
          "attached " + attached + " times, action ran " + actionRuns + " times, " + trigger);
    }
  }

  @Test
  void operationsAreLinearizable() {
    new ModelCheckingOptions()
        .iterations(ModelCheck.invocations(30))
        .invocationsPerIteration(50)
        .threads(2)
        .actorsPerThread(3)
        .actorsBefore(1)
        .actorsAfter(1)
        .check(TriggerLinearizabilityLincheckTest.class);
  }
}
