package org.picos.std.blocking;

import static org.junit.jupiter.api.Assertions.*;

import java.util.concurrent.CancellationException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.std.Env;

/**
 * A fiber's cancellation racing its blocking call's start and end, thousands of times on one
 * worker thread that, unlike a {@link java.util.concurrent.ThreadPoolExecutor}, never clears
 * interrupts itself: an interrupt left behind by a cancelled call would reach the next task.
 * Each round checks that the fiber got the value or its own cause, that the call ran at most
 * once, that the cancel action ran at most once and only for a call that ran and whose value the
 * fiber did not take, and that the worker never found its interrupt flag set between tasks.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BlockingRaceTest {
  private static final int ROUNDS = 3000;

  @ParameterizedTest
  @EnumSource(value = Env.class, names = {"FIFO", "MULTI_2"})
  void cancellationRacingTheCallNeverLeaksAnInterruptNorLosesTheFiber(Env env) throws Exception {
    LinkedBlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
    AtomicInteger leakedInterrupts = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    Thread worker = Thread.ofPlatform().daemon().name("race-worker").start(() -> {
      while (!stop.get()) {
        try {
          tasks.take().run();
        } catch (InterruptedException leaked) {
          leakedInterrupts.incrementAndGet();
        }
      }
    });
    AtomicInteger submitted = new AtomicInteger();
    Blocking.Offload offload = Blocking.using(task -> {
      submitted.incrementAndGet();
      tasks.add(task);
    });
    int[] outcomes = new int[2]; // returned, cancelled
    AtomicIntegerArray started = new AtomicIntegerArray(ROUNDS);
    AtomicIntegerArray cancelActions = new AtomicIntegerArray(ROUNDS);
    env.exec(() -> {
      for (int round = 0; round < ROUNDS; round++) {
        int r = round;
        long bodyNanos = ThreadLocalRandom.current().nextLong(20_000, 300_000);
        long cancelNanos = ThreadLocalRandom.current().nextLong(100_000);
        Env.Task<Integer> caller = Env.fork(() -> offload.call(() -> {
          started.incrementAndGet(r);
          spin(bodyNanos);
          return r;
        }, () -> cancelActions.incrementAndGet(r)));
        Env.until("round " + r + " submitted its call", () -> submitted.get() == r + 1);
        spin(cancelNanos);
        CancellationException cause = new CancellationException("round " + r);
        caller.cancel(cause);
        try {
          assertEquals(r, caller.join());
          outcomes[0]++;
          assertEquals(0, cancelActions.get(r), "round " + r + ": a cancel action, yet the fiber took the value");
        } catch (CancellationException e) {
          assertSame(cause, e, "round " + r);
          outcomes[1]++;
        }
      }
    });
    stop.set(true);
    tasks.add(() -> {});
    worker.join(10_000);
    assertFalse(worker.isAlive(), "the worker did not stop");
    assertEquals(0, leakedInterrupts.get(), "interrupts reached a later task");
    for (int r = 0; r < ROUNDS; r++) {
      assertTrue(started.get(r) <= 1, "round " + r + ": the call ran " + started.get(r) + " times");
      assertTrue(cancelActions.get(r) <= started.get(r),
          "round " + r + ": " + cancelActions.get(r) + " cancel actions for " + started.get(r) + " runs of the call");
    }
    assertEquals(ROUNDS, outcomes[0] + outcomes[1],
        "returned " + outcomes[0] + ", cancelled " + outcomes[1]);
  }

  /** Busy for about {@code nanos}, without yielding the thread or a fiber. */
  private static void spin(long nanos) {
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      Thread.onSpinWait();
    }
  }
}
