package org.picos.modelcheck;

import java.util.concurrent.atomic.AtomicBoolean;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.picos.Computation;
import org.picos.Trigger;

/**
 * {@link Computation}'s completion and attach/detach are linearizable: random concurrent
 * scenarios are checked against the computation run sequentially. Trigger states are not
 * observed by operations (completion signals its triggers after the completing CAS, by design);
 * at the end every trigger attached to a completed computation must be signalled.
 */
@Tag("lincheck")
@Param(name = "trigger", gen = IntGen.class, conf = "0:1")
public class ComputationLinearizabilityLincheckTest {
  private static final RuntimeException CAUSE = new RuntimeException("cancelled");

  private final Computation<Integer> computation = Computation.create();
  private final Trigger[] triggers = {Trigger.create(), Trigger.create()};
  private final AtomicBoolean[] attached = {new AtomicBoolean(), new AtomicBoolean()};

  @Operation
  public boolean tryReturn(@Param(gen = IntGen.class, conf = "1:2") int value) {
    return computation.tryReturn(value);
  }

  @Operation
  public boolean tryCancel() {
    return computation.tryCancel(CAUSE);
  }

  @Operation
  public String peek() {
    if (computation.isRunning()) {
      return "running";
    }
    if (computation.isCanceled()) {
      return computation.canceled() == CAUSE ? "cancelled" : "cancelled by " + computation.canceled();
    }
    return "returned " + computation.resultNow();
  }

  @Operation
  public boolean tryAttach(@Param(name = "trigger") int i) {
    boolean ok = computation.tryAttach(triggers[i]);
    if (ok) {
      attached[i].set(true);
    }
    return ok;
  }

  @Operation
  public void detach(@Param(name = "trigger") int i) {
    computation.detach(triggers[i]);
  }

  @Validate
  public void attachedTriggersOfACompletedComputationAreSignalled() {
    if (computation.isRunning()) {
      return;
    }
    for (int i = 0; i < triggers.length; i++) {
      if (attached[i].get() && !triggers[i].isSignaled()) {
        throw new IllegalStateException("trigger " + i + " attached to " + computation + " but not signalled");
      }
    }
  }

  @Test
  void completionAttachAndDetachAreLinearizable() {
    new ModelCheckingOptions()
        .iterations(ModelCheck.invocations(30))
        .invocationsPerIteration(50)
        .threads(2)
        .actorsPerThread(3)
        .actorsBefore(1)
        .actorsAfter(1)
        .check(ComputationLinearizabilityLincheckTest.class);
  }
}
