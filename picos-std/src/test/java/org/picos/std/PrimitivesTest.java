package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Ivar;
import org.picos.std.sync.Latch;
import org.picos.std.sync.Lazy;
import org.picos.std.sync.Semaphore;

/** Semaphore, Latch, Ivar and Lazy. */
class PrimitivesTest {
  @Test
  void semaphoreMisuseIsAClearError() {
    IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> new Semaphore(-1));
    assertTrue(negative.getMessage().contains("must not be negative"), negative.getMessage());
    Semaphore full = new Semaphore(Integer.MAX_VALUE);
    IllegalStateException overflow = assertThrows(IllegalStateException.class, full::release);
    assertTrue(overflow.getMessage().contains("overflow"), overflow.getMessage());
    assertEquals(Integer.MAX_VALUE, full.availablePermits());
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void semaphoreLimitsConcurrency(Env env) {
    env.exec(() -> {
      Semaphore permits = new Semaphore(2);
      AtomicInteger inside = new AtomicInteger();
      AtomicInteger max = new AtomicInteger();
      List<Computation<Void>> fibers = new ArrayList<>();
      for (int f = 0; f < 6; f++) {
        fibers.add(Fiber.spawn(() -> {
          for (int i = 0; i < 20; i++) {
            permits.acquire();
            try {
              max.accumulateAndGet(inside.incrementAndGet(), Math::max);
              Fiber.yield();
              inside.decrementAndGet();
            } finally {
              permits.release();
            }
          }
          return null;
        }));
      }
      for (Computation<Void> c : fibers) {
        c.await();
      }
      assertTrue(max.get() <= 2, "at most two holders, saw " + max.get());
      assertEquals(2, permits.availablePermits());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledSemaphoreWaiterTakesNoPermit(Env env) {
    env.exec(() -> {
      Semaphore semaphore = new Semaphore(0);
      Env.Task<Void> waiter = Env.fork(() -> {
        semaphore.acquire();
        return null;
      });
      until("waiter queued", () -> semaphore.queueLength() == 1);
      CancellationException cause = new CancellationException("test cancel");
      waiter.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, waiter::join));
      assertEquals(0, semaphore.queueLength());
      semaphore.release();
      assertEquals(1, semaphore.availablePermits(), "the permit went to the count, not the cancelled waiter");
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelRacingReleaseLosesNoPermit(Env env) {
    env.exec(() -> {
      Semaphore semaphore = new Semaphore(0);
      for (int round = 0; round < 40; round++) {
        Env.Task<Void> first = Env.fork(() -> {
          semaphore.acquire();
          semaphore.release();
          return null;
        });
        until("first queued", () -> semaphore.queueLength() == 1);
        Env.Task<Void> second = Env.fork(() -> {
          semaphore.acquire();
          return null;
        });
        until("second queued", () -> semaphore.queueLength() == 2);
        CancellationException cause = new CancellationException("race " + round);
        if (round % 2 == 0) {
          semaphore.release();
          first.cancel(cause);
        } else {
          first.cancel(cause);
          semaphore.release();
        }
        second.join();
        until("first done", first::isDone);
        assertEquals(0, semaphore.availablePermits());
        assertEquals(0, semaphore.queueLength());
      }
    });
  }

  @Test
  void latchMisuseIsAClearError() {
    assertThrows(IllegalArgumentException.class, () -> new Latch(-1));
    Latch latch = new Latch(1);
    latch.countDown();
    IllegalStateException down = assertThrows(IllegalStateException.class, latch::countDown);
    assertTrue(down.getMessage().contains("already zero"), down.getMessage());
    IllegalStateException up = assertThrows(IllegalStateException.class, latch::countUp);
    assertTrue(up.getMessage().contains("already open"), up.getMessage());
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void latchReleasesWaitersAtZero(Env env) {
    env.exec(() -> {
      Latch latch = new Latch(2);
      new Latch(0).await();
      latch.countUp();
      List<Computation<Void>> waiters = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        waiters.add(Fiber.spawn(() -> {
          latch.await();
          return null;
        }));
      }
      Env.Task<Void> cancelled = Env.fork(() -> {
        latch.await();
        return null;
      });
      CancellationException cause = new CancellationException("test cancel");
      cancelled.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, cancelled::join));
      for (int i = 0; i < 3; i++) {
        assertTrue(waiters.stream().allMatch(Computation::isRunning));
        latch.countDown();
      }
      for (Computation<Void> w : waiters) {
        w.await();
      }
      assertEquals(0, latch.count());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void ivarFillsOnceAndWakesReaders(Env env) {
    env.exec(() -> {
      Ivar<String> ivar = Ivar.create();
      assertEquals(Optional.empty(), ivar.peek());
      Env.Task<String> cancelled = Env.fork(ivar::read);
      List<Computation<String>> readers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        readers.add(Fiber.spawn(ivar::read));
      }
      CancellationException cause = new CancellationException("test cancel");
      cancelled.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, cancelled::join));
      ivar.fill("v");
      for (Computation<String> r : readers) {
        assertEquals("v", r.await());
      }
      assertEquals(Optional.of("v"), ivar.peek());
      assertFalse(ivar.tryFill("w"));
      IllegalStateException again = assertThrows(IllegalStateException.class, () -> ivar.fill("w"));
      assertTrue(again.getMessage().contains("already filled"), again.getMessage());
      assertFalse(ivar.tryPoison(new RuntimeException()));
      assertEquals("v", ivar.read());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void poisonedIvarThrowsToReaders(Env env) {
    env.exec(() -> {
      Ivar<String> ivar = Ivar.create();
      Computation<String> reader = Fiber.spawn(ivar::read);
      IllegalArgumentException poison = new IllegalArgumentException("poison");
      ivar.poison(poison);
      assertSame(poison, assertThrows(IllegalArgumentException.class, reader::await));
      assertSame(poison, assertThrows(IllegalArgumentException.class, ivar::peek));
      assertThrows(IllegalStateException.class, () -> ivar.poison(poison));
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void lazyRunsTheThunkOnceForConcurrentForcers(Env env) {
    env.exec(() -> {
      AtomicInteger runs = new AtomicInteger();
      Ivar<Integer> gate = Ivar.create();
      Lazy<Integer> lazy = Lazy.of(() -> {
        runs.incrementAndGet();
        return gate.read() + 1;
      });
      List<Computation<Integer>> forcers = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        forcers.add(Fiber.spawn(lazy::force));
      }
      until("the thunk started", () -> runs.get() == 1);
      Env.Task<Integer> cancelled = Env.fork(lazy::force);
      CancellationException cause = new CancellationException("test cancel");
      cancelled.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, cancelled::join));
      gate.fill(41);
      for (Computation<Integer> f : forcers) {
        assertEquals(42, f.await());
      }
      assertEquals(42, lazy.force());
      assertEquals(1, runs.get());
      assertTrue(lazy.isForced());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void lazyErrorsAndCancellation(Env env) {
    env.exec(() -> {
      AtomicInteger runs = new AtomicInteger();
      Lazy<Integer> counted = Lazy.of(runs::incrementAndGet);
      CancellationException cause = new CancellationException("pre-cancelled");
      Computation<Integer> canceledForcer = Fiber.spawn(() -> {
        Fiber.current().computation().tryCancel(cause);
        return counted.force();
      });
      assertSame(cause, assertThrows(CancellationException.class, canceledForcer::await));
      assertEquals(0, runs.get(), "a cancelled forcer never starts the thunk");
      assertEquals(1, counted.force());

      Lazy<Integer>[] self = new Lazy[1];
      self[0] = Lazy.of(() -> self[0].force());
      IllegalStateException recursive = assertThrows(IllegalStateException.class, self[0]::force);
      assertTrue(recursive.getMessage().contains("recursive"), recursive.getMessage());
      assertSame(recursive, assertThrows(IllegalStateException.class, self[0]::force), "the outcome is kept");

      IllegalArgumentException failure = new IllegalArgumentException("thunk failed");
      Lazy<Integer> failing = Lazy.of(() -> {
        throw failure;
      });
      assertSame(failure, assertThrows(IllegalArgumentException.class, failing::force));
      assertEquals(7, Lazy.ofValue(7).force());
    });
  }
}
