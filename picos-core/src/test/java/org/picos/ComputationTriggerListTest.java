package org.picos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The trigger list of a running computation: popping the newest entry, lazy removal, order. */
class ComputationTriggerListTest {
  @Test
  void detachingTheNewestTriggerRemovesItAtOnce() {
    Computation<Void> c = Computation.create();
    Trigger older = Trigger.create();
    Trigger newer = Trigger.create();
    assertTrue(c.tryAttach(older));
    assertTrue(c.tryAttach(newer));
    c.detach(newer);
    assertEquals(1, c.triggerEntries());
    c.detach(older);
    assertEquals(0, c.triggerEntries());
    assertTrue(newer.isSignaled() && older.isSignaled());
  }

  @Test
  void attachThenDetachOneMillionTimesKeepsTheListEmpty() {
    Computation<Void> c = Computation.create();
    for (int i = 0; i < 1_000_000; i++) {
      Trigger t = Trigger.create();
      c.tryAttach(t);
      c.detach(t);
    }
    assertEquals(0, c.triggerEntries());
  }

  @Test
  void interleavedDetachesStayBoundedAndKeepLiveTriggers() {
    Computation<Void> c = Computation.create();
    Trigger live = Trigger.create();
    c.tryAttach(live);
    for (int i = 0; i < 100_000; i++) {
      Trigger first = Trigger.create();
      Trigger second = Trigger.create();
      c.tryAttach(first);
      c.tryAttach(second);
      c.detach(first);
      c.detach(second);
    }
    assertTrue(c.triggerEntries() <= 4, "entries: " + c.triggerEntries());
    List<String> signaled = new ArrayList<>();
    c.tryAttach(Trigger.fromAction(() -> signaled.add("second")));
    c.tryReturn(null);
    assertTrue(live.isSignaled());
    assertEquals(List.of("second"), signaled);
  }

  @Test
  void completionSignalsInAttachOrderAfterPopsAndCollections() {
    Computation<Void> c = Computation.create();
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      int n = i;
      c.tryAttach(Trigger.fromAction(() -> order.add(n)));
      Trigger dead = Trigger.create();
      c.tryAttach(dead);
      if (i % 2 == 0) {
        c.detach(dead);
      } else {
        dead.signal();
        c.detach(Trigger.create());
      }
    }
    c.tryReturn(null);
    assertEquals(List.of(0, 1, 2, 3, 4), order);
  }

  @Test
  void lifoSignalsNewestFirst() {
    Computation<Void> c = Computation.create(Computation.Mode.LIFO);
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      int n = i;
      c.tryAttach(Trigger.fromAction(() -> order.add(n)));
      Trigger popped = Trigger.create();
      c.tryAttach(popped);
      c.detach(popped);
    }
    c.tryReturn(null);
    assertEquals(List.of(2, 1, 0), order);
  }
}
