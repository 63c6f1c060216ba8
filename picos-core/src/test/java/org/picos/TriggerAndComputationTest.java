package org.picos;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The Trigger and Computation state machines, on plain threads (no scheduler involved). */
class TriggerAndComputationTest {

  @Test
  void triggerStates() {
    Trigger t = Trigger.create();
    assertTrue(t.isInitial());
    assertFalse(t.isSignaled());
    AtomicInteger runs = new AtomicInteger();
    assertTrue(t.onSignal(runs::incrementAndGet));
    IllegalStateException awaiting = assertThrows(IllegalStateException.class, t::isInitial);
    assertTrue(awaiting.getMessage().contains("already awaited"));
    assertThrows(IllegalStateException.class, () -> t.onSignal(() -> {}));
    assertThrows(IllegalStateException.class, t::dispose);
    assertThrows(IllegalStateException.class, t::await);
    t.signal();
    t.signal();
    assertEquals(1, runs.get());
    assertTrue(t.isSignaled());
    assertFalse(t.isInitial());
    assertFalse(t.onSignal(() -> fail("never runs")));
    t.dispose();
    assertNull(t.await());
  }

  @Test
  void disposeMovesAnInitialTriggerToSignaledWithoutAction() {
    Trigger t = Trigger.create();
    t.dispose();
    assertTrue(t.isSignaled());
    assertTrue(Trigger.signaled().isSignaled());
    assertThrows(NullPointerException.class, () -> Trigger.fromAction(null));
    assertThrows(NullPointerException.class, () -> Trigger.create().onSignal(null));
  }

