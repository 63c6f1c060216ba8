package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.io.IOException;
import java.time.Duration;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.structured.Bundle;
import org.picos.std.structured.Control;
import org.picos.std.structured.Flock;
import org.picos.std.structured.Promise;
import org.picos.std.structured.Run;

/** Scopes under cancellation: what the join reports, and that nothing is left behind. */
class StructuredCancellationTest {
  /**
   * A parent cancelled with a checked exception: every member sees it wrapped in a
   * CompletionException of its own; none of those is a failure, and the join throws the
   * parent's cause.
   */
  @ParameterizedTest
  @EnumSource(Env.class)
  void checkedParentCauseIsNotAMemberFailure(Env env) {
    env.exec(() -> {
      IOException cause = new IOException("parent cancelled");
      AtomicInteger started = new AtomicInteger();
      Env.Task<?> flock = Env.fork(() -> Flock.joinAfter(() -> {
        for (int i = 0; i < 3; i++) {
          Flock.fork(() -> {
            started.incrementAndGet();
            Control.block();
          });
        }
        Promise<Integer> promise = Flock.forkAsPromise(() -> {
          started.incrementAndGet();
          return (Integer) (Object) Control.block();
        });
        until("members started", () -> started.get() == 4);
        return promise.await();
      }));
      Env.Task<?> bundle = Env.fork(() -> Bundle.joinAfter(b -> {
        b.fork(() -> {
          started.incrementAndGet();
          Control.block();
        });
        return Control.block();
      }));
      until("members started", () -> started.get() == 5);
      flock.cancel(cause);
      bundle.cancel(cause);
      for (Env.Task<?> scope : List.of(flock, bundle)) {
        CompletionException thrown = assertThrows(CompletionException.class, scope::join);
        assertSame(cause, thrown.getCause(), "the join throws the parent's cause, not " + thrown);
      }
    });
  }

  /**
   * joinAfter and terminateAfter in a fiber whose computation is already cancelled throw its
   * cause at once, without running the body, even with cancellation forbidden.
   */
  @ParameterizedTest
  @EnumSource(Env.class)
  void scopesUnderACancelledComputationDoNotStart(Env env) {
    env.exec(() -> {
      Fiber fiber = Fiber.current();
      AtomicBoolean ran = new AtomicBoolean();
      IllegalStateException unchecked = new IllegalStateException("parent cancelled");
      IOException checked = new IOException("parent cancelled, checked");
      Computation<?> own = fiber.computation();
      for (boolean forbid : new boolean[] {false, true}) {
        for (Throwable cause : List.<Throwable>of(unchecked, checked)) {
          fiber.setComputation(Computation.canceled(cause));
          boolean forbade = fiber.exchangeForbid(forbid);
          try {
            List<Throwable> thrown = List.of(
                assertThrows(RuntimeException.class, () -> Bundle.joinAfter(b -> ran.getAndSet(true))),
                assertThrows(RuntimeException.class, () -> Flock.joinAfter(() -> ran.getAndSet(true))),
                assertThrows(RuntimeException.class,
                    () -> Control.terminateAfter(Duration.ofSeconds(30), () -> ran.getAndSet(true))));
            for (Throwable t : thrown) {
              assertSame(cause, t instanceof CompletionException ? t.getCause() : t, "forbid " + forbid + ": " + t);
            }
          } finally {
            fiber.exchangeForbid(forbade);
            fiber.setComputation(own);
          }
          assertFalse(ran.get(), "no body ran under a cancelled computation");
        }
      }
    });
  }

  /** Scopes in a fiber whose computation has returned refuse to start, with a clear error. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void scopesUnderAReturnedComputationAreRefused(Env env) {
    env.exec(() -> {
      Fiber fiber = Fiber.current();
      AtomicBoolean ran = new AtomicBoolean();
      Computation<?> own = fiber.setComputation(Computation.returned(null));
      try {
        List<IllegalStateException> thrown = List.of(
            assertThrows(IllegalStateException.class, () -> Bundle.joinAfter(b -> ran.getAndSet(true))),
            assertThrows(IllegalStateException.class, () -> Flock.joinAfter(() -> ran.getAndSet(true))),
            assertThrows(IllegalStateException.class,
                () -> Control.terminateAfter(Duration.ofSeconds(30), () -> ran.getAndSet(true))));
        for (IllegalStateException e : thrown) {
          assertTrue(e.getMessage().contains("already returned"), e.getMessage());
        }
      } finally {
        fiber.setComputation(own);
      }
      assertFalse(ran.get());
    });
  }

  /** Whatever ends the body of terminateAfter, its computation completes (disarming the timer). */
  @ParameterizedTest
  @EnumSource(Env.class)
  void terminateAfterCompletesItsComputationHoweverTheBodyEnds(Env env) {
    env.exec(() -> {
      Computation<?> before = Fiber.current().computation();
      Computation<?>[] inner = new Computation<?>[1];
      Error error = new Error("body error");
      assertSame(error, assertThrows(Error.class, () -> Control.terminateAfter(Duration.ofSeconds(30), () -> {
        inner[0] = Fiber.current().computation();
        throw error;
      })));
      assertSame(before, Fiber.current().computation());
      assertSame(error, inner[0].canceled(), "an Error cancels the body's computation");

      IllegalArgumentException failure = new IllegalArgumentException("body failure");
      assertSame(failure, assertThrows(IllegalArgumentException.class,
          () -> Control.terminateAfter(Duration.ofSeconds(30), () -> {
            inner[0] = Fiber.current().computation();
            throw failure;
          })));
      assertSame(failure, inner[0].canceled(), "a failure cancels the body's computation");

      assertEquals(4, Control.terminateAfter(Duration.ofSeconds(30), () -> {
        inner[0] = Fiber.current().computation();
        return 4;
      }));
      assertTrue(inner[0].isReturned());
      assertSame(before, Fiber.current().computation());
    });
  }

