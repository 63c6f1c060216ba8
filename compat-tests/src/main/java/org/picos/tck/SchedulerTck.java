package org.picos.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.FiberLocal;
import org.picos.spi.Support;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;

/**
 * The Picos compatibility kit: the behaviour every scheduler must have, written once. Subclass it,
 * supply {@link #newScheduler()}, and run it with JUnit 5; each test gets a fresh scheduler and
 * closes it afterwards.
 *
 * <p>The tests follow OCaml Picos' own test suites (see PICOS-SEMANTICS §7): spawn and join, await
 * and signal, cancellation wherever a fiber waits, the cancellation mask, timeouts, yield, fiber-local
 * storage, failure propagation, 100,000 fibers alive at once, no lost wake-ups under stress,
 * closing a scheduler with suspended fibers, and faults injected around a close: completion
 * callbacks, trigger actions and {@link Fiber.ThreadContext} hooks that throw.
 *
 * <p>Bridges whose fibers must stay on a particular thread or context override {@link #checkHost()};
 * the kit calls it inside fibers before and after every kind of suspension.
 *
 * <p>Every test has a generous timeout so that a broken scheduler fails instead of hanging; no test
 * asserts on elapsed time.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
public abstract class SchedulerTck {
  /** The scheduler under test, fresh for each test. */
  protected Scheduler scheduler;

  /** Returns a new scheduler to test; the kit closes it after each test. */
  protected abstract Scheduler newScheduler();

  /**
   * Called inside fibers before and after suspensions: throw (for example with an assertion) if
   * the calling fiber is not running where the scheduler promises (its event loop, its context).
   */
  protected void checkHost() {}

  /**
   * Starts collecting the failures reported to uncaught-exception handlers, for the fault tests;
   * closed by the test. The default installs the JVM's default handler
   * ({@link UncaughtFailures#capture()}); override it for a host that routes such failures
   * elsewhere.
   */
  protected UncaughtFailures captureUncaught() {
    return UncaughtFailures.capture();
  }

  /**
   * Whether failures reported on the scheduler's own threads reach {@link #captureUncaught()}.
   * Answer false for a host whose threads carry an uncaught-exception handler of their own (the
   * threads of Reactor's global schedulers log through theirs): the fault tests then check only
   * that such failures stop nothing.
   */
  protected boolean carrierReportsVisible() {
    return true;
  }

  /** How many fibers the "alive at once" test starts; lower it only with a documented reason. */
  protected int manyFibers() {
    return 100_000;
  }

  @BeforeEach
  void createScheduler() {
    scheduler = newScheduler();
  }

  @AfterEach
  void closeScheduler() {
    assertTimeoutPreemptively(Duration.ofSeconds(30), scheduler::close,
        "close() of " + scheduler + " did not return");
    assertTrue(scheduler.isClosed(), "isClosed() after close()");
  }

  /** Suspends the current fiber until {@code t} is signalled, failing if it was cancelled instead. */
  private void awaitSignal(Trigger t) {
    checkHost();
    Throwable cause = t.await();
    checkHost();
    assertNull(cause, "await returned a cancellation cause for a fiber that was not cancelled");
  }

  // ---------------------------------------------------------------------------------------------
  // run, start, spawn and join

  @Test
  protected void runReturnsTheMainValue() {
    assertEquals("ok", scheduler.run(() -> {
      checkHost();
      return "ok";
    }));
  }

  @Test
  protected void runRethrowsAnUncheckedFailureAsIs() {
    IllegalStateException boom = new IllegalStateException("boom");
    IllegalStateException thrown = assertThrows(IllegalStateException.class,
        () -> scheduler.run(() -> {
          throw boom;
        }));
    assertSame(boom, thrown);
  }

  @Test
  protected void runWrapsACheckedFailureOnce() {
    IOException io = new IOException("disk");
    CompletionException thrown = assertThrows(CompletionException.class,
        () -> scheduler.run(() -> {
          throw io;
        }));
    assertSame(io, thrown.getCause());
  }

  @Test
  protected void startReturnsAtOnceAndTheComputationCompletes() {
    Computation<Void> gate = Computation.create();
    Computation<Integer> c = scheduler.start(() -> {
      gate.await();
      return 7;
    });
    assertTrue(c.isRunning(), "start must not wait for the fiber");
    gate.tryReturn(null);
    assertEquals(7, c.await());
    assertTrue(c.isReturned());
  }

  @Test
  protected void failureOfAFiberCancelsItsComputation() {
    IllegalArgumentException boom = new IllegalArgumentException("child failed");
    Computation<Object> c = scheduler.start(() -> {
      throw boom;
    });
    assertSame(boom, assertThrows(IllegalArgumentException.class, c::await));
    assertTrue(c.isCanceled());
    assertSame(boom, c.canceled());
  }

  @Test
  protected void spawnedChildrenRunAndAreJoined() {
    int sum = scheduler.run(() -> {
      List<Computation<Integer>> children = new ArrayList<>();
      for (int i = 1; i <= 100; i++) {
        int n = i;
        children.add(Fiber.spawn(() -> {
          checkHost();
          Fiber.yield();
          checkHost();
          return n;
        }));
      }
      int total = 0;
      for (Computation<Integer> c : children) {
        total += c.await();
        checkHost();
      }
      return total;
    });
    assertEquals(5050, sum);
  }

  @Test
  protected void currentDiffersBetweenParentAndChild() {
    scheduler.run(() -> {
      Fiber parent = Fiber.current();
      assertSame(parent, Fiber.current(), "current() is stable within a fiber");
      assertTrue(Fiber.inFiber(), "inFiber() inside a scheduler's fiber");
      Fiber child = Fiber.spawn(Fiber::current).await();
      assertNotSame(parent, child);
      return null;
    });
  }

  @Test
  protected void spawnOfARawFiberRunsMainAndReportsItsFailure() {
    scheduler.run(() -> {
      Computation<Void> c = Computation.create();
      IllegalStateException boom = new IllegalStateException("raw main failed");
      Fiber.spawn(Fiber.create(false, c), () -> {
        throw boom;
      });
      assertSame(boom, assertThrows(IllegalStateException.class, c::await));
      return null;
    });
  }

  @Test
  protected void spawnIsAllOrNothingForACancelledParent() {
    CancellationException cause = new CancellationException("parent cancelled");
    AtomicBoolean childRan = new AtomicBoolean();
    run(() -> {
      Fiber.current().computation().tryCancel(cause);
      Computation<Void> childComputation = Computation.create();
      CancellationException thrown = assertThrows(CancellationException.class,
          () -> Fiber.spawn(Fiber.create(false, childComputation), () -> childRan.set(true)));
      assertSame(cause, thrown);
      return null;
    }, cause);
    assertFalse(childRan.get(), "spawn threw, so main must never run");
  }

  @Test
  protected void spawnedMainRunsEvenIfItsComputationIsAlreadyCancelled() {
    scheduler.run(() -> {
      Computation<Void> done = Computation.create();
      Computation<Void> cancelled = Computation.canceled(new CancellationException("pre"));
      Fiber.spawn(Fiber.create(false, cancelled), () -> done.tryReturn(null));
      done.await();
      return null;
    });
  }

  /** Runs {@code body} in a fiber that cancels itself with {@code expected}: run must rethrow it. */
  private void run(java.util.concurrent.Callable<Object> body, CancellationException expected) {
    CancellationException thrown = assertThrows(CancellationException.class, () -> scheduler.run(body));
    assertSame(expected, thrown);
  }

  // ---------------------------------------------------------------------------------------------
  // await and signal

  @Test
  protected void triggerSignalledFromAnotherThreadWakesTheFiber() throws Exception {
    Trigger t = Trigger.create();
    CountDownLatch waiting = new CountDownLatch(1);
    Computation<String> c = scheduler.start(() -> {
      waiting.countDown();
      awaitSignal(t);
      assertTrue(t.isSignaled());
      return "woken";
    });
    assertTrue(waiting.await(30, TimeUnit.SECONDS));
    Thread signaller = new Thread(t::signal);
    signaller.start();
    assertEquals("woken", c.await());
    signaller.join();
  }

  @Test
  protected void triggerSignalledFromAnotherFiberWakesTheFiber() {
    assertEquals("done", scheduler.run(() -> {
      Trigger t = Trigger.create();
      Computation<String> waiter = Fiber.spawn(() -> {
        awaitSignal(t);
        return "done";
      });
      Fiber.yield();
      t.signal();
      return waiter.await();
    }));
  }

  @Test
  protected void awaitOfASignalledTriggerReturnsAtOnce() {
    scheduler.run(() -> {
      Trigger t = Trigger.create();
      t.signal();
      assertNull(t.await());
      assertNull(Trigger.signaled().await());
      return null;
    });
  }

  @Test
  protected void awaitingATriggerTwiceIsAnError() {
    scheduler.run(() -> {
      Trigger t = Trigger.create();
      Computation<Throwable> waiter = Fiber.spawn(t::await);
      awaitSuspendedOn(t);
      IllegalStateException e = assertThrows(IllegalStateException.class, t::await);
      assertTrue(e.getMessage().contains("already awaited"), e.getMessage());
      t.signal();
      assertNull(waiter.await());
      return null;
    });
  }

  @Test
  protected void computationAwaitedByManyFibersWakesThemAll() {
    int woken = scheduler.run(() -> {
      Computation<Integer> shared = Computation.create();
      List<Computation<Integer>> waiters = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        waiters.add(Fiber.spawn(() -> {
          checkHost();
          int v = shared.await();
          checkHost();
          return v;
        }));
      }
      Fiber.yield();
      shared.tryReturn(1);
      int n = 0;
      for (Computation<Integer> w : waiters) {
        n += w.await();
      }
      return n;
    });
    assertEquals(50, woken);
  }

  // ---------------------------------------------------------------------------------------------
  // cancellation

  @Test
  protected void cancellingAFiberWakesItFromATrigger() {
    CancellationException cause = new CancellationException("stop waiting");
    Computation<Throwable> seen = Computation.create();
    Trigger t = Trigger.create();
    Computation<Object> c = scheduler.start(() -> {
      checkHost();
      seen.tryReturn(t.await());
      checkHost();
      return null;
    });
    cancelWhenSuspended(c, t, cause);
    assertSame(cause, assertThrows(CancellationException.class, c::await));
    // Awaiting a cancelled computation does not wait for its fiber: wait for what it saw.
    assertSame(cause, seen.await(), "await must return the fiber's cancellation cause");
  }

  @Test
  protected void cancellingAFiberWakesItFromAComputationAwait() {
    CancellationException cause = new CancellationException("stop");
    Computation<Object> never = Computation.create();
    Trigger started = Trigger.create();
    Computation<Object> c = scheduler.start(() -> {
      started.signal();
      never.await();
      return "not reached";
    });
    started.await();
    assertTrue(c.tryCancel(cause));
    assertSame(cause, assertThrows(CancellationException.class, c::await));
    assertTrue(never.isRunning(), "the awaited computation is not affected");
  }

  @Test
  protected void cancelledAndSignalledFiberSeesTheCause() {
    CancellationException cause = new CancellationException("both");
    Trigger t = Trigger.create();
    Computation<Throwable> seen = Computation.create();
    Computation<Object> c = scheduler.start(() -> {
      seen.tryReturn(t.await());
      return null;
    });
    cancelWhenSuspended(c, t, cause);
    t.signal();
    assertThrows(CancellationException.class, c::await);
    assertSame(cause, seen.await(), "a cancelled fiber sees the cause even if also signalled");
    assertTrue(t.isSignaled());
  }

  @Test
  protected void awaitOfAFreshTriggerInACancelledFiberReturnsTheCauseAtOnce() {
    CancellationException cause = new CancellationException("already");
    run(() -> {
      Fiber.current().computation().tryCancel(cause);
      Trigger t = Trigger.create();
      assertSame(cause, t.await());
      assertTrue(t.isSignaled(), "the trigger is left signalled");
      assertTrue(Fiber.current().isCanceled());
      assertSame(cause, assertThrows(CancellationException.class, Fiber::check));
      assertSame(cause, assertThrows(CancellationException.class, Fiber::yield));
      assertSame(cause, assertThrows(CancellationException.class,
          () -> Computation.create().cancelAfter(Duration.ofSeconds(1), new CancellationException())));
      assertSame(cause, assertThrows(CancellationException.class, () -> Fiber.spawn(() -> 1)));
      return null;
    }, cause);
  }

  @Test
  protected void cancellingASharedComputationStopsAFiberLoopingOnYield() {
    CancellationException cause = new CancellationException("enough");
    AtomicLong rounds = new AtomicLong();
    Computation<Object> c = scheduler.start(() -> {
      for (;;) {
        Fiber.yield();
        rounds.incrementAndGet();
      }
    });
    while (rounds.get() < 10) {
      Thread.onSpinWait();
    }
    c.tryCancel(cause);
    assertSame(cause, assertThrows(CancellationException.class, c::await));
  }

  @Test
  protected void cancelledWaiterDoesNotLoseTheOtherWaiters() {
    scheduler.run(() -> {
      Computation<String> value = Computation.create();
      Computation<String> stays = Fiber.spawn(value::await);
      Computation<String> leaves = Fiber.spawn(value::await);
      Fiber.yield();
      leaves.tryCancel(new CancellationException("leave"));
      assertThrows(CancellationException.class, leaves::await);
      value.tryReturn("v");
      assertEquals("v", stays.await());
      return null;
    });
  }

  /**
   * Waits (yielding in a fiber, spinning on a thread) until some fiber awaits {@code t}: the
   * scheduler has attached its resume action, so the trigger is no longer initial.
   */
  protected static void awaitSuspendedOn(Trigger t) {
    for (;;) {
      try {
        if (!t.isInitial()) {
          return; // already signalled
        }
      } catch (IllegalStateException awaiting) {
        return;
      }
      if (Fiber.inFiber()) {
        Fiber.yield();
      } else {
        Thread.onSpinWait();
      }
    }
  }

  /** Cancels {@code c} once its fiber is suspended on {@code t}. */
  private static void cancelWhenSuspended(Computation<?> c, Trigger t, Throwable cause) {
    awaitSuspendedOn(t);
    assertTrue(c.tryCancel(cause));
  }

  // ---------------------------------------------------------------------------------------------
  // forbid / permit

  @Test
  protected void forbidDelaysCancellationUntilPermitted() {
    CancellationException cause = new CancellationException("later");
    run(() -> {
      Fiber self = Fiber.current();
      Fiber.forbid(() -> {
        assertTrue(self.hasForbidden());
        self.computation().tryCancel(cause);
        assertFalse(self.isCanceled(), "not delivered while forbidden");
        assertTrue(self.computation().isCanceled(), "but the computation is cancelled");
        Fiber.check();
        Fiber.yield();
        Trigger t = Trigger.create();
        Computation<Void> signaller = Computation.create();
        // A forbidden await returns only on signal, with null.
        Fiber.spawn(Fiber.create(true, signaller), () -> {
          Fiber.yield();
          t.signal();
        });
        assertNull(t.await());
        Fiber.permit(() -> {
          assertSame(cause, assertThrows(CancellationException.class, Fiber::check));
          return null;
        });
        Fiber.forbid(() -> null); // nested forbid is a no-op
        assertTrue(self.hasForbidden());
        return null;
      });
      assertFalse(self.hasForbidden());
      Fiber.check();
      fail("check must throw once cancellation is permitted again");
      return null;
    }, cause);
  }

  @Test
  protected void forbidRestoresTheMaskWhenTheBodyThrows() {
    scheduler.run(() -> {
      assertThrows(IllegalStateException.class, () -> Fiber.forbid(() -> {
        throw new IllegalStateException("inside");
      }));
      assertFalse(Fiber.current().hasForbidden());
      return null;
    });
  }

  @Test
  protected void fiberCreatedForbiddenIsNotWokenByCancellation() {
    scheduler.run(() -> {
      Computation<Void> c = Computation.create();
      Trigger t = Trigger.create();
      AtomicReference<Throwable> seen = new AtomicReference<>(new Throwable("unset"));
      Computation<Void> ended = Computation.create();
      Fiber.spawn(Fiber.create(true, c), () -> {
        seen.set(t.await());
        ended.tryReturn(null);
      });
      Fiber.yield();
      c.tryCancel(new CancellationException("ignored while forbidden"));
      Fiber.yield();
      assertTrue(ended.isRunning(), "a forbidden fiber waits for the signal");
      t.signal();
      ended.await();
      assertNull(seen.get());
      return null;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // cancelAfter

  @Test
  protected void cancelAfterCancelsAWaitingFiberWithTheCause() {
    CancellationException cause = new CancellationException("timed out");
    run(() -> {
      checkHost();
      Fiber.current().computation().cancelAfter(Duration.ofMillis(10), cause);
      Trigger.create().await();
      checkHost();
      Fiber.check();
      return null;
    }, cause);
  }

  @Test
  protected void cancelAfterStopsAYieldingFiber() {
    CancellationException cause = new CancellationException("yield timeout");
    run(() -> {
      Fiber.current().computation().cancelAfter(Duration.ofMillis(10), cause);
      for (;;) {
        Fiber.yield();
      }
    }, cause);
  }

  @Test
  protected void completingFirstDisarmsTheTimer() {
    scheduler.run(() -> {
      Computation<String> c = Computation.create();
      c.cancelAfter(Duration.ofSeconds(10), new CancellationException("too late"));
      assertTrue(c.tryReturn("first"));
      Computation<Void> pause = Computation.create();
      pause.cancelAfter(Duration.ofMillis(20), new CancellationException("pause"));
      Fiber.forbid(() -> {
        try {
          pause.await();
        } catch (CancellationException expected) {
          // the pause is over
        }
        return null;
      });
      assertEquals("first", c.await());
      return null;
    });
  }

  @Test
  protected void cancelAfterRejectsBadDelays() {
    scheduler.run(() -> {
      Computation<Void> c = Computation.create();
      CancellationException cause = new CancellationException();
      IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
          () -> c.cancelAfter(Duration.ofMillis(-1), cause));
      assertTrue(negative.getMessage().contains("negative"), negative.getMessage());
      IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
          () -> c.cancelAfter(Duration.ofSeconds(Long.MAX_VALUE), cause));
      assertTrue(huge.getMessage().contains("nanoseconds"), huge.getMessage());
      assertThrows(NullPointerException.class, () -> c.cancelAfter(null, cause));
      assertThrows(NullPointerException.class, () -> c.cancelAfter(Duration.ZERO, null));
      // As in Picos, 10e10 seconds either works or is refused with IllegalArgumentException;
      // a century fits in a long of nanoseconds and must be accepted.
      try {
        c.cancelAfter(Duration.ofSeconds(100_000_000_000L), cause);
      } catch (IllegalArgumentException refused) {
        assertTrue(refused.getMessage().contains("nanoseconds"), refused.getMessage());
      }
      c.cancelAfter(Duration.ofDays(36_500), cause);
      c.tryReturn(null);
      return null;
    });
  }

  @Test
  protected void cancelAfterZeroCancelsPromptly() {
    CancellationException cause = new CancellationException("zero");
    Computation<Void> c = Computation.create();
    scheduler.run(() -> {
      c.cancelAfter(Duration.ZERO, cause);
      return null;
    });
    assertSame(cause, assertThrows(CancellationException.class, c::await));
  }

  // ---------------------------------------------------------------------------------------------
  // yield and fairness

  @Test
  protected void yieldingFibersAllMakeProgress() {
    int fibers = 100;
    int rounds = 100;
    long[] finishedAt = new long[fibers];
    AtomicLong clock = new AtomicLong();
    scheduler.run(() -> {
      List<Computation<Object>> all = new ArrayList<>();
      for (int i = 0; i < fibers; i++) {
        int me = i;
        all.add(Fiber.spawn(() -> {
          for (int r = 0; r < rounds; r++) {
            checkHost();
            Fiber.yield();
          }
          finishedAt[me] = clock.incrementAndGet();
          return null;
        }));
      }
      for (Computation<Object> c : all) {
        c.await();
      }
      return null;
    });
    // Fairness is reported, not asserted (as in Picos): order of completion statistics.
    double mean = Arrays.stream(finishedAt).average().orElse(0);
    double sd = Math.sqrt(Arrays.stream(finishedAt).mapToDouble(x -> (x - mean) * (x - mean)).sum() / fibers);
    System.out.printf("%s yield fairness: %d fibers x %d yields, completion order mean %.1f sd %.1f%n",
        scheduler, fibers, rounds, mean, sd);
    assertEquals(fibers, clock.get());
  }

  // ---------------------------------------------------------------------------------------------
  // fiber-local storage

  @Test
  protected void fiberLocalsAreIsolatedAndSurviveSuspension() {
    FiberLocal<String> name = FiberLocal.withInitial(() -> "unset");
    scheduler.run(() -> {
      name.set("parent");
      Computation<String> child = Fiber.spawn(() -> {
        String initial = name.get();
        name.set("child");
        Fiber.yield();
        return initial + "/" + name.get();
      });
      assertEquals("unset/child", child.await(), "a new fiber starts with every local unset");
      Fiber.yield();
      assertEquals("parent", name.get());
      name.remove();
      assertEquals("unset", name.get());
      return null;
    });
  }

  @Test
  protected void fiberLocalCanBeSetBeforeSpawn() {
    FiberLocal<Integer> slot = FiberLocal.create();
    assertEquals(42, scheduler.run(() -> {
      Computation<Integer> c = Computation.create();
      Fiber child = Fiber.create(false, c);
      slot.set(child, 42);
      Fiber.spawn(child, () -> c.tryReturn(slot.get()));
      assertNull(slot.get(), "the parent's own slot is untouched");
      return c.await();
    }));
  }

  @Test
  protected void manyFiberLocalsInManyFibersDoNotMix() {
    List<FiberLocal<Integer>> locals = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      locals.add(FiberLocal.create());
    }
    scheduler.run(() -> {
      List<Computation<Boolean>> fibers = new ArrayList<>();
      for (int f = 0; f < 50; f++) {
        int me = f;
        fibers.add(Fiber.spawn(() -> {
          for (int i = 0; i < locals.size(); i++) {
            locals.get(i).set(me * 1000 + i);
          }
          Fiber.yield();
          for (int i = 0; i < locals.size(); i++) {
            if (locals.get(i).get() != me * 1000 + i) {
              return false;
            }
          }
          return true;
        }));
      }
      for (Computation<Boolean> c : fibers) {
        assertTrue(c.await());
      }
      return null;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // scale and stress

  @Test
  protected void manyFibersAliveAtOnce() {
    int n = manyFibers();
    AtomicInteger suspended = new AtomicInteger();
    AtomicInteger finished = new AtomicInteger();
    scheduler.run(() -> {
      Computation<Void> release = Computation.create();
      Computation<Void> all = Computation.create();
      for (int i = 0; i < n; i++) {
        Fiber.spawn(Fiber.create(false, Computation.create()), () -> {
          suspended.incrementAndGet();
          release.await();
          if (finished.incrementAndGet() == n) {
            all.tryReturn(null);
          }
        });
      }
      while (suspended.get() < n) {
        Fiber.yield();
      }
      assertEquals(0, finished.get(), "all fibers are alive and waiting at once");
      release.tryReturn(null);
      all.await();
      return null;
    });
    assertEquals(n, finished.get());
  }

  @Test
  protected void noLostWakeUpsBetweenTwoFibers() {
    int rounds = 10_000;
    scheduler.run(() -> {
      Trigger[] ping = {Trigger.create()};
      Trigger[] pong = {Trigger.create()};
      Computation<Integer> other = Fiber.spawn(() -> {
        for (int i = 0; i < rounds; i++) {
          awaitSignal(ping[0]);
          ping[0] = Trigger.create();
          Trigger p = pong[0];
          p.signal();
        }
        return rounds;
      });
      for (int i = 0; i < rounds; i++) {
        Trigger t = pong[0];
        ping[0].signal();
        awaitSignal(t);
        pong[0] = Trigger.create();
      }
      assertEquals(rounds, other.await());
      return null;
    });
  }

  @Test
  protected void noLostWakeUpsAcrossThreads() throws Exception {
    int rounds = 10_000;
    Computation<?>[] box = new Computation<?>[rounds];
    for (int i = 0; i < rounds; i++) {
      box[i] = Computation.create();
    }
    AtomicInteger received = new AtomicInteger();
    Computation<Object> fiber = scheduler.start(() -> {
      for (int i = 0; i < rounds; i++) {
        box[i].await();
        received.incrementAndGet();
      }
      return null;
    });
    Thread producer = new Thread(() -> {
      for (int i = 0; i < rounds; i++) {
        @SuppressWarnings("unchecked")
        Computation<Object> c = (Computation<Object>) box[i];
        c.tryReturn(i);
        if ((i & 63) == 0) {
          Thread.yield();
        }
      }
    });
    producer.start();
    fiber.await();
    producer.join();
    assertEquals(rounds, received.get());
  }

  /**
   * Hot loops get compiled with the fiber operations inlined; a fiber that moves between carriers
   * must still find itself after every suspension (the JIT must not reuse a carrier read before it).
   */
  @Test
  protected void fiberIdentitySurvivesHotLoopsAcrossSuspensions() {
    int fibers = 4;
    int rounds = 100_000;
    scheduler.run(() -> {
      List<Computation<Integer>> all = new ArrayList<>();
      for (int i = 0; i < fibers; i++) {
        all.add(Fiber.spawn(() -> {
          Fiber self = Fiber.current();
          int lost = 0;
          for (int r = 0; r < rounds; r++) {
            Fiber.yield();
            if (Fiber.current() != self) {
              lost++;
            }
          }
          return lost;
        }));
      }
      for (Computation<Integer> c : all) {
        assertEquals(0, c.await(), "Fiber.current() returned another fiber after a yield");
      }
      return null;
    });
  }

  @Test
  protected void cancellationStormLeavesNoFiberBehind() {
    int fibers = 2_000;
    AtomicInteger ended = new AtomicInteger();
    Computation<Void> allEnded = Computation.create();
    scheduler.run(() -> {
      List<Computation<Object>> all = new ArrayList<>();
      Computation<Object> never = Computation.create();
      for (int i = 0; i < fibers; i++) {
        int kind = i % 3;
        all.add(Fiber.spawn(() -> {
          try {
            switch (kind) {
              case 0 -> never.await();
              case 1 -> Trigger.create().await();
              default -> {
                for (;;) {
                  Fiber.yield();
                }
              }
            }
            Fiber.check();
            return null;
          } finally {
            if (ended.incrementAndGet() == fibers) {
              allEnded.tryReturn(null);
            }
          }
        }));
      }
      Fiber.yield();
      CancellationException cause = new CancellationException("storm");
      for (int i = all.size() - 1; i >= 0; i--) {
        all.get(i).tryCancel(cause);
      }
      for (Computation<Object> c : all) {
        assertSame(cause, assertThrows(CancellationException.class, c::await));
      }
      allEnded.await(); // awaiting a cancelled computation does not wait for its fiber to end
      return null;
    });
    assertEquals(fibers, ended.get());
  }

  // ---------------------------------------------------------------------------------------------
  // closing

  @Test
  protected void closeCancelsSuspendedFibersWithACauseNamingTheShutdown() {
    List<Computation<Object>> waiting = new ArrayList<>();
    AtomicInteger started = new AtomicInteger();
    for (int i = 0; i < 20; i++) {
      waiting.add(scheduler.start(() -> {
        started.incrementAndGet();
        return Computation.create().await();
      }));
    }
    while (started.get() < 20) {
      Thread.onSpinWait();
    }
    scheduler.close();
    for (Computation<Object> c : waiting) {
      SchedulerClosedException e = assertThrows(SchedulerClosedException.class, c::await);
      assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }
  }

  @Test
  protected void startOnAClosedSchedulerFailsClearly() {
    scheduler.close();
    SchedulerClosedException e = assertThrows(SchedulerClosedException.class,
        () -> scheduler.start(() -> 1));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
    scheduler.close(); // idempotent
  }

  @Test
  protected void nullArgumentsAreRejected() {
    assertThrows(NullPointerException.class, () -> scheduler.start(null));
    scheduler.run(() -> {
      assertThrows(NullPointerException.class, () -> Fiber.spawn(null));
      assertThrows(NullPointerException.class, () -> Fiber.spawn(null, () -> {}));
      assertThrows(NullPointerException.class, () -> Computation.create().tryAttach(null));
      assertThrows(NullPointerException.class, () -> Computation.create().tryCancel(null));
      return null;
    });
  }

  @Test
  protected void awaitFromAPlainThreadWaitsForAFiber() {
    Computation<String> c = Computation.create();
    scheduler.start(() -> {
      Fiber.yield();
      c.tryReturn("from fiber");
      return null;
    });
    assertEquals("from fiber", c.await());
  }

  @Test
  protected void runCalledFromAFiberSuspendsInsteadOfBlocking() {
    assertEquals(3, scheduler.run(() -> {
      Scheduler self = scheduler;
      return self.run(() -> 1) + self.run(() -> 2);
    }));
  }

  @Test
  protected void checkedCancellationCausesAreWrappedOnce() {
    Exception cause = new Exception("checked cause");
    Trigger t = Trigger.create();
    Computation<Object> c = scheduler.start(t::await);
    cancelWhenSuspended(c, t, cause);
    CompletionException e = assertThrows(CompletionException.class, c::await);
    assertSame(cause, e.getCause());
    assertInstanceOf(Exception.class, c.canceled());
  }

  // ---------------------------------------------------------------------------------------------
  // faults around a close

  /** Fails unless {@code n} fibers have ended within the kit's bound. */
  private static void awaitEnded(AtomicInteger ended, int n) {
    long deadline = System.nanoTime() + ShutdownScenario.BOUND.toNanos();
    while (ended.get() < n) {
      if (System.nanoTime() > deadline) {
        fail(ended.get() + " of " + n + " fibers ended within " + ShutdownScenario.BOUND);
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        throw new AssertionError("interrupted", e);
      }
    }
  }

  /**
   * Fibers suspended when the scheduler closes, whose computations carry completion callbacks
   * and trigger actions that throw (half of them wait with a narrower computation of their own,
   * as a scope gives them, carrying the throwing action): close still returns, every fiber ends
   * exactly once with the close's cancellation, and each failure is reported to an
   * uncaught-exception handler exactly once.
   */
  @Test
  protected void throwingCallbacksAndTriggerActionsDoNotStopClose() throws Exception {
    int n = 6;
    AtomicInteger ended = new AtomicInteger();
    List<Computation<Object>> fibers = new ArrayList<>();
    List<Trigger> waits = new ArrayList<>();
    List<String> sites = new ArrayList<>();
    try (UncaughtFailures uncaught = captureUncaught()) {
      for (int i = 0; i < n; i++) {
        boolean scoped = i % 2 == 1;
        Computation<Object> c = Computation.create();
        Computation<Void> scope = Computation.create();
        String site = (scoped ? "trigger action on the scope of fiber " : "completion callback of fiber ") + i;
        sites.add(site);
        if (scoped) {
          assertFalse(scope.whenDone(() -> {
            throw new InjectedFailure(site);
          }).isSignaled(), "attached to the running scope");
        } else {
          c.whenDone(() -> {
            throw new InjectedFailure(site);
          });
        }
        Trigger wait = Trigger.create();
        waits.add(wait);
        fibers.add(c);
        scheduler.spawn(Fiber.create(false, c), Support.capturing(c, () -> {
          try {
            checkHost();
            if (scoped) {
              Fiber.current().setComputation(scope);
            }
            Throwable cause = wait.await();
            checkHost();
            if (cause == null) {
              throw new AssertionError("woken without a cause");
            }
            throw Computation.unchecked(cause);
          } finally {
            ended.incrementAndGet();
          }
        }));
      }
      for (Trigger t : waits) {
        awaitSuspendedOn(t);
      }
      ShutdownScenario.withinBound("close() of " + scheduler, ShutdownScenario.BOUND, scheduler::close);
      for (Computation<Object> c : fibers) {
        SchedulerClosedException e = assertThrows(SchedulerClosedException.class, c::await);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
      }
      awaitEnded(ended, n);
      assertTrue(uncaught.awaitReports(r -> r.failure() instanceof InjectedFailure f && sites.contains(f.site()),
          n, ShutdownScenario.BOUND), "every injected failure is reported: " + uncaught.reports());
      List<String> reported = new ArrayList<>(uncaught.injectedSites());
      reported.retainAll(sites);
      java.util.Collections.sort(reported);
      java.util.Collections.sort(sites);
      assertEquals(sites, reported, "each injected failure is reported exactly once");
      ShutdownScenario.withinBound("a second close() of " + scheduler, ShutdownScenario.BOUND, scheduler::close);
      assertEquals(n, ended.get(), "no fiber ended twice");
    }
  }

  /**
   * A fiber that returns, whose computation has a completion callback that throws: the fiber's
   * value stands, the failure goes to the uncaught-exception handler of the thread that ran the
   * fiber, and that thread goes on running fibers.
   */
  @Test
  protected void aThrowingCallbackOfAReturningFiberIsReportedAndTheCarrierGoesOn() throws Exception {
    int n = 4;
    try (UncaughtFailures uncaught = captureUncaught()) {
      List<Computation<Integer>> fibers = new ArrayList<>();
      List<Trigger> gos = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int value = i;
        Computation<Integer> c = Computation.create();
        String site = "completion callback of returning fiber " + i;
        c.whenDone(() -> {
          throw new InjectedFailure(site);
        });
        Trigger go = Trigger.create();
        gos.add(go);
        fibers.add(c);
        scheduler.spawn(Fiber.create(false, c), Support.capturing(c, () -> {
          awaitSignal(go);
          return value;
        }));
      }
      for (Trigger go : gos) {
        awaitSuspendedOn(go);
        go.signal();
      }
      for (int i = 0; i < n; i++) {
        assertEquals(i, fibers.get(i).await(), "the fiber's value stands");
      }
      if (carrierReportsVisible()) {
        java.util.function.Predicate<String> mine = site -> site.startsWith("completion callback of returning fiber ");
        assertTrue(uncaught.awaitReports(r -> r.failure() instanceof InjectedFailure f && mine.test(f.site()),
            n, ShutdownScenario.BOUND), "every callback failure is reported: " + uncaught.reports());
        assertEquals(n, uncaught.injectedSites().stream().filter(mine).distinct().count(),
            "each callback failure is reported: " + uncaught.reports());
        assertEquals(n, uncaught.injectedSites().stream().filter(mine).count(),
            "each callback failure is reported once: " + uncaught.reports());
      }
      for (int round = 0; round < 3; round++) {
        assertEquals("after", scheduler.run(() -> {
          checkHost();
          Fiber.yield();
          checkHost();
          return "after";
        }), "the scheduler goes on running fibers");
      }
    }
  }

  /**
   * A registered {@link Fiber.ThreadContext} whose capture and restore throw: the failures are
   * reported, the other contexts still travel with their fibers, fibers keep running, and a
   * close with suspended fibers still ends them all and returns.
   */
  @Test
  protected void throwingThreadContextHooksStopNothing() throws Exception {
    Fiber.ThreadContext<Object> broken = new Fiber.ThreadContext<>() {
      @Override
      public Object capture() {
        throw new InjectedFailure("ThreadContext.capture");
      }

      @Override
      public void restore(Object state) {
        throw new InjectedFailure("ThreadContext.restore");
      }
    };
    ThreadLocal<String> local = new ThreadLocal<>();
    Fiber.ThreadContext<String> good = new Fiber.ThreadContext<>() {
      @Override
      public String capture() {
        return local.get();
      }

      @Override
      public void restore(String state) {
        local.set(state);
      }
    };
    Fiber.registerThreadContext(broken);
    Fiber.registerThreadContext(good);
    try (UncaughtFailures uncaught = captureUncaught()) {
      local.set("travels");
      Trigger resume = Trigger.create();
      Computation<String> carried = scheduler.start(() -> {
        awaitSignal(resume);
        return local.get();
      });
      local.remove();
      awaitSuspendedOn(resume);
      resume.signal();
      assertEquals("travels", carried.await(), "the other context still travels with the fiber");
      assertEquals("after", scheduler.run(() -> "after"), "fibers keep running");

      int n = 4;
      AtomicInteger ended = new AtomicInteger();
      List<Computation<Object>> waiting = new ArrayList<>();
      List<Trigger> waits = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Trigger t = Trigger.create();
        waits.add(t);
        waiting.add(scheduler.start(() -> {
          try {
            Throwable cause = t.await();
            if (cause == null) {
              throw new AssertionError("woken without a cause");
            }
            throw Computation.unchecked(cause);
          } finally {
            ended.incrementAndGet();
          }
        }));
      }
      for (Trigger t : waits) {
        awaitSuspendedOn(t);
      }
      ShutdownScenario.withinBound("close() of " + scheduler, ShutdownScenario.BOUND, scheduler::close);
      for (Computation<Object> c : waiting) {
        assertThrows(SchedulerClosedException.class, c::await);
      }
      awaitEnded(ended, n);
      assertTrue(uncaught.injectedSites().contains("ThreadContext.capture"),
          "a failing capture at spawn is reported: " + uncaught.reports());
      if (carrierReportsVisible()) {
        assertTrue(uncaught.awaitReports(r -> r.failure() instanceof InjectedFailure f
                && f.site().equals("ThreadContext.restore"), 1, ShutdownScenario.BOUND),
            "a failing restore on a carrier is reported: " + uncaught.reports());
      }
    } finally {
      local.remove();
      Fiber.unregisterThreadContext(broken);
      Fiber.unregisterThreadContext(good);
    }
  }
}