  /** Picos' trigger contract: 2 signals and 2 onSignals racing; the action runs iff one won. */
  @RepeatedTest(200)
  void triggerContractUnderRaces() throws Exception {
    Trigger t = Trigger.create();
    AtomicInteger actions = new AtomicInteger();
    AtomicInteger won = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    CyclicBarrier start = new CyclicBarrier(4);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      threads.add(new Thread(() -> {
        await(start);
        t.signal();
      }));
      threads.add(new Thread(() -> {
        await(start);
        try {
          if (t.onSignal(actions::incrementAndGet)) {
            won.incrementAndGet();
          }
        } catch (IllegalStateException alreadyAwaiting) {
          refused.incrementAndGet();
        }
      }));
    }
    threads.forEach(Thread::start);
    for (Thread th : threads) {
      th.join();
    }
    assertTrue(won.get() <= 1);
    assertEquals(won.get(), actions.get(), "the action runs exactly once iff an onSignal won");
    if (refused.get() == 1) {
      assertEquals(1, won.get(), "'already awaiting' only when the other onSignal won");
    }
    assertTrue(t.isSignaled());
  }

  private static void await(CyclicBarrier b) {
    try {
      b.await();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /**
   * The clean-up contract of awaitOrAbandon and awaitOrWithdraw, on a real fiber cancelled while
   * it waits: the action runs only when the wait ends without the signal; a withdraw that lost
   * the race to a signaller keeps what was handed over; a failing action is suppressed into the
   * cause, never thrown instead of it; a refused wait (a pinned fiber) runs the action too.
   */
  @Test
  @org.junit.jupiter.api.Timeout(value = 30, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
  void awaitOrAbandonAndAwaitOrWithdrawCleanUpOnlyWhenTheWaitEndsWithoutTheSignal() {
    RuntimeException cause = new IllegalArgumentException("cancelled");
    try (Scheduler s = org.picos.sched.Schedulers.fifo()) {
      AtomicInteger abandoned = new AtomicInteger();
      // signalled: no clean-up
      assertEquals(0, s.run(() -> {
        Trigger t = Trigger.create();
        t.signal();
        t.awaitOrAbandon(abandoned::incrementAndGet);
        Trigger u = Trigger.create();
        u.signal();
        u.awaitOrWithdraw(() -> {
          abandoned.incrementAndGet();
          return true;
        });
        return abandoned.get();
      }));
      // cancelled while waiting: abandon runs, the cause is thrown
      assertSame(cause, cancelledWhileWaiting(s, cause, t -> t.awaitOrAbandon(abandoned::incrementAndGet)));
      assertEquals(1, abandoned.get());
      // withdraw won: thrown; withdraw lost (the signaller claimed first): returns normally
      assertSame(cause, cancelledWhileWaiting(s, cause, t -> t.awaitOrWithdraw(() -> abandoned.incrementAndGet() > 0)));
      assertEquals(2, abandoned.get());
      assertNull(cancelledWhileWaiting(s, cause, t -> t.awaitOrWithdraw(() -> false)),
          "a withdraw that lost keeps the hand-over: the wait returns");
      // a failing clean-up is suppressed into the cause
      IllegalStateException broken = new IllegalStateException("clean-up failed");
      assertSame(cause, cancelledWhileWaiting(s, cause, t -> t.awaitOrAbandon(() -> {
        throw broken;
      })));
      assertSame(broken, cause.getSuppressed()[0]);
      // a refused wait: a plain thread that must not block
      AtomicInteger refusedCleanUps = new AtomicInteger();
      org.picos.spi.BlockingGuard guard = () -> {
        throw new IllegalStateException("this thread must not block");
      };
      org.picos.spi.BlockingGuards.add(guard);
      try {
        IllegalStateException refused = assertThrows(IllegalStateException.class,
            () -> Trigger.create().awaitOrAbandon(refusedCleanUps::incrementAndGet));
        assertEquals("this thread must not block", refused.getMessage());
      } finally {
        org.picos.spi.BlockingGuards.remove(guard);
      }
      assertEquals(1, refusedCleanUps.get());
    }
  }

  /**
   * Runs {@code wait} in a fiber on {@code s}, cancels the fiber with {@code cause} once it
   * waits, and answers what the wait threw (null if it returned), after the fiber has ended.
   */
  private static Throwable cancelledWhileWaiting(Scheduler s, RuntimeException cause,
      java.util.function.Consumer<Trigger> wait) {
    Trigger t = Trigger.create();
    Computation<Throwable> outcome = Computation.create();
    Computation<Void> fiber = s.start(() -> {
      try {
        wait.accept(t);
        outcome.tryReturn(null);
      } catch (Throwable thrown) {
        outcome.tryReturn(thrown);
      }
      return null;
    });
    for (;;) { // until the fiber awaits t (isInitial then throws "already awaited")
      try {
        t.isInitial();
        Thread.onSpinWait();
      } catch (IllegalStateException awaiting) {
        break;
      }
    }
    fiber.tryCancel(cause);
    return outcome.await();
  }

  @Test
  void computationCompletesOnce() {
    Computation<String> c = Computation.create();
    assertTrue(c.isRunning());
    assertThrows(IllegalStateException.class, c::resultNow);
    assertTrue(c.tryReturn("a"));
    assertFalse(c.tryReturn("b"));
    assertFalse(c.tryCancel(new CancellationException()));
    assertEquals("a", c.resultNow());
    assertEquals("a", c.await());
    assertNull(c.canceled());
    c.check();
    assertTrue(c.isReturned());
  }

  @Test
  void cancelledComputationRethrowsItsCause() {
    CancellationException cause = new CancellationException("x");
    Computation<String> c = Computation.canceled(cause);
    assertSame(cause, assertThrows(CancellationException.class, c::await));
    assertSame(cause, assertThrows(CancellationException.class, c::check));
    IOException io = new IOException("checked");
    Computation<String> d = Computation.canceled(io);
    CompletionException wrapped = assertThrows(CompletionException.class, d::resultNow);
    assertSame(io, wrapped.getCause());
    Error error = new AssertionError("error");
    assertSame(error, assertThrows(AssertionError.class, () -> Computation.canceled(error).await()));
  }

  @Test
  void tryCaptureCallsTheBodyEvenWhenCompleted() {
    Computation<Integer> c = Computation.returned(1);
    AtomicInteger calls = new AtomicInteger();
    assertFalse(c.tryCapture(calls::incrementAndGet));
    assertEquals(1, calls.get());
    Computation<Integer> d = Computation.create();
    IllegalStateException boom = new IllegalStateException();
    assertTrue(d.tryCapture(() -> {
      throw boom;
    }));
    assertSame(boom, d.canceled());
  }

  /** Exactly one of racing return/cancel wins; every successfully attached trigger is signalled. */
  @RepeatedTest(100)
  void completionIsLinearizable() throws Exception {
    Computation<Integer> c = Computation.create();
    int attachers = 3;
    CountDownLatch start = new CountDownLatch(1);
    AtomicInteger wins = new AtomicInteger();
    List<Trigger> attached = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < attachers; i++) {
      threads.add(new Thread(() -> {
        await(start);
        for (int k = 0; k < 20; k++) {
          Trigger t = Trigger.create();
          if (c.tryAttach(t)) {
            synchronized (attached) {
              attached.add(t);
            }
          }
        }
      }));
    }
    threads.add(new Thread(() -> {
      await(start);
      if (c.tryReturn(1)) {
        wins.incrementAndGet();
      }
    }));
    threads.add(new Thread(() -> {
      await(start);
      if (c.tryCancel(new CancellationException())) {
        wins.incrementAndGet();
      }
    }));
    threads.forEach(Thread::start);
    start.countDown();
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(1, wins.get());
    for (Trigger t : attached) {
      assertTrue(t.isSignaled(), "an attached trigger was not signalled");
    }
  }

  private static void await(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void detachLeavesNoGarbage() {
    Computation<Void> c = Computation.create();
    for (int i = 0; i < 100_000; i++) {
      Trigger t = Trigger.create();
      assertTrue(c.tryAttach(t));
      c.detach(t);
      assertTrue(c.triggerEntries() <= 2, "entries: " + c.triggerEntries());
    }
    Trigger last = Trigger.create();
    c.tryAttach(last);
    assertEquals(1, c.triggerEntries(), "the next attach leaves only the new trigger");
  }

  @Test
  void deadEntriesStayProportionalToLiveOnes() {
    Computation<Void> c = Computation.create();
    Random random = new Random(7);
    List<Trigger> live = new ArrayList<>();
    for (int i = 0; i < 50_000; i++) {
      if (live.isEmpty() || random.nextBoolean()) {
        Trigger t = Trigger.create();
        c.tryAttach(t);
        live.add(t);
      } else {
        c.detach(live.remove(random.nextInt(live.size())));
      }
      assertTrue(c.triggerEntries() <= 2 * live.size() + 2,
          "entries " + c.triggerEntries() + " for " + live.size() + " live triggers");
    }
  }

  @RepeatedTest(20)
  void concurrentAttachDetachChurnLeavesNoGarbage() throws Exception {
    Computation<Void> c = Computation.create();
    List<Thread> threads = new ArrayList<>();
    CountDownLatch start = new CountDownLatch(1);
    for (int i = 0; i < 4; i++) {
      threads.add(new Thread(() -> {
        await(start);
        for (int k = 0; k < 2_000; k++) {
          Trigger t = Trigger.create();
          c.tryAttach(t);
          c.detach(t);
        }
      }));
    }
    threads.forEach(Thread::start);
    start.countDown();
    for (Thread t : threads) {
      t.join();
    }
    assertTrue(c.triggerEntries() <= 2, "entries: " + c.triggerEntries());
    Trigger last = Trigger.create();
    c.tryAttach(last);
    assertEquals(1, c.triggerEntries());
  }

  @Test
  void triggersAreSignalledInAttachOrderOrReversedForLifo() {
    for (Computation.Mode mode : Computation.Mode.values()) {
      Computation<Void> c = Computation.create(mode);
      List<Integer> order = new ArrayList<>();
      Random random = new Random(3);
      List<Integer> expected = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        int n = i;
        Trigger t = Trigger.fromAction(() -> order.add(n));
        c.tryAttach(t);
        if (random.nextInt(4) == 0) {
          c.detach(t); // runs the action now: not part of the completion order
          order.remove(Integer.valueOf(n));
        } else {
          expected.add(n);
        }
      }
      c.tryReturn(null);
      if (mode == Computation.Mode.LIFO) {
        java.util.Collections.reverse(expected);
      }
      assertEquals(expected, order, mode.toString());
    }
  }

  @Test
  void aThrowingTriggerActionDoesNotStopTheOthers() {
    Computation<Void> c = Computation.create();
    AtomicInteger ran = new AtomicInteger();
    c.tryAttach(Trigger.fromAction(ran::incrementAndGet));
    c.tryAttach(Trigger.fromAction(() -> {
      throw new IllegalStateException("bad action");
    }));
    c.tryAttach(Trigger.fromAction(ran::incrementAndGet));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.tryReturn(null));
    assertEquals("bad action", e.getMessage());
    assertEquals(2, ran.get());
    assertTrue(c.isReturned());
  }

  @Test
  void attachCancelerPropagatesCancellationOnly() {
    Computation<Void> from = Computation.create();
    Computation<Void> into = Computation.create();
    Computation.attachCanceler(from, into);
    CancellationException cause = new CancellationException("parent");
    from.tryCancel(cause);
    assertSame(cause, into.canceled());

    Computation<Void> returned = Computation.returned(null);
    Computation<Void> untouched = Computation.create();
    assertTrue(Computation.attachCanceler(returned, untouched).isSignaled());
    assertTrue(untouched.isRunning());

    Computation<Void> cancelledAlready = Computation.canceled(cause);
    Computation<Void> target = Computation.create();
    Computation.attachCanceler(cancelledAlready, target);
    assertSame(cause, target.canceled());
  }

  @Test
  void whenDoneRunsOnceAtCompletionOrAtOnce() {
    Computation<Integer> c = Computation.create();
    AtomicInteger runs = new AtomicInteger();
    c.whenDone(runs::incrementAndGet);
    assertEquals(0, runs.get());
    c.tryReturn(1);
    assertEquals(1, runs.get());
    c.whenDone(runs::incrementAndGet);
    assertEquals(2, runs.get());
  }

  @Test
  void awaitOnAPlainThreadBlocksUntilCompleted() throws Exception {
    Computation<String> c = Computation.create();
    Thread completer = new Thread(() -> {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        return;
      }
      c.tryReturn("done");
    });
    completer.start();
    assertEquals("done", c.await());
    completer.join();
  }

  @Test
  void cancellingAPlainThreadsImplicitFiberWakesItsAwait() throws Exception {
    Computation<Fiber> fiber = Computation.create();
    Computation<Throwable> result = Computation.create();
    Thread waiter = new Thread(() -> {
      fiber.tryReturn(Fiber.current());
      result.tryReturn(Trigger.create().await());
    });
    waiter.start();
    Fiber f = fiber.await();
    assertFalse(Fiber.inFiber(), "a plain thread is not in a scheduler's fiber");
    CancellationException cause = new CancellationException("wake up");
    f.computation().tryCancel(cause);
    assertSame(cause, result.await());
    waiter.join();
  }
}