  /** An already expired deadline throws the Timeout and never starts the body. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void terminateAfterZeroDoesNotRunTheBody(Env env) {
    env.exec(() -> {
      Computation<?> before = Fiber.current().computation();
      AtomicBoolean ran = new AtomicBoolean();
      assertThrows(Control.Timeout.class, () -> Control.terminateAfter(Duration.ZERO, () -> ran.getAndSet(true)));
      assertFalse(ran.get());
      assertSame(before, Fiber.current().computation());
      Fiber.check();
    });
  }

  /**
   * Run.any whose first action wins before the next one is forked: the fork meets the
   * terminated bundle, which is not a failure; any returns, and no later action runs.
   */
  @ParameterizedTest
  @EnumSource(Env.class)
  void runAnyWonBeforeTheNextForkReturns(Env env) {
    env.exec(() -> {
      AtomicInteger later = new AtomicInteger();
      Run.any(handedOutAfterTermination(1, () -> {}, later::incrementAndGet, later::incrementAndGet));
      assertEquals(0, later.get(), "actions after the winner were skipped");
    });
  }

  /** Run.all skips the last action (run on the calling fiber) once a failure terminated it. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void runSkipsTheLastActionOfATerminatedBundle(Env env) {
    env.exec(() -> {
      IllegalStateException failure = new IllegalStateException("first failed");
      AtomicBoolean lastRan = new AtomicBoolean();
      assertSame(failure, assertThrows(IllegalStateException.class, () -> Run.all(handedOutAfterTermination(1,
          () -> {
            throw failure;
          },
          () -> lastRan.set(true)))));
      assertFalse(lastRan.get(), "the last action of a failed Run.all was skipped");
      Run.any(handedOutAfterTermination(1, () -> {}, () -> lastRan.set(true)));
      assertFalse(lastRan.get(), "the last action of a won Run.any was skipped");
      Run.all(() -> {}, () -> {
        throw new Control.Terminate("the last action stops");
      });
    });
  }

  /** A promise whose child fails holds that failure, not the Terminate of the siblings. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void failedPromiseHoldsItsFailure(Env env) {
    env.exec(() -> {
      ArithmeticException failure = new ArithmeticException("promise failed");
      List<Promise<Integer>> promises = new ArrayList<>();
      assertSame(failure, assertThrows(ArithmeticException.class, () -> Flock.joinAfter(() -> {
        promises.add(Flock.forkAsPromise(() -> {
          throw failure;
        }));
        return null;
      })));
      assertSame(failure, assertThrows(ArithmeticException.class, promises.get(0)::await));
    });
  }

  /**
   * A callback on the scope's token that throws when the scope is terminated: the scope still
   * joins its members and reports its own failure; the callback's failure goes to the
   * uncaught-exception handler.
   */
  @ParameterizedTest
  @EnumSource(Env.class)
  void throwingCallbackOnTheTokenDoesNotBreakTheJoin(Env env) {
    env.exec(() -> {
      IllegalStateException callbackFailure = new IllegalStateException("callback failed");
      ArithmeticException bodyFailure = new ArithmeticException("body failed");
      ConcurrentLinkedQueue<Throwable> reported = new ConcurrentLinkedQueue<>();
      AtomicInteger ended = new AtomicInteger();
      Thread[] thread = new Thread[1];
      Thread.UncaughtExceptionHandler[] saved = new Thread.UncaughtExceptionHandler[1];
      try {
        assertSame(bodyFailure, assertThrows(ArithmeticException.class, () -> Bundle.joinAfter(b -> {
          Fiber.current().computation().whenDone(() -> {
            throw callbackFailure;
          });
          AtomicBoolean started = new AtomicBoolean();
          b.fork(() -> {
            try {
              started.set(true);
              Control.block();
            } finally {
              ended.incrementAndGet();
            }
          });
          until("member started", started::get);
          thread[0] = Thread.currentThread();
          saved[0] = thread[0].getUncaughtExceptionHandler();
          thread[0].setUncaughtExceptionHandler((t, e) -> reported.add(e));
          throw bodyFailure;
        })));
      } finally {
        if (thread[0] != null) {
          thread[0].setUncaughtExceptionHandler(saved[0]);
        }
      }
      assertEquals(1, ended.get(), "the join waited for the member");
      assertEquals(List.of(callbackFailure), List.copyOf(reported));
    });
  }

  /**
   * Actions for Run whose element {@code gated} is handed out only once the calling scope is
   * no longer running: a run loop reaching that element meets a terminated bundle.
   */
  @SafeVarargs
  private static List<Runnable> handedOutAfterTermination(int gated, Runnable... actions) {
    return new AbstractList<>() {
      @Override
      public Runnable get(int index) {
        if (index == gated) {
          awaitScopeEnd();
        }
        return actions[index];
      }

      @Override
      public int size() {
        return actions.length;
      }
    };
  }

  /** Waits, with cancellation forbidden, until the current fiber's computation has completed. */
  private static void awaitScopeEnd() {
    Fiber fiber = Fiber.current();
    Computation<?> scope = fiber.computation();
    boolean forbade = fiber.exchangeForbid(true);
    try {
      until("the scope is terminated", () -> !scope.isRunning());
    } finally {
      fiber.exchangeForbid(forbade);
    }
  }
}
