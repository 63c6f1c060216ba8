package org.picos.std;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Fibers;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Condition;
import org.picos.std.sync.Event;
import org.picos.std.sync.Mutex;
import org.picos.std.sync.Semaphore;

/**
 * A fiber dump names the std primitive each fiber waits in, with the primitive's state, and
 * shows the user's frame in the fiber's stack; the primitives' toString says what a log needs.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class WaitDescriptionsTest {
  /** The user's frame every waiting fiber runs its wait from. */
  private static void waitHere(Runnable wait) {
    wait.run();
  }

  @Test
  void eachKindOfStdWaitIsDescribedWithItsPrimitiveAndTheUsersFrame() throws Exception {
    Mutex held = new Mutex();
    Mutex forCondition = new Mutex();
    Condition condition = new Condition();
    Semaphore none = new Semaphore(0);
    Channel<String> rendezvous = Channel.rendezvous();
    Channel<String> empty = Channel.bounded(2);
    Map<String, Runnable> waits = new LinkedHashMap<>();
    waits.put("Mutex.lock on Mutex[locked, 1 waiting]", held::lock);
    waits.put("Condition.await on Condition[1 waiting]", () -> {
      forCondition.lock();
      try {
        condition.await(forCondition);
      } finally {
        forCondition.unlock();
      }
    });
    waits.put("Semaphore.acquire on Semaphore[0 permits, 1 waiting]", none::acquire);
    waits.put("Channel.send on Channel[rendezvous]", () -> rendezvous.send("x"));
    waits.put("Channel.receive on Channel[0/2]", empty::receive);
    waits.put("Event.sync (a select over its offers)",
        () -> Event.select(Event.never(), Event.never()));
    try (Scheduler s = Schedulers.fifo()) {
      Computation<Void> holder = s.start(() -> {
        held.lock();
        return null;
      });
      holder.await();
      Map<String, Long> ids = new LinkedHashMap<>();
      for (Map.Entry<String, Runnable> w : waits.entrySet()) {
        Computation<Long> started = Computation.create();
        s.start(() -> {
          started.tryReturn(Fiber.current().id());
          waitHere(w.getValue());
          return null;
        });
        ids.put(w.getKey(), started.await());
      }
      for (Map.Entry<String, Long> e : ids.entrySet()) {
        Fibers.FiberInfo info = suspendedWithStack(e.getValue());
        assertEquals(e.getKey(), info.waitingFor());
        assertTrue(info.stack().stream().anyMatch(f -> f.getMethodName().equals("waitHere")
            && f.getClassName().equals(WaitDescriptionsTest.class.getName())), info.toString());
      }
      s.close(); // cancels every waiter
    }
    assertEquals("Mutex[locked, 0 waiting]", held.toString());
    assertEquals("Semaphore[0 permits, 0 waiting]", none.toString());
    assertEquals("Condition[0 waiting]", condition.toString());
  }

  @Test
  void computationBackedPrimitivesSayTheirStateAndAFiberWaitingInOneShowsIt() throws Exception {
    org.picos.std.sync.Latch latch = new org.picos.std.sync.Latch(2);
    org.picos.std.sync.Ivar<String> ivar = org.picos.std.sync.Ivar.create();
    Computation<Void> gate = Computation.create();
    org.picos.std.sync.Lazy<String> lazy = org.picos.std.sync.Lazy.of(() -> {
      gate.await();
      return "v";
    });
    assertEquals("Latch[2 to go]", latch.toString());
    assertEquals("Ivar[empty]", ivar.toString());
    assertEquals("Lazy[unforced]", lazy.toString());
    try (Scheduler s = Schedulers.fifo()) {
      Computation<Long> forcer = Computation.create();
      s.start(() -> {
        forcer.tryReturn(Fiber.current().id());
        return lazy.force();
      });
      long forcing = forcer.await();
      Computation<Long> waiter = Computation.create();
      s.start(() -> {
        waiter.tryReturn(Fiber.current().id());
        waitHere(lazy::force);
        return null;
      });
      Fibers.FiberInfo info = suspendedWithStack(waiter.await());
      assertTrue(info.waitingFor().startsWith("Lazy[forcing by Fiber#" + forcing), info.toString());
      gate.tryReturn(null);
      s.start(() -> lazy.force()).await();
    }
    assertEquals("Lazy[forced]", lazy.toString());
    latch.countDown();
    latch.countDown();
    assertEquals("Latch[open]", latch.toString());
    ivar.fill("x");
    assertEquals("Ivar[filled]", ivar.toString());
    org.picos.std.sync.Ivar<String> poisoned = org.picos.std.sync.Ivar.create();
    poisoned.poison(new IllegalStateException("bad"));
    assertEquals("Ivar[poisoned: java.lang.IllegalStateException: bad]", poisoned.toString());
  }

  private static Fibers.FiberInfo suspendedWithStack(long id) throws InterruptedException {
    for (int k = 0; k < 2000; k++) {
      List<Fibers.FiberInfo> dump = Fibers.dump();
      for (Fibers.FiberInfo i : dump) {
        if (i.id() == id && i.state() == Fibers.State.SUSPENDED && !i.stack().isEmpty()) {
          return i;
        }
      }
      Thread.sleep(5);
    }
    throw new AssertionError("fiber " + id + " never seen suspended: " + Fibers.dump());
  }
}
