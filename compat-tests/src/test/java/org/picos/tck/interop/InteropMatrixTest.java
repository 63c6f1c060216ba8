package org.picos.tck.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.std.structured.Bundle;
import org.picos.std.structured.Control;
import org.picos.std.structured.Flock;
import org.picos.std.sync.Channel;
import org.picos.std.sync.ChannelClosedException;
import org.picos.std.sync.Latch;
import org.picos.std.sync.Mutex;

/**
 * The interop matrix: for every ordered pair of hosts (A, B), fibers on A and fibers on B share
 * one {@link Mutex}, one {@link Channel} and one {@link Computation}, and cancellation flows from
 * A to B: a fiber on A terminates a {@link Bundle} whose children run on B, a fiber on A cancels
 * a {@link Flock} on A whose children were started on B, and A's timer cancels a wait on B (the
 * pair (B, A) covers the other direction). Every fiber checks before and after each await that it
 * still runs on its own host. The two hosts of a pair serve all its scenarios.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InteropMatrixTest {

  static Stream<Arguments> pairs() {
    List<Arguments> pairs = new ArrayList<>();
    for (Host a : Hosts.all()) {
      for (Host b : Hosts.all()) {
        pairs.add(Arguments.of(a, b));
      }
    }
    return pairs.stream();
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("pairs")
  void sharedPrimitivesAndCancellationFromAToB(Host hostA, Host hostB) {
    try (Host.Running a = hostA.create().get(); Host.Running b = hostB.create().get()) {
      sharedComputation(a, b);
      sharedMutex(a, b);
      sharedChannel(a, b, Channel.rendezvous());
      sharedChannel(a, b, Channel.bounded(3));
      fiberOnATerminatesABundleOnB(a, b);
      fiberOnACancelsAFlockWithChildrenOnB(a, b);
      timeoutOnATimerCancelsAWaitOnB(a, b);
    }
  }

  /** A fiber body that may throw; {@code host} is the host it runs on, {@code id} its number. */
  private interface Body {
    void run(Host.Running host, int id) throws Exception;
  }

  /**
   * Starts {@code perSide} fibers on A and as many on B, each checking its host before and after
   * {@code body}, and waits for all of them, rethrowing the first failure.
   */
  private static void onBothSides(Host.Running a, Host.Running b, int perSide, Body body) {
    List<Computation<Object>> fibers = new ArrayList<>();
    int id = 0;
    for (Host.Running host : List.of(a, b)) {
      for (int i = 0; i < perSide; i++) {
        int me = id++;
        fibers.add(host.scheduler().start(() -> {
          host.checkHost();
          body.run(host, me);
          host.checkHost();
          return null;
        }));
      }
    }
    for (Computation<Object> fiber : fibers) {
      fiber.await();
    }
  }

  /** B returns a computation that fibers on A await; A cancels one that fibers on B await. */
  private static void sharedComputation(Host.Running a, Host.Running b) {
    Computation<String> returnedByB = Computation.create();
    Computation<String> canceledByA = Computation.create();
    CancellationException cause = new CancellationException("cancelled by A");
    List<Computation<Object>> waiters = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      waiters.add(a.scheduler().start(() -> {
        a.checkHost();
        String v = returnedByB.await();
        a.checkHost();
        return v;
      }));
      waiters.add(b.scheduler().start(() -> {
        b.checkHost();
        try {
          return canceledByA.await();
        } catch (CancellationException e) {
          b.checkHost();
          return e;
        }
      }));
    }
    b.scheduler().run(() -> {
      b.checkHost();
      Fiber.yield();
      b.checkHost();
      return returnedByB.tryReturn("from B");
    });
    a.scheduler().run(() -> {
      a.checkHost();
      Fiber.yield();
      a.checkHost();
      return canceledByA.tryCancel(cause);
    });
    for (int i = 0; i < waiters.size(); i += 2) {
      assertEquals("from B", waiters.get(i).await());
      assertSame(cause, waiters.get(i + 1).await());
    }
  }

  /**
   * Four fibers on each side take one mutex 25 times each and suspend inside the critical
   * section: never two inside at once, and no increment of the guarded counter is lost.
   */
  private static void sharedMutex(Host.Running a, Host.Running b) {
    Mutex mutex = new Mutex();
    AtomicInteger inside = new AtomicInteger();
    int[] counter = {0}; // guarded by mutex
    onBothSides(a, b, 4, (host, id) -> {
      for (int i = 0; i < 25; i++) {
        mutex.lock();
        try {
          host.checkHost();
          assertEquals(1, inside.incrementAndGet(), "two fibers inside the mutex");
          int seen = counter[0];
          Fiber.yield(); // suspended while holding the lock
          host.checkHost();
          counter[0] = seen + 1;
          inside.decrementAndGet();
        } finally {
          mutex.unlock();
        }
        host.checkHost();
      }
    });
    assertEquals(2 * 4 * 25, mutex.protect(() -> counter[0]));
  }

  /** An element of {@link #sharedChannel}: the {@code seq}th element of sender {@code sender}. */
  private record Item(int sender, int seq) {}

  /**
   * Two senders and two receivers on each side share {@code channel}: once the senders are done
   * and the channel closed, every element was received exactly once, and each receiver got each
   * sender's elements in the order they were sent.
   */
  private static void sharedChannel(Host.Running a, Host.Running b, Channel<Item> channel) {
    int perSender = 30;
    ConcurrentLinkedQueue<List<Item>> received = new ConcurrentLinkedQueue<>();
    List<Computation<Object>> receivers = new ArrayList<>();
    for (Host.Running host : List.of(a, b)) {
      for (int r = 0; r < 2; r++) {
        receivers.add(host.scheduler().start(() -> {
          List<Item> mine = new ArrayList<>();
          try {
            for (;;) {
              host.checkHost();
              mine.add(channel.receive());
              host.checkHost();
            }
          } catch (ChannelClosedException closed) {
            host.checkHost();
          }
          received.add(mine);
          return null;
        }));
      }
    }
    onBothSides(a, b, 2, (host, id) -> {
      for (int seq = 0; seq < perSender; seq++) {
        channel.send(new Item(id, seq));
        host.checkHost();
      }
    });
    channel.close();
    for (Computation<Object> r : receivers) {
      r.await();
    }
    Set<Item> all = new HashSet<>();
    for (List<Item> mine : received) {
      Map<Integer, Integer> lastSeq = new HashMap<>();
      for (Item item : mine) {
        assertTrue(all.add(item), () -> item + " received twice");
        Integer last = lastSeq.put(item.sender(), item.seq());
        assertTrue(last == null || last < item.seq(), () -> item + " received after " + last);
      }
    }
    assertEquals(4 * perSender, all.size(), "elements lost");
  }

  /**
   * A bundle's body and children run on B; a fiber on A terminates the bundle, and each child
   * sees the termination on its own host; the join on B then ends with the {@code Terminate}.
   */
  private static void fiberOnATerminatesABundleOnB(Host.Running a, Host.Running b) {
    int children = 3;
    Computation<Bundle> scope = Computation.create();
    Latch ready = new Latch(children);
    AtomicInteger terminated = new AtomicInteger();
    Computation<Void> owner = b.scheduler().start(() -> Bundle.joinAfter(bundle -> {
      b.checkHost();
      for (int i = 0; i < children; i++) {
        bundle.fork(() -> {
          b.checkHost();
          ready.countDown();
          try {
            Control.block();
          } catch (Control.Terminate t) {
            b.checkHost();
            terminated.incrementAndGet();
            throw t;
          }
        });
      }
      scope.tryReturn(bundle);
      return Control.block();
    }));
    a.scheduler().run(() -> {
      a.checkHost();
      Bundle bundle = scope.await();
      a.checkHost();
      ready.await();
      a.checkHost();
      bundle.terminate();
      return null;
    });
    assertThrows(Control.Terminate.class, owner::await);
    assertEquals(children, terminated.get());
  }

  /**
   * A flock on A whose children are fibers started on B by members forked on A, each tied to
   * the flock's cancellation token by {@link Computation#attachCanceler} and joined by its
   * member. Another fiber on A cancels the flock's owner: each child on B sees that very cause
   * on its own host, and the owner's join ends with it only after every child on B has finished
   * unwinding.
   *
   * <p>A child's computation completes as soon as it is cancelled, while its fiber may still be
   * unwinding, so the joining member waits for a computation the child returns as its very last
   * step, not for the child's computation.
   */
  private static void fiberOnACancelsAFlockWithChildrenOnB(Host.Running a, Host.Running b) {
    int children = 3;
    CancellationException cause = new CancellationException("flock cancelled from A");
    Latch ready = new Latch(children);
    ConcurrentLinkedQueue<Computation<Object>> onB = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Computation<Void>> finished = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Throwable> seenOnB = new ConcurrentLinkedQueue<>();
    Computation<Throwable> joined = Computation.create();
    Computation<Void> owner = a.scheduler().start(() -> {
      try {
        return Flock.joinAfter(
            () -> scopeWithChildrenOn(a, b, children, ready, onB, finished, seenOnB));
      } catch (RuntimeException t) {
        a.checkHost();
        joined.tryReturn(t);
        throw t;
      }
    });
    a.scheduler().run(() -> {
      a.checkHost();
      ready.await();
      a.checkHost();
      return owner.tryCancel(cause);
    });
    assertSame(cause, assertThrows(CancellationException.class, owner::await));
    assertSame(cause, joined.await(), "the flock's join ended with another outcome");
    assertEquals(children, onB.size());
    for (Computation<Object> child : onB) {
      assertSame(cause, child.canceled());
    }
    for (Computation<Void> ended : finished) {
      assertTrue(ended.isReturned(), "the flock's join returned before a child on B ended");
    }
    assertEquals(children, seenOnB.size());
    seenOnB.forEach(seen -> assertSame(cause, seen));
  }

  /**
   * The body of the flock of {@link #fiberOnACancelsAFlockWithChildrenOnB}, run by a fiber on A:
   * forks {@code children} members on A, each of which starts a fiber on B, ties it to the
   * flock's cancellation token and waits for its end. The member exists before its child starts,
   * so the flock's join cannot miss a child, whenever the cancellation comes.
   */
  private static Void scopeWithChildrenOn(Host.Running a, Host.Running b, int children, Latch ready,
      Queue<Computation<Object>> onB, Queue<Computation<Void>> finished, Queue<Throwable> seenOnB) {
    a.checkHost();
    for (int i = 0; i < children; i++) {
      Flock.fork(() -> {
        a.checkHost();
        Computation<Void> ended = Computation.create();
        Computation<Object> child = b.scheduler().start(() -> {
          try {
            b.checkHost();
            ready.countDown();
            return Control.block();
          } catch (CancellationException e) {
            b.checkHost();
            seenOnB.add(e);
            throw e;
          } finally {
            ended.tryReturn(null);
          }
        });
        onB.add(child);
        finished.add(ended);
        Computation<?> token = Fiber.current().computation();
        Trigger canceler = Computation.attachCanceler(token, child);
        Control.protect(ended::await);
        a.checkHost();
        token.detach(canceler);
      });
    }
    return Control.block();
  }

  /** A fiber on A arms A's timer to cancel a fiber waiting on B. */
  private static void timeoutOnATimerCancelsAWaitOnB(Host.Running a, Host.Running b) {
    CancellationException cause = new CancellationException("timed out by A");
    Computation<Object> never = Computation.create();
    Computation<Object> fiberOnB = b.scheduler().start(() -> {
      b.checkHost();
      try {
        return never.await();
      } finally {
        b.checkHost();
      }
    });
    a.scheduler().run(() -> {
      a.checkHost();
      fiberOnB.cancelAfter(Duration.ofMillis(10), cause);
      return null;
    });
    assertSame(cause, assertThrows(CancellationException.class, fiberOnB::await));
  }
}
