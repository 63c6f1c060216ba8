package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.sched.Schedulers;
import org.picos.std.structured.Bundle;
import org.picos.std.structured.Control;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Event;

/**
 * Attacks on what the std scopes and events promise when the scheduler under them closes: the
 * close reaches fibers in nested scopes, a scope cannot swallow it, a scope does not hide a
 * member the close killed, and a closed fiber offers nothing.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ScopesCloseAdversarialTest {
  private static final Duration DEADLINE = Duration.ofSeconds(20);

  private static List<Supplier<Scheduler>> schedulers() {
    return List.of(Schedulers::fifo, () -> Schedulers.multi(2), Schedulers::threadPerFiber,
        () -> {
          ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "adv-pool");
            t.setDaemon(true);
            return t;
          });
          return org.picos.sched.ExecutorScheduler.builder(pool).onClose(pool::shutdown, null).build();
        });
  }

  // ---------------------------------------------------------------------------------------
  // Defect: fails on the code under review

  /**
   * A member forked with {@code forkOn} onto a scheduler that then closes is killed by that
   * close (it never finishes its work). The join must not report success: the member failed
   * with a SchedulerClosedException that did not come from the caller. Today the close cancels
   * the bundle's token itself (the member's computation), so {@code error} takes the member's
   * failure for "the bundle's own cancellation unwinding" and drops it, and joinAfter returns
   * the body's value as if every member had completed. (A member forked with forkAsPromise,
   * which has a computation of its own, is recorded and fails the join: the two disagree.)
   */
  @Test
  void aMemberKilledByItsSchedulerClosingFailsTheJoin() throws Exception {
    for (boolean parentInFiber : new boolean[] {false, true}) {
      Scheduler members = Schedulers.fifo();
      Scheduler parents = Schedulers.fifo();
      Trigger memberWaiting = Trigger.create();
      AtomicInteger finishedWork = new AtomicInteger();
      java.util.concurrent.Callable<String> scope = () -> Bundle.joinAfter(b -> {
        b.forkOn(members, () -> {
          memberWaiting.signal();
          Computation.create().await(); // its work never completes
          finishedWork.incrementAndGet();
        });
        return "every member completed";
      });
      Computation<String> outcome = parentInFiber ? parents.start(scope) : Computation.create();
      if (!parentInFiber) {
        Thread.ofPlatform().daemon().start(() -> outcome.tryCapture(scope));
      }
      waitUntil(memberWaiting::isSignaled);
      members.close();
      waitUntil(() -> !outcome.isRunning());
      assertEquals(0, finishedWork.get());
      Throwable failure = failureOf(outcome);
      assertInstanceOf(SchedulerClosedException.class, failure,
          (parentInFiber ? "in a fiber" : "on a plain thread") + ": joinAfter "
              + (failure == null ? "returned \"" + outcome.resultNow() + "\"" : "threw " + failure)
              + " although its member was killed by its scheduler's close");
      parents.close();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Promises that hold

  /**
   * A retry loop of timeouts that catches its own Timeouts: when the scheduler closes (during
   * an attempt, between attempts, right after a timeout fired) the loop ends with the close.
   */
  @Test
  void aRetryLoopOfTerminateAfterEndsWhenTheSchedulerCloses() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      for (int round = 0; round < 10; round++) {
        Scheduler s = make.get();
        AtomicInteger attempts = new AtomicInteger();
        Computation<Void> fiber = s.start(() -> {
          for (;;) {
            try {
              Control.terminateAfter(Duration.ofNanos(200_000), () -> {
                attempts.incrementAndGet();
                return Computation.create().await();
              });
            } catch (Control.Timeout retry) {
              // try again
            }
          }
        });
        int before = 3 + round % 5;
        waitUntil(() -> attempts.get() >= before);
        withinDeadline(s + " close", s::close);
        assertInstanceOf(SchedulerClosedException.class, failureOf(fiber), s + " round " + round);
      }
    }
  }

  /**
   * Every fiber of a bundle is in a nested scope of its own (a timeout) when the scheduler
   * closes: the body and each member. The close must reach the bundle ("a scope it is in is
   * cancelled") and the root must end with the SchedulerClosedException, as when the caller is
   * cancelled. Today closing a fiber cancels only its innermost computation: the bundle's token
   * is never cancelled with the close, so each member's SchedulerClosedException is recorded as
   * a member failure and the join throws Control.Errors of them (or, when a first recorded
   * failure terminates the others before they are closed, the single SchedulerClosedException:
   * which one depends on timing). The members here wait in forbidden sections until every one
   * has been closed, which makes the outcome deterministic.
   */
  @Test
  void closingFibersThatAreAllInNestedScopesFailsTheJoinWithTheCloseNotErrors() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      Scheduler s = make.get();
      Computation<Void> leave = Computation.create();
      java.util.Queue<Computation<?>> scopes = new java.util.concurrent.ConcurrentLinkedQueue<>();
      java.util.concurrent.Callable<Object> nested = () -> Control.terminateAfter(Duration.ofHours(1), () -> {
        scopes.add(Fiber.current().computation());
        Fiber.forbid(leave::await);
        Fiber.check();
        return null;
      });
      Computation<Object> root = s.start(() -> Bundle.joinAfter(b -> {
        for (int i = 0; i < 3; i++) {
          b.fork(() -> {
            try {
              nested.call();
            } catch (Exception e) {
              throw Computation.unchecked(e);
            }
          });
        }
        return nested.call();
      }));
      waitUntil(() -> scopes.size() == 4);
      Thread closer = new Thread(s::close);
      closer.start();
      waitUntil(() -> scopes.stream().allMatch(Computation::isCanceled)); // every fiber closed
      leave.tryReturn(null);
      closer.join(DEADLINE.toMillis());
      assertFalse(closer.isAlive(), s + ": close did not return");
      Throwable failure = failureOf(root);
      assertInstanceOf(SchedulerClosedException.class, failure, s + ": the root ended with " + failure);
    }
  }

  /**
   * Fibers deep in scopes (bundle, timeouts inside members, a promise, the body waiting) when the
   * scheduler closes: close returns, and the root ends with the close (alone, or, see above,
   * among the members' copies of it).
   */
  @Test
  void closeReachesEveryFiberInNestedScopes() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      for (int round = 0; round < 10; round++) {
        Scheduler s = make.get();
        AtomicInteger waiting = new AtomicInteger();
        Computation<Object> root = s.start(() -> Bundle.joinAfter(b -> {
          for (int i = 0; i < 3; i++) {
            b.fork(() -> Control.terminateAfter(Duration.ofHours(1), () -> {
              waiting.incrementAndGet();
              return Computation.create().await();
            }));
          }
          b.forkAsPromise(() -> Bundle.joinAfter(inner -> {
            waiting.incrementAndGet();
            return Computation.create().await();
          }));
          waiting.incrementAndGet();
          return Control.terminateAfter(Duration.ofHours(1), () -> Computation.create().await());
        }));
        waitUntil(() -> waiting.get() == 5);
        withinDeadline(s + " close", s::close);
        Throwable failure = failureOf(root);
        if (failure instanceof Control.Errors errors) {
          for (Throwable e : errors.errors()) {
            assertInstanceOf(SchedulerClosedException.class, e, s + " round " + round);
          }
        } else {
          assertInstanceOf(SchedulerClosedException.class, failure, s + " round " + round);
        }
      }
    }
  }

  /**
   * A fiber closed while in a scope that then ended (the close cancelled only the scope's
   * computation): a select it makes afterwards throws the close at once and offers nothing, so
   * the element waiting in the channel stays there.
   */
  @Test
  void aFiberClosedInsideAnEndedScopeSelectsNothing() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      Scheduler s = make.get();
      Channel<String> ch = Channel.bounded(1);
      ch.send("kept");
      Trigger inScope = Trigger.create();
      Trigger leave = Trigger.create();
      AtomicReference<Throwable> selectThrew = new AtomicReference<>();
      Computation<Void> fiber = s.start(() -> {
        try {
          Bundle.joinAfter(b -> Fiber.forbid(() -> {
            inScope.signal();
            return leave.await();
          }));
        } catch (SchedulerClosedException expected) {
          // the join saw the close
        }
        try {
          Event.select(ch.receiveEvent(), Event.after(Duration.ofHours(1)));
        } catch (RuntimeException e) {
          selectThrew.set(e);
          throw e;
        }
        return null;
      });
      waitUntil(inScope::isSignaled);
      Thread closer = new Thread(s::close);
      closer.start();
      waitUntil(s::isClosed);
      leave.signal();
      closer.join(DEADLINE.toMillis());
      assertFalse(closer.isAlive(), s + ": close did not return");
      assertInstanceOf(SchedulerClosedException.class, selectThrew.get(), s.toString());
      assertInstanceOf(SchedulerClosedException.class, failureOf(fiber), s.toString());
      assertEquals(1, ch.size(), s + ": the element stays in the channel");
    }
  }

  // ---------------------------------------------------------------------------------------
  // Helpers

  private static Throwable failureOf(Computation<?> c) {
    try {
      c.await();
      return null;
    } catch (RuntimeException e) {
      return e;
    }
  }

  private static void withinDeadline(String what, Runnable action) throws InterruptedException {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try {
        action.run();
      } catch (Throwable e) {
        failure.set(e);
      }
    }, what);
    t.setDaemon(true);
    t.start();
    t.join(DEADLINE.toMillis());
    assertFalse(t.isAlive(), what + " did not end within " + DEADLINE);
    if (failure.get() != null) {
      throw new AssertionError(what + " failed", failure.get());
    }
  }

  private static void waitUntil(BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("condition not reached within " + DEADLINE);
      }
      Thread.sleep(1);
    }
  }
}
