package org.picos.tck.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.ChannelClosedException;
import org.picos.std.sync.Mutex;

/**
 * Thousands of fibers spread over every host of the matrix at once, exchanging elements through
 * shared channels and taking shared mutexes for a bounded time; then the totals are checked:
 * every element sent was received exactly once (and in order per sender by each receiver), no
 * increment made under a mutex was lost, and no two fibers were ever inside one mutex together.
 * Every fiber checks its host after each await.
 *
 * <p>The random choices (roles, channel capacities, which channel or mutex, whether to yield)
 * come from a seed printed at the start; rerun a failure with {@code -Dpicos.stress.seed=N}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InteropStressTest {
  private static final int FIBERS = 3000;
  private static final int CHANNELS = 4;
  private static final int MUTEXES = 4;
  /** How long the senders and lockers keep going; the receivers then drain the channels. */
  private static final long WORK_NANOS = TimeUnit.SECONDS.toNanos(3);

  /** The {@code seq}th element sent by fiber {@code sender}. */
  private record Item(int sender, int seq) {}

  /** A mutex and the counter it guards, with a check of mutual exclusion. */
  private static final class Guarded {
    final Mutex mutex = new Mutex();
    final AtomicInteger inside = new AtomicInteger();
    long count; // guarded by mutex
  }

  @Test
  void fibersOnEveryHostShareChannelsAndMutexes() {
    long seed = Long.getLong("picos.stress.seed", System.nanoTime());
    System.out.println(
        "InteropStressTest seed " + seed + " (rerun with -Dpicos.stress.seed=" + seed + ")");
    SplittableRandom random = new SplittableRandom(seed);

    List<Host.Running> hosts = new ArrayList<>();
    try {
      for (Host h : Hosts.all()) {
        hosts.add(h.create().get());
      }
      List<Channel<Item>> channels = new ArrayList<>();
      for (int i = 0; i < CHANNELS; i++) {
        int capacity = random.nextInt(0, 9);
        channels.add(capacity == 0 ? Channel.rendezvous() : Channel.bounded(capacity));
      }
      List<Guarded> mutexes = new ArrayList<>();
      for (int i = 0; i < MUTEXES; i++) {
        mutexes.add(new Guarded());
      }
      long deadline = System.nanoTime() + WORK_NANOS;

      // Receivers: one in eight fibers, at least one per channel; the others send and lock.
      List<Computation<List<Item>>> receivers = new ArrayList<>();
      List<Computation<int[]>> workers = new ArrayList<>();
      for (int id = 0; id < FIBERS; id++) {
        Host.Running host = hosts.get(id % hosts.size());
        SplittableRandom mine = random.split();
        if (id < CHANNELS || mine.nextInt(8) == 0) {
          Channel<Item> from = channels.get(id < CHANNELS ? id : mine.nextInt(CHANNELS));
          receivers.add(host.scheduler().start(() -> receive(host, from)));
        } else {
          int me = id;
          workers.add(host.scheduler().start(
              () -> work(host, me, mine, channels, mutexes, deadline)));
        }
      }

      long sent = 0;
      long locked = 0;
      for (Computation<int[]> w : workers) {
        int[] done = w.await();
        sent += done[0];
        locked += done[1];
      }
      channels.forEach(Channel::close);
      Set<Item> received = new HashSet<>();
      for (Computation<List<Item>> r : receivers) {
        Map<Integer, Integer> lastSeq = new HashMap<>();
        for (Item item : r.await()) {
          assertTrue(received.add(item), () -> item + " received twice (seed " + seed + ")");
          Integer last = lastSeq.put(item.sender(), item.seq());
          assertTrue(last == null || last < item.seq(),
              () -> item + " received after seq " + last + " of its sender (seed " + seed + ")");
        }
      }
      assertEquals(sent, received.size(), "elements lost (seed " + seed + ")");
      long counted = 0;
      for (Guarded g : mutexes) {
        counted += g.mutex.protect(() -> g.count);
      }
      assertEquals(locked, counted, "increments lost under a mutex (seed " + seed + ")");
      System.out.println("InteropStressTest: " + workers.size() + " workers and " + receivers.size()
          + " receivers on " + hosts.size() + " hosts; " + sent + " elements, " + locked
          + " critical sections");
    } finally {
      for (Host.Running h : hosts) {
        h.close();
      }
    }
  }

  /** A receiver: takes elements from {@code from} until it is closed and drained. */
  private static List<Item> receive(Host.Running host, Channel<Item> from) {
    List<Item> got = new ArrayList<>();
    try {
      for (;;) {
        got.add(from.receive());
        host.checkHost();
      }
    } catch (ChannelClosedException closed) {
      host.checkHost();
      return got;
    }
  }

  /**
   * A worker: until the deadline, sends numbered elements to random channels or increments a
   * random mutex's counter (sometimes suspending inside). Returns {sent, increments}.
   */
  private static int[] work(Host.Running host, int me, SplittableRandom random,
      List<Channel<Item>> channels, List<Guarded> mutexes, long deadline) {
    int sent = 0;
    int increments = 0;
    while (System.nanoTime() < deadline) {
      if (random.nextBoolean()) {
        channels.get(random.nextInt(channels.size())).send(new Item(me, sent));
        host.checkHost();
        sent++;
      } else {
        Guarded g = mutexes.get(random.nextInt(mutexes.size()));
        g.mutex.lock();
        try {
          host.checkHost();
          if (g.inside.incrementAndGet() != 1) {
            throw new AssertionError("two fibers inside one mutex");
          }
          long seen = g.count;
          if (random.nextInt(4) == 0) {
            Fiber.yield();
            host.checkHost();
          }
          g.count = seen + 1;
          g.inside.decrementAndGet();
        } finally {
          g.mutex.unlock();
        }
        host.checkHost();
        increments++;
      }
    }
    return new int[] {sent, increments};
  }
}
