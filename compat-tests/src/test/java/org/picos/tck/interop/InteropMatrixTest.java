package org.picos.tck.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;

/**
 * The interop matrix: for every ordered pair of hosts (A, B), fibers on A and fibers on B share
 * one computation and cancel each other, and every fiber checks before and after each await that
 * it still runs on its own host.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InteropMatrixTest {

  static Stream<Arguments> pairs() {
    List<Arguments> pairs = new ArrayList<>();
    for (Host a : Hosts.all()) {
      for (Host b : Hosts.all()) {
        pairs.add(Arguments.of(a, b));
      }
    }
    return pairs.stream();
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("pairs")
  void sharedComputationAndCancellationBothWays(Host hostA, Host hostB) {
    try (Host.Running a = hostA.create().get(); Host.Running b = hostB.create().get()) {
      sharedComputation(a, b);
      cancellationFromAToAWaitOnB(a, b);
      timeoutOnATimerCancelsAWaitOnB(a, b);
    }
  }

  /** B completes a computation that fibers on A await. */
  private static void sharedComputation(Host.Running a, Host.Running b) {
    Computation<String> shared = Computation.create();
    List<Computation<String>> waiters = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      waiters.add(a.scheduler().start(() -> {
        a.checkHost();
        String v = shared.await();
        a.checkHost();
        return v;
      }));
    }
    b.scheduler().run(() -> {
      b.checkHost();
      Fiber.yield();
      b.checkHost();
      return shared.tryReturn("from B");
    });
    for (Computation<String> w : waiters) {
      assertEquals("from B", w.await());
    }
  }

  /** A fiber on A cancels a fiber on B that waits; B's fiber sees A's cause on its own host. */
  private static void cancellationFromAToAWaitOnB(Host.Running a, Host.Running b) {
    CancellationException cause = new CancellationException("cancelled from A");
    Trigger waiting = Trigger.create();
    Computation<Throwable> seenOnB = Computation.create();
    Computation<Object> fiberOnB = b.scheduler().start(() -> {
      b.checkHost();
      Throwable c = waiting.await();
      b.checkHost();
      seenOnB.tryReturn(c);
      return null;
    });
    a.scheduler().run(() -> {
      a.checkHost();
      awaitAwaiting(waiting);
      a.checkHost();
      return fiberOnB.tryCancel(cause);
    });
    assertSame(cause, seenOnB.await());
    assertSame(cause, assertThrows(CancellationException.class, fiberOnB::await));
  }

  /** A fiber on A arms A's timer to cancel a fiber waiting on B. */
  private static void timeoutOnATimerCancelsAWaitOnB(Host.Running a, Host.Running b) {
    CancellationException cause = new CancellationException("timed out by A");
    Computation<Object> never = Computation.create();
    Computation<Object> fiberOnB = b.scheduler().start(() -> {
      b.checkHost();
      try {
        return never.await();
      } finally {
        b.checkHost();
      }
    });
    a.scheduler().run(() -> {
      a.checkHost();
      fiberOnB.cancelAfter(Duration.ofMillis(10), cause);
      return null;
    });
    assertSame(cause, assertThrows(CancellationException.class, fiberOnB::await));
  }

  /** Waits (in a fiber, by yielding) until some fiber awaits {@code t}. */
  static void awaitAwaiting(Trigger t) {
    for (;;) {
      try {
        t.isInitial();
      } catch (IllegalStateException awaited) {
        return;
      }
      Fiber.yield();
    }
  }
}
