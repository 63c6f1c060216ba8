package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Condition;
import org.picos.std.sync.Mutex;

class MutexConditionTest {
  @ParameterizedTest
  @EnumSource(Env.class)
  void mutexExcludesUnderContention(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      AtomicInteger inside = new AtomicInteger();
      int[] counter = {0};
      List<Computation<Void>> fibers = new ArrayList<>();
      for (int f = 0; f < 8; f++) {
        fibers.add(Fiber.spawn(() -> {
          for (int i = 0; i < 100; i++) {
            mutex.protect(() -> {
              assertEquals(1, inside.incrementAndGet(), "two fibers inside the mutex");
              int seen = counter[0];
              Fiber.yield();
              counter[0] = seen + 1;
              inside.decrementAndGet();
              return null;
            });
          }
          return null;
        }));
      }
      for (Computation<Void> c : fibers) {
        c.await();
      }
      assertEquals(800, counter[0]);
      assertFalse(mutex.isLocked());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void mutexHandsOffInArrivalOrder(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      List<Integer> order = new ArrayList<>();
      mutex.lock();
      List<Computation<Void>> waiters = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        int id = i;
        waiters.add(Fiber.spawn(() -> mutex.protect(() -> order.add(id)) ? null : null));
        until("waiter " + i + " queued", () -> mutex.queueLength() == id + 1);
      }
      mutex.unlock();
      for (Computation<Void> w : waiters) {
        w.await();
      }
      assertEquals(List.of(0, 1, 2, 3), order);
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void mutexMisuseIsAClearError(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      IllegalStateException unlocked = assertThrows(IllegalStateException.class, mutex::unlock);
      assertTrue(unlocked.getMessage().contains("not locked"), unlocked.getMessage());
      mutex.lock();
      IllegalStateException relock = assertThrows(IllegalStateException.class, mutex::lock);
      assertTrue(relock.getMessage().contains("already holds"), relock.getMessage());
      assertThrows(IllegalStateException.class, mutex::tryLock);
      IllegalStateException notOwner = assertThrows(IllegalStateException.class,
          () -> Fiber.spawn(() -> {
            mutex.unlock();
            return null;
          }).await());
      assertTrue(notOwner.getMessage().contains("does not own"), notOwner.getMessage());
      assertFalse(Fiber.spawn(mutex::tryLock).await());
      mutex.unlock();
      assertTrue(mutex.tryLock());
      mutex.unlock();
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledMutexWaiterLeavesTheQueue(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      mutex.lock();
      Env.Task<Void> waiter = Env.fork(() -> {
        mutex.lock();
        mutex.unlock();
        return null;
      });
      until("waiter queued", () -> mutex.queueLength() == 1);
      CancellationException cause = new CancellationException("test cancel");
      waiter.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, waiter::join));
      assertEquals(0, mutex.queueLength());
      mutex.unlock();
      assertFalse(mutex.isLocked());
      assertTrue(Fiber.spawn(mutex::tryLock).await(), "the mutex still works");
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelRacingHandOffPassesOwnershipOn(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      for (int round = 0; round < 40; round++) {
        mutex.lock();
        Env.Task<Void> first = Env.fork(() -> mutex.protect(() -> null));
        until("first queued", () -> mutex.queueLength() == 1);
        Computation<Void> second = Fiber.spawn(() -> mutex.protect(() -> null));
        until("second queued", () -> mutex.queueLength() == 2);
        CancellationException cause = new CancellationException("race " + round);
        if (round % 2 == 0) {
          mutex.unlock();
          first.cancel(cause);
        } else {
          first.cancel(cause);
          mutex.unlock();
        }
        second.await();
        until("first done", first::isDone);
        assertTrue(first.failure() == null || first.failure() == cause);
        until("mutex free", () -> !mutex.isLocked());
        assertEquals(0, mutex.queueLength());
      }
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void conditionBroadcastWakesEveryWaiter(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      Condition ready = new Condition();
      boolean[] go = {false};
      List<Computation<Integer>> waiters = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        int id = i;
        waiters.add(Fiber.spawn(() -> mutex.protect(() -> {
          while (!go[0]) {
            ready.await(mutex);
          }
          return id;
        })));
      }
      until("all waiting", () -> ready.queueLength() == 5);
      mutex.protect(() -> go[0] = true);
      ready.broadcast();
      for (int i = 0; i < 5; i++) {
        assertEquals(i, waiters.get(i).await());
      }
      assertFalse(mutex.isLocked());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void conditionSignalWakesOneAtATime(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      Condition nonEmpty = new Condition();
      List<Integer> queue = new ArrayList<>();
      List<Computation<Integer>> consumers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        consumers.add(Fiber.spawn(() -> mutex.protect(() -> {
          while (queue.isEmpty()) {
            nonEmpty.await(mutex);
          }
          return queue.remove(0);
        })));
      }
      until("all waiting", () -> nonEmpty.queueLength() == 3);
      int sum = 0;
      for (int i = 1; i <= 3; i++) {
        int item = i;
        mutex.protect(() -> queue.add(item));
        nonEmpty.signal();
      }
      for (Computation<Integer> c : consumers) {
        sum += c.await();
      }
      assertEquals(6, sum);
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void conditionAwaitWithoutTheMutexIsAClearError(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      Condition condition = new Condition();
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> condition.await(mutex));
      assertTrue(e.getMessage().contains("not locked"), e.getMessage());
      assertEquals(0, condition.queueLength());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledConditionWaiterRelocksThenThrows(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      Condition condition = new Condition();
      boolean[] heldAfter = {false};
      Env.Task<Void> waiter = Env.fork(() -> {
        mutex.lock();
        try {
          condition.await(mutex);
        } finally {
          heldAfter[0] = mutex.isLocked();
          mutex.unlock();
        }
        return null;
      });
      until("waiting", () -> condition.queueLength() == 1);
      mutex.lock();
      CancellationException cause = new CancellationException("test cancel");
      waiter.cancel(cause);
      Fiber.yield();
      mutex.unlock();
      assertSame(cause, assertThrows(CancellationException.class, waiter::join));
      assertTrue(heldAfter[0], "await re-locked the mutex before throwing");
      assertFalse(mutex.isLocked());
      assertEquals(0, condition.queueLength());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void signalConsumedByACancelledWaiterIsForwarded(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      Condition condition = new Condition();
      for (int round = 0; round < 20; round++) {
        int[] woken = {0};
        List<Env.Task<Void>> waiters = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
          waiters.add(Env.fork(() -> {
            mutex.protect(() -> {
              condition.await(mutex);
              return woken[0]++;
            });
            return null;
          }));
          int n = i + 1;
          until("waiter queued", () -> condition.queueLength() == n);
        }
        CancellationException cause = new CancellationException("test cancel");
        condition.signal();
        waiters.get(0).cancel(cause);
        // Exactly one signal was sent: it reaches a waiter that returns normally, either the
        // first (if it woke before the cancellation) or, forwarded, the second.
        until("the signal is delivered", () -> mutex.protect(() -> woken[0]) == 1);
        condition.broadcast();
        waiters.get(1).join();
        until("first done", waiters.get(0)::isDone);
        assertFalse(mutex.isLocked());
        assertEquals(0, condition.queueLength());
      }
    });
  }
}
