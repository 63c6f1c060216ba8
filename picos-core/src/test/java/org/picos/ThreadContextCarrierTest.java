package org.picos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.sched.Schedulers;

/**
 * {@link Fiber.ThreadContext#restoreCarrier}: the carrier's state is given back through it, once
 * per slice, so a context that keeps a stack of scopes on each thread stays balanced.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ThreadContextCarrierTest {

  /**
   * A stack of scopes per thread, like Micrometer Observation's: {@code restore} opens a scope
   * holding the state on top of the current one; {@code restoreCarrier} closes the top scope,
   * which must sit right on the carrier's own.
   */
  static final class Scopes implements Fiber.ThreadContext<String> {
    final ThreadLocal<ArrayDeque<String>> stack = ThreadLocal.withInitial(ArrayDeque::new);
    final List<String> mismatches = new ArrayList<>();

    @Override
    public String capture() {
      return stack.get().peek();
    }

    @Override
    public void restore(String state) {
      stack.get().push(state == null ? "none" : state);
    }

    @Override
    public void restoreCarrier(String carrierState) {
      ArrayDeque<String> s = stack.get();
      s.pop();
      String below = s.peek();
      if (!String.valueOf(carrierState).equals(String.valueOf(below))) {
        synchronized (mismatches) {
          mismatches.add("expected the carrier's " + carrierState + " under the fiber's scope, found " + below);
        }
      }
    }
  }

  @Test
  void everySliceOpensOneScopeAndClosesItOnTheCarrier() throws Exception {
    Scopes scopes = new Scopes();
    ExecutorService carrier = Executors.newSingleThreadExecutor();
    try (Scheduler s = Schedulers.onExecutor(carrier)) {
      carrier.submit(() -> scopes.stack.get().push("carrier")).get();
      scopes.stack.get().push("caller");
      Computation<List<String>> fiber = Fiber.withThreadContext(scopes, () -> s.start(() -> {
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
          seen.add(scopes.capture());
          Fiber.yield();
        }
        return seen;
      }));
      List<String> seen = fiber.await();
      assertEquals(50, seen.size());
      for (String each : seen) {
        assertEquals("caller", each, "the fiber sees the state it was spawned with");
      }
      String[] after = carrier.submit(() -> {
        ArrayDeque<String> st = scopes.stack.get();
        return new String[] {String.valueOf(st.size()), st.peek()};
      }).get();
      assertEquals("1", after[0], "the carrier's stack is back to its own scope after 50 slices");
      assertSame("carrier", after[1]);
      assertEquals(List.of(), scopes.mismatches);
    } finally {
      carrier.shutdownNow();
    }
  }
}
