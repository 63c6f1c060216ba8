package org.picos.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.FiberLocal;
import org.picos.Scheduler;

/**
 * A fiber that awaits a child it spawned that has not started runs the child on its own stack
 * (an inline join). These tests pin down that nothing a fiber can observe changes: the child's
 * identity, computation, fiber-locals and cancellation mask are its own; its failure and
 * cancellation reach the joiner as they would after a suspension; a child that suspends while
 * inlined suspends alone and is resumed like any fiber, on any carrier; deep recursion does not
 * overflow the stack. Each test also checks that the join did run inline (the joiner's frame
 * is on the child's stack) where the scheduler makes that certain.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InlineJoinTest {
  private static final String JOINER_FRAME = "joinHere";

  private static List<Supplier<Scheduler>> schedulers() {
    return List.of(Schedulers::fifo, () -> Schedulers.multi(2));
  }

  /** The joiner's frame; a child that runs inline finds it on its own thread's stack. */
  private static <T> T joinHere(Computation<T> child) {
    return child.await();
  }

  /** Whether the calling child runs nested in its joiner's await (its frame is on this thread). */
  private static boolean underJoiner() {
    for (StackTraceElement f : new Throwable().getStackTrace()) {
      if (f.getClassName().equals(InlineJoinTest.class.getName())
          && f.getMethodName().equals(JOINER_FRAME)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void anUnstartedChildRunsOnItsJoinersStackAsItselfWithItsOwnLocalsAndMask() throws Exception {
    FiberLocal<String> local = FiberLocal.create();
    for (Supplier<Scheduler> make : schedulers()) {
      try (Scheduler s = make.get()) {
        String outcome = s.start(() -> {
          Fiber parent = Fiber.current();
          Computation<?> parentComputation = parent.computation();
          local.set("parent's");
          return Fiber.forbid(() -> {
            Fiber[] seen = new Fiber[1];
            Computation<String> child = Fiber.spawn(() -> {
              Fiber me = Fiber.current();
              seen[0] = me;
              assertNotSame(parent, me);
              assertNotSame(parentComputation, me.computation());
              assertFalse(me.hasForbidden(), "the child has its own mask");
              assertNull(local.get(), "the child does not see the parent's local");
              local.set("child's");
              return underJoiner() ? "inline" : "queued";
            });
            String how = joinHere(child);
            assertSame(parent, Fiber.current());
            assertTrue(parent.hasForbidden());
            assertEquals("parent's", local.get(), "the child's local stayed the child's");
            assertEquals("child's", local.get(seen[0]));
            return how;
          });
        }).await();
        if (!(s instanceof ExecutorScheduler)) {
          assertEquals("inline", outcome, "on fifo an unstarted child is always joined inline");
        }
      }
    }
  }

  @Test
  void aFailureOfAnInlinedChildIsThrownByTheJoin() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      try (Scheduler s = make.get()) {
        IllegalStateException boom = new IllegalStateException("child failed");
        Throwable thrown = s.start(() -> assertThrows(IllegalStateException.class,
            () -> joinHere(Fiber.spawn(() -> {
              throw boom;
            })))).await();
        assertSame(boom, thrown);
      }
    }
  }

  @Test
  void aChildCancelledWhileInlinedEndsWithItsCauseAndTheJoinerGoesOn() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      try (Scheduler s = make.get()) {
        IllegalStateException stop = new IllegalStateException("stop the child");
        String result = s.start(() -> {
          Computation<String> child = Fiber.spawn(() -> {
            Fiber.current().computation().tryCancel(stop);
            Fiber.check(); // the child's cancellation point
            return "not reached";
          });
          assertSame(stop, assertThrows(IllegalStateException.class, () -> joinHere(child)));
          Fiber.check(); // the joiner is not cancelled
          return "joiner went on";
        }).await();
        assertEquals("joiner went on", result);
      }
    }
  }

  @Test
  void aJoinerCancelledWhileItsChildRanInlineSeesItsCauseAsAfterASuspension() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      try (Scheduler s = make.get()) {
        IllegalStateException stop = new IllegalStateException("stop the joiner");
        Computation<String> joiner = Computation.create();
        AtomicBoolean childRan = new AtomicBoolean();
        s.spawn(Fiber.create(false, joiner), () -> {
          Computation<String> child = Fiber.spawn(() -> {
            childRan.set(true); // first: the cancel below releases the test thread's await
            joiner.tryCancel(stop); // cancels the fiber that waits for this one
            return "value";
          });
          try {
            joinHere(child);
          } catch (IllegalStateException expected) {
            assertSame(stop, expected);
            assertEquals("value", child.resultNow(), "the child itself completed");
          }
        });
        assertSame(stop, assertThrows(IllegalStateException.class, joiner::await));
        assertTrue(childRan.get());
      }
    }
  }

  @Test
  void aChildThatSuspendsWhileInlinedSuspendsAloneAndResumesOnAnyCarrier() throws Exception {
    ExecutorService a = Executors.newSingleThreadExecutor(r -> new Thread(r, "carrier-a"));
    ExecutorService b = Executors.newSingleThreadExecutor(r -> new Thread(r, "carrier-b"));
    // Hands each slice to one of two threads at random, so a child resumed after suspending
    // inline runs on a thread other than its joiner's some of the time.
    Scheduler s = Schedulers.onExecutor(
        r -> (java.util.concurrent.ThreadLocalRandom.current().nextBoolean() ? a : b).execute(r));
    Set<String> resumedOn = ConcurrentHashMap.newKeySet();
    int inlined = 0;
    try (s) {
      for (int round = 0; round < 200; round++) {
        Computation<String> gate = Computation.create();
        Computation<Fiber> childFiber = Computation.create();
        Computation<Boolean> wasInline = Computation.create();
        Computation<String> joined = s.start(() -> {
          Computation<String> child = Fiber.spawn(() -> {
            Fiber me = Fiber.current();
            childFiber.tryReturn(me);
            wasInline.tryReturn(underJoiner());
            String v = gate.await(); // suspends the child alone, back into the joiner's await
            assertSame(me, Fiber.current(), "the child is itself after resuming");
            resumedOn.add(Thread.currentThread().getName());
            return v;
          });
          return joinHere(child);
        });
        childFiber.await();
        if (wasInline.await()) {
          inlined++;
        }
        assertTrue(joined.isRunning(), "the joiner waits for the suspended child");
        gate.tryReturn("opened " + round);
        assertEquals("opened " + round, joined.await());
      }
    } finally {
      a.shutdownNow();
      b.shutdownNow();
    }
    assertTrue(inlined > 0, "no join ran inline in 200 rounds");
    assertEquals(Set.of("carrier-a", "carrier-b"), resumedOn);
  }

  @Test
  void aChildThatYieldsWhileInlinedLetsTheJoinerAwaitAsUsual() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      try (Scheduler s = make.get()) {
        int sum = s.start(() -> {
          Computation<Integer> child = Fiber.spawn(() -> {
            int n = 0;
            for (int i = 0; i < 10; i++) {
              Fiber.yield();
              n += i;
            }
            return n;
          });
          return joinHere(child);
        }).await();
        assertEquals(45, sum);
      }
    }
  }

  static int fib(int n) {
    if (n < 2) {
      return n;
    }
    Computation<Integer> first = Fiber.spawn(() -> fib(n - 1));
    int second = fib(n - 2);
    return first.await() + second;
  }

  @Test
  void fib25JoinsInlineWithoutOverflowingTheStack() throws Exception {
    for (Supplier<Scheduler> make : schedulers()) {
      try (Scheduler s = make.get()) {
        assertEquals(75025, s.start(() -> fib(25)).await());
      }
    }
  }

  /**
   * Children that their spawner keeps back instead of queueing (on multi(2), once the spawning
   * worker's queue holds work to spare) run even if it never joins them: when it suspends for
   * something else, when it ends, and when it spawns more than it remembers. A first child
   * holds the other worker busy, so that the spawner's queue fills up and it starts keeping
   * children back; on fifo, which keeps nothing back, the same contract holds.
   */
  @Test
  void childrenNeverJoinedRunOnceTheirSpawnerSuspendsOrEnds() throws Exception {
    int n = 200;
    for (Supplier<Scheduler> make : schedulers()) {
      try (Scheduler s = make.get()) {
        for (boolean suspend : new boolean[] {true, false}) {
          AtomicInteger ran = new AtomicInteger();
          Computation<Void> all = Computation.create();
          Computation<Void> spawner = s.start(() -> {
            holdOtherCarrierBusy(s);
            for (int i = 0; i < n; i++) {
              Fiber.spawn(() -> {
                if (ran.incrementAndGet() == n) {
                  all.tryReturn(null);
                }
                return null;
              });
            }
            if (suspend) {
              all.await();
            }
            return null;
          });
          spawner.await();
          all.await();
          assertEquals(n, ran.get(), "every child ran once");
        }
      }
    }
  }

  private static final AtomicBoolean KEPT_BACK_CHILD_RAN = new AtomicBoolean();

  /** Its initializer is a frame that pins the fiber running it: a yield there cannot suspend. */
  private static final class YieldsWhilePinned {
    static final boolean CHILD_RAN;

    static {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!KEPT_BACK_CHILD_RAN.get() && System.nanoTime() < deadline) {
        Fiber.yield();
      }
      CHILD_RAN = KEPT_BACK_CHILD_RAN.get();
    }
  }

  /**
   * A spawner that yields but cannot suspend (pinned: here by a class initializer) still lets
   * the children it kept back run: a yield promises them that, slice end or not. (Found by
   * review: the kept-back child never ran, and the spawner spun until its deadline.)
   */
  @Test
  void childrenKeptBackRunWhenTheirSpawnerYieldsPinned() throws Exception {
    try (Scheduler s = Schedulers.multi(2)) {
      boolean ran = s.start(() -> {
        holdOtherCarrierBusy(s);
        for (int i = 0; i < 7; i++) {
          Fiber.spawn(() -> null); // fills the queue: the next children are kept back
        }
        Fiber.spawn(() -> KEPT_BACK_CHILD_RAN.getAndSet(true));
        return YieldsWhilePinned.CHILD_RAN;
      }).await();
      assertTrue(ran, "the kept-back child never ran while its pinned spawner yielded");
    }
  }

  /** On multi(2): starts a child that blocks the other carrier for a while; fifo has none. */
  private static void holdOtherCarrierBusy(Scheduler s) {
    if (!(s instanceof ExecutorScheduler)) {
      return;
    }
    Thread spawner = Thread.currentThread();
    AtomicBoolean started = new AtomicBoolean();
    Fiber.spawn(() -> {
      started.set(true);
      if (Thread.currentThread() != spawner) {
        Thread.sleep(300); // blocks that carrier: the spawner's queue fills meanwhile
      }
      return null;
    });
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!started.get()) {
      assertTrue(System.nanoTime() < deadline, "the idle worker never took the child");
      Thread.onSpinWait();
    }
  }

  @Test
  void aJoinThatCouldNotSuspendBehavesAsAnyAwaitThatCouldNot() throws Exception {
    try (Scheduler s = Schedulers.fifo()) {
      Object lock = new Object();
      // What any await does while holding a monitor on this JDK: succeed, or refuse as pinned.
      String plain = s.start(() -> {
        Computation<String> later = Computation.create();
        Fiber.spawn(() -> later.tryReturn("later"));
        synchronized (lock) {
          try {
            return later.await();
          } catch (IllegalStateException pinned) {
            return "refused";
          }
        }
      }).await();
      String join = s.start(() -> {
        Computation<String> child = Fiber.spawn(() -> "child");
        synchronized (lock) {
          try {
            return joinHere(child).equals("child") ? "later" : "wrong";
          } catch (IllegalStateException pinned) {
            return "refused";
          }
        }
      }).await();
      assertEquals(plain, join);
    }
  }
}
