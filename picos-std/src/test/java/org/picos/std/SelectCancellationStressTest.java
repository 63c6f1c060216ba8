package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Fiber;
import org.picos.std.structured.Flock;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Event;

/**
 * Members of a flock select over a channel operation and a timeout while the flock is terminated
 * at random moments. Termination is ordinary control flow: an element whose send returned is
 * received exactly once, and a selecting send that threw was not delivered.
 */
class SelectCancellationStressTest {
  private static final int SEEDS = 12;
  private static final int ELEMENTS = 300;
  private static final long DEADLINE_NANOS = Duration.ofSeconds(60).toNanos();

  @ParameterizedTest
  @EnumSource(value = Env.class, names = {"FIFO", "MULTI_2", "PLAIN_THREAD"})
  void terminatedSelectingReceiversLoseNoElement(Env env) {
    env.exec(() -> {
      for (int seed = 0; seed < SEEDS; seed++) {
        for (int capacity : new int[] {0, 2}) {
          receiversRound(new Random(seed * 7919L + capacity), capacity, env + " seed " + seed + " capacity " + capacity);
        }
      }
    });
  }

  @ParameterizedTest
  @EnumSource(value = Env.class, names = {"FIFO", "MULTI_2", "PLAIN_THREAD"})
  void terminatedSelectingSendersDeliverExactlyOnce(Env env) {
    env.exec(() -> {
      for (int seed = 0; seed < SEEDS; seed++) {
        for (int capacity : new int[] {0, 2}) {
          sendersRound(new Random(seed * 104729L + capacity), capacity, env + " seed " + seed + " capacity " + capacity);
        }
      }
    });
  }

  /** One sender sends 0..ELEMENTS-1; flocks of selecting receivers come and get terminated. */
  private static void receiversRound(Random random, int capacity, String where) {
    Channel<Integer> channel = capacity == 0 ? Channel.rendezvous() : Channel.bounded(capacity);
    AtomicIntegerArray received = new AtomicIntegerArray(ELEMENTS);
    AtomicInteger total = new AtomicInteger();
    Env.Task<Integer> sender = Env.fork(() -> {
      int sent = 0;
      for (int i = 0; i < ELEMENTS; i++) {
        channel.send(i);
        sent++;
      }
      return sent;
    });
    try {
      receiveWhileSending(random, channel, sender, received, total, where);
    } finally {
      sender.cancel(new IllegalStateException(where + ": test failed"));
    }
    assertEquals(ELEMENTS, sender.join(), where);
    for (Optional<Integer> left = channel.tryReceive(); left.isPresent(); left = channel.tryReceive()) {
      received.incrementAndGet(left.get());
    }
    assertEquals(0, channel.waitingReceivers(), where + ": a terminated receiver left its offer");
    for (int i = 0; i < ELEMENTS; i++) {
      assertEquals(1, received.get(i), where + ": element " + i + " received " + received.get(i) + " times");
    }
  }

  private static void receiveWhileSending(Random random, Channel<Integer> channel, Env.Task<Integer> sender,
      AtomicIntegerArray received, AtomicInteger total, String where) {
    long deadline = System.nanoTime() + DEADLINE_NANOS;
    while (!sender.isDone()) {
      assertTrue(System.nanoTime() < deadline, where + ": no progress");
      int receivers = 1 + random.nextInt(4);
      long[] timeouts = new long[receivers];
      for (int r = 0; r < receivers; r++) {
        timeouts[r] = random.nextInt(3) == 0 ? 0 : random.nextInt(200_000);
      }
      int target = total.get() + random.nextInt(12);
      Flock.joinAfter(() -> {
        for (int r = 0; r < receivers; r++) {
          Duration timeout = Duration.ofNanos(timeouts[r]);
          Flock.fork(() -> {
            for (;;) {
              Integer item = Event.select(channel.receiveEvent(), Event.after(timeout).map(x -> null));
              if (item != null) {
                received.incrementAndGet(item);
                total.incrementAndGet();
              }
            }
          });
        }
        while (total.get() < target && !sender.isDone() && System.nanoTime() < deadline) {
          Fiber.yield();
        }
        Flock.terminate();
        return null;
      });
    }
  }

  /** A little work that is no cancellation point, so that members are caught between operations. */
  private static void work(int item) {
    for (int i = (item * 37) % 500; i > 0; i--) {
      Thread.onSpinWait();
    }
  }

  /**
   * Flocks of selecting senders take elements from a pool and put back those whose select threw;
   * one plain receiver takes everything. Each element must arrive exactly once: a send that
   * committed must not throw (else it would be sent again).
   */
  private static void sendersRound(Random random, int capacity, String where) {
    Channel<Integer> channel = capacity == 0 ? Channel.rendezvous() : Channel.bounded(capacity);
    ConcurrentLinkedQueue<Integer> pool = new ConcurrentLinkedQueue<>();
    for (int i = 0; i < ELEMENTS; i++) {
      pool.add(i);
    }
    AtomicIntegerArray received = new AtomicIntegerArray(ELEMENTS);
    AtomicInteger total = new AtomicInteger();
    Env.Task<Void> receiver = Env.fork(() -> {
      while (total.get() < ELEMENTS) {
        int item = channel.receive();
        received.incrementAndGet(item);
        total.incrementAndGet();
        work(item);
      }
      return null;
    });
    try {
      sendWhileReceiving(random, channel, pool, total, where);
    } finally {
      receiver.cancel(new IllegalStateException(where + ": test failed"));
    }
    receiver.join();
    assertEquals(Optional.empty(), channel.tryReceive(), where + ": an element was sent twice");
    assertEquals(0, channel.waitingSenders(), where + ": a terminated sender left its offer");
    for (int i = 0; i < ELEMENTS; i++) {
      assertEquals(1, received.get(i), where + ": element " + i + " received " + received.get(i) + " times");
    }
  }

  private static void sendWhileReceiving(Random random, Channel<Integer> channel, ConcurrentLinkedQueue<Integer> pool,
      AtomicInteger total, String where) {
    long deadline = System.nanoTime() + DEADLINE_NANOS;
    while (total.get() < ELEMENTS) {
      assertTrue(System.nanoTime() < deadline, where + ": no progress, " + total.get() + " received");
      int senders = 1 + random.nextInt(4);
      long[] timeouts = new long[senders];
      for (int s = 0; s < senders; s++) {
        timeouts[s] = random.nextInt(3) == 0 ? 0 : random.nextInt(200_000);
      }
      int target = total.get() + random.nextInt(12);
      Flock.joinAfter(() -> {
        for (int s = 0; s < senders; s++) {
          Duration timeout = Duration.ofNanos(timeouts[s]);
          Flock.fork(() -> {
            for (Integer item = pool.poll(); item != null; item = pool.poll()) {
              boolean sent = false;
              try {
                while (!sent) {
                  sent = Event.select(channel.sendEvent(item).map(x -> true), Event.after(timeout).map(x -> false));
                }
              } finally {
                if (!sent) {
                  pool.add(item);
                }
              }
            }
          });
        }
        while (total.get() < target && total.get() < ELEMENTS && System.nanoTime() < deadline) {
          Fiber.yield();
        }
        Flock.terminate();
        return null;
      });
    }
  }
}
