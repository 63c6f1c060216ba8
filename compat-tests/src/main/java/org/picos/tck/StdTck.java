package org.picos.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.std.structured.Control;
import org.picos.std.structured.Flock;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Condition;
import org.picos.std.sync.Event;
import org.picos.std.sync.Ivar;
import org.picos.std.sync.Mutex;
import org.picos.std.sync.Semaphore;

/**
 * The std part of the compatibility kit: picos-std, written once on the core API, must behave
 * the same on every scheduler. Subclass it like {@link SchedulerTck}: supply
 * {@link #newScheduler()} (and {@link #checkHost()} if fibers must stay on a particular thread
 * or context); each test gets a fresh scheduler and closes it afterwards.
 *
 * <p>Covered: mutual exclusion under contention, exactly-once in-order channel delivery,
 * cancellation of a fiber waiting in a mutex, channel, semaphore, condition or ivar (the
 * primitive stays consistent), flock failure propagation, and select over channels, timeouts
 * and constants, and closing the scheduler while fibers are parked in every kind of wait and
 * scope ({@link ShutdownScenario}). Every test has a generous timeout so that a broken scheduler
 * fails instead of hanging; no test asserts on elapsed time.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
public abstract class StdTck {
  /** The scheduler under test, fresh for each test. */
  protected Scheduler scheduler;

  /** Returns a new scheduler to test; the kit closes it after each test. */
  protected abstract Scheduler newScheduler();

  /**
   * Called inside fibers after they resumed from a std wait: throw if the calling fiber is not
   * running where the scheduler promises (its event loop, its context).
   */
  protected void checkHost() {}

  @BeforeEach
  void createScheduler() {
    scheduler = newScheduler();
  }

  @AfterEach
  void closeScheduler() {
    assertTimeoutPreemptively(Duration.ofSeconds(30), scheduler::close,
        "close() of " + scheduler + " did not return");
  }

  /** Lets other fibers run until {@code condition} holds; fails after a generous bound. */
  private static void until(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    for (int i = 0; !condition.getAsBoolean(); i++) {
      if (System.nanoTime() > deadline) {
        fail("gave up waiting until " + what);
      }
      if (i % 64 == 63) {
        Control.sleep(Duration.ofMillis(1));
      } else {
        Fiber.yield();
      }
    }
  }

  /** A child fiber whose cancellation token is separate from its result. */
  private static final class Child<T> {
    final Computation<Void> token = Computation.create();
    final Computation<T> result = Computation.create();

    Child(Callable<T> body) {
      Fiber.spawn(Fiber.create(false, token), () -> result.tryCapture(body));
    }

    /** Cancels the child and returns the cause it ended with (after it really ended). */
    Throwable cancelAndJoin(String why) {
      CancellationException cause = new CancellationException(why);
      token.tryCancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, result::await));
      return cause;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Mutex and condition

  @Test
  protected void mutexExcludesUnderContention() {
    scheduler.run(() -> {
      Mutex mutex = new Mutex();
      AtomicInteger inside = new AtomicInteger();
      int[] counter = {0};
      List<Computation<Void>> fibers = new ArrayList<>();
      for (int f = 0; f < 8; f++) {
        fibers.add(Fiber.spawn(() -> {
          for (int i = 0; i < 100; i++) {
            mutex.lock();
            try {
              checkHost();
              assertEquals(1, inside.incrementAndGet(), "two fibers hold the mutex");
              int seen = counter[0];
              Fiber.yield();
              counter[0] = seen + 1;
              inside.decrementAndGet();
            } finally {
              mutex.unlock();
            }
          }
          return null;
        }));
      }
      for (Computation<Void> c : fibers) {
        c.await();
      }
      assertEquals(800, counter[0]);
      assertFalse(mutex.isLocked());
      return null;
    });
  }

  @Test
  protected void cancelledMutexWaiterLeavesItConsistent() {
    scheduler.run(() -> {
      Mutex mutex = new Mutex();
      mutex.lock();
      Child<Void> waiter = new Child<>(() -> mutex.protect(() -> null));
      Child<Void> next = new Child<>(() -> {
        until("first waiter queued", () -> mutex.queueLength() == 1);
        mutex.lock();
        checkHost();
        mutex.unlock();
        return null;
      });
      until("both queued", () -> mutex.queueLength() == 2);
      waiter.cancelAndJoin("cancelled lock");
      assertEquals(1, mutex.queueLength());
      mutex.unlock();
      next.result.await();
      assertFalse(mutex.isLocked());
      assertEquals(0, mutex.queueLength());
      return null;
    });
  }

  @Test
  protected void cancelledConditionWaiterRelocksAndForwardsNothingLost() {
    scheduler.run(() -> {
      Mutex mutex = new Mutex();
      Condition condition = new Condition();
      Child<Void> cancelled = new Child<>(() -> mutex.protect(() -> {
        condition.await(mutex);
        return null;
      }));
      until("waiting", () -> condition.queueLength() == 1);
      Child<Boolean> signalled = new Child<>(() -> mutex.protect(() -> {
        condition.await(mutex);
        checkHost();
        return mutex.isLocked();
      }));
      until("both waiting", () -> condition.queueLength() == 2);
      cancelled.cancelAndJoin("cancelled wait");
      assertEquals(1, condition.queueLength());
      condition.signal();
      assertTrue(signalled.result.await(), "woken with the mutex held");
      assertFalse(mutex.isLocked());
      return null;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Semaphore and ivar

  @Test
  protected void cancelledSemaphoreWaiterTakesNoPermit() {
    scheduler.run(() -> {
      Semaphore semaphore = new Semaphore(0);
      Child<Void> waiter = new Child<>(() -> {
        semaphore.acquire();
        return null;
      });
      until("waiting", () -> semaphore.queueLength() == 1);
      waiter.cancelAndJoin("cancelled acquire");
      assertEquals(0, semaphore.queueLength());
      semaphore.release();
      assertEquals(1, semaphore.availablePermits());
      assertTrue(semaphore.tryAcquire());
      return null;
    });
  }

  @Test
  protected void cancelledIvarReaderLeavesOthersToRead() {
    scheduler.run(() -> {
      Ivar<String> ivar = Ivar.create();
      Child<String> cancelled = new Child<>(ivar::read);
      Computation<String> reader = Fiber.spawn(() -> {
        String v = ivar.read();
        checkHost();
        return v;
      });
      Fiber.yield();
      cancelled.cancelAndJoin("cancelled read");
      ivar.fill("value");
      assertEquals("value", reader.await());
      return null;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Channels

  @Test
  protected void channelsDeliverExactlyOnceInOrder() {
    scheduler.run(() -> {
      for (Channel<Integer> channel : List.of(Channel.<Integer>rendezvous(), Channel.<Integer>bounded(4))) {
        int producers = 3;
        int each = 200;
        List<Computation<Void>> senders = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
          int base = p * each;
          senders.add(Fiber.spawn(() -> {
            for (int i = 0; i < each; i++) {
              channel.send(base + i);
            }
            return null;
          }));
        }
        List<Computation<List<Integer>>> receivers = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
          receivers.add(Fiber.spawn(() -> {
            List<Integer> got = new ArrayList<>();
            for (int item : channel) {
              got.add(item);
            }
            checkHost();
            return got;
          }));
        }
        for (Computation<Void> s : senders) {
          s.await();
        }
        channel.close();
        List<Integer> all = new ArrayList<>();
        for (Computation<List<Integer>> r : receivers) {
          List<Integer> got = r.await();
          for (int p = 0; p < producers; p++) {
            int lo = p * each;
            List<Integer> fromP = got.stream().filter(x -> x >= lo && x < lo + each).toList();
            assertEquals(fromP.stream().sorted().toList(), fromP, "elements of producer " + p + " out of order");
          }
          all.addAll(got);
        }
        Collections.sort(all);
        assertEquals(IntStream.range(0, producers * each).boxed().toList(), all, "lost or duplicated");
      }
      return null;
    });
  }

  @Test
  protected void cancelledChannelWaitersLoseNothing() {
    scheduler.run(() -> {
      Channel<String> channel = Channel.rendezvous();
      Child<Void> sender = new Child<>(() -> {
        channel.send("never delivered");
        return null;
      });
      until("sender waits", () -> channel.waitingSenders() == 1);
      sender.cancelAndJoin("cancelled send");
      assertEquals(0, channel.waitingSenders());
      assertTrue(channel.tryReceive().isEmpty(), "a cancelled send delivered its element");

      Child<String> receiver = new Child<>(channel::receive);
      until("receiver waits", () -> channel.waitingReceivers() == 1);
      receiver.cancelAndJoin("cancelled receive");
      assertEquals(0, channel.waitingReceivers());
      assertFalse(channel.trySend("nobody"), "a cancelled receiver still took elements");

      Computation<String> taker = Fiber.spawn(channel::receive);
      until("taker waits", () -> channel.waitingReceivers() == 1);
      channel.send("kept");
      assertEquals("kept", taker.await());
      return null;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Structured concurrency

  @Test
  protected void flockFailureTerminatesSiblingsAndIsRethrown() {
    scheduler.run(() -> {
      Channel<Integer> never = Channel.rendezvous();
      AtomicInteger terminated = new AtomicInteger();
      IllegalStateException failure = new IllegalStateException("child failed");
      IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> Flock.joinAfter(() -> {
        for (int i = 0; i < 3; i++) {
          Flock.fork(() -> {
            try {
              never.receive();
            } catch (Control.Terminate t) {
              checkHost();
              terminated.incrementAndGet();
              throw t;
            }
          });
        }
        until("siblings wait", () -> never.waitingReceivers() == 3);
        Flock.fork(() -> {
          throw failure;
        });
        return Control.block();
      }));
      assertSame(failure, thrown);
      assertEquals(3, terminated.get(), "the join waited for every sibling to be terminated");
      assertEquals(0, never.waitingReceivers());
      return null;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Select

  @Test
  protected void selectCommitsExactlyOneEvent() {
    scheduler.run(() -> {
      Computation<Integer> never = Computation.create();
      assertEquals(21, Event.select(Event.fromComputation(never), Event.always(20).map(x -> x + 1)));

      Channel<String> a = Channel.rendezvous();
      Channel<String> b = Channel.rendezvous();
      String timedOut = Event.select(a.receiveEvent(), b.receiveEvent(),
          Event.after(Duration.ofMillis(5)).map(x -> "timeout"));
      checkHost();
      assertEquals("timeout", timedOut);
      assertEquals(0, a.waitingReceivers() + b.waitingReceivers(), "losing offers were withdrawn");

      Computation<Void> sender = Fiber.spawn(() -> {
        b.send("from b");
        return null;
      });
      assertEquals("b:from b", Event.select(a.receiveEvent().map(x -> "a:" + x), b.receiveEvent().map(x -> "b:" + x)));
      sender.await();

      int n = 200;
      Computation<Void> selectingSender = Fiber.spawn(() -> {
        for (int i = 0; i < n; i++) {
          Event.select(a.sendEvent("a" + i), b.sendEvent("b" + i));
        }
        return null;
      });
      List<String> got = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        got.add(Event.select(a.receiveEvent(), b.receiveEvent()));
      }
      selectingSender.await();
      for (int i = 0; i < n; i++) {
        assertTrue(got.get(i).substring(1).equals(String.valueOf(i)), "element " + i + " was " + got.get(i));
      }
      return null;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Closing with fibers parked everywhere

  /**
   * Fibers parked in every kind of std wait and scope at once (see
   * {@link ShutdownScenario#parkStdWaits()}), then {@code close()}: it returns within a bound,
   * every fiber ends exactly once with a cancellation naming the close, every protected cleanup
   * completes, and no channel element is lost.
   */
  @Test
  protected void closeEndsFibersParkedInEveryKindOfWait() {
    ShutdownScenario scenario = new ShutdownScenario(scheduler).checkingHost(this::checkHost).parkStdWaits();
    scenario.awaitParked();
    ShutdownScenario.withinBound("close() of " + scheduler, ShutdownScenario.BOUND, scheduler::close);
    scenario.checkEnded("closed");
  }
}
