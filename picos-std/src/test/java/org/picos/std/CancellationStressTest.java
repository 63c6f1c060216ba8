package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Condition;
import org.picos.std.sync.Mutex;
import org.picos.std.sync.Semaphore;

/**
 * Workers hammer a mutex, a condition, a semaphore and a channel while others are cancelled at
 * random points; afterwards every primitive must be consistent: free, no waiter left, no permit
 * lost, every element sent accounted for.
 */
class CancellationStressTest {
  @ParameterizedTest
  @EnumSource(Env.class)
  void randomCancellationsLeaveEveryPrimitiveConsistent(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      Condition turn = new Condition();
      Semaphore semaphore = new Semaphore(2);
      Channel<Integer> channel = Channel.bounded(2);
      AtomicInteger inside = new AtomicInteger();
      AtomicInteger sections = new AtomicInteger();
      int[] counter = {0};
      AtomicInteger sent = new AtomicInteger();
      AtomicInteger received = new AtomicInteger();
      Random random = new Random(42);
      List<Env.Task<Void>> workers = new ArrayList<>();
      for (int round = 0; round < 60; round++) {
        int id = round;
        workers.add(Env.fork(() -> {
          for (int i = 0; i < 10_000; i++) {
            mutex.protect(() -> {
              assertEquals(1, inside.incrementAndGet());
              counter[0]++;
              sections.incrementAndGet();
              inside.decrementAndGet();
              if (counter[0] % 3 == 0) {
                turn.signal();
              } else if (counter[0] % 7 == 0) {
                turn.await(mutex);
              }
              return null;
            });
            semaphore.acquire();
            try {
              Fiber.yield();
            } finally {
              semaphore.release();
            }
            if (id % 2 == 0) {
              channel.send(i);
              sent.incrementAndGet();
            } else {
              channel.receive();
              received.incrementAndGet();
            }
          }
          return null;
        }));
        for (int y = random.nextInt(5); y >= 0; y--) {
          Fiber.yield();
        }
        if (workers.size() > 6) {
          Env.Task<Void> victim = workers.remove(random.nextInt(workers.size()));
          victim.cancel(new CancellationException("chaos"));
          until("victim ended", victim::isDone);
          Throwable failure = victim.failure();
          assertTrue(failure == null || failure instanceof CancellationException, "victim: " + failure);
        }
      }
      for (Env.Task<Void> w : workers) {
        w.cancel(new CancellationException("stop"));
        until("worker ended", w::isDone);
      }
      assertFalse(mutex.isLocked());
      assertEquals(0, mutex.queueLength());
      assertEquals(0, turn.queueLength());
      assertEquals(sections.get(), counter[0]);
      assertEquals(2, semaphore.availablePermits());
      assertEquals(0, semaphore.queueLength());
      assertEquals(0, channel.waitingSenders());
      assertEquals(0, channel.waitingReceivers());
      assertEquals(sent.get(), received.get() + channel.size(), "every element sent is received or buffered");
    });
  }
}
