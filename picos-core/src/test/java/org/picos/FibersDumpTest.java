package org.picos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.sched.Schedulers;

@Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FibersDumpTest {
  private static Fibers.FiberInfo awaitSuspended(long id) throws InterruptedException {
    for (int k = 0; k < 2000; k++) {
      for (Fibers.FiberInfo i : Fibers.dump()) {
        if (i.id() == id && i.state() == Fibers.State.SUSPENDED) {
          return i;
        }
      }
      Thread.sleep(5);
    }
    throw new AssertionError("fiber " + id + " never seen suspended in " + Fibers.dump());
  }

  @Test
  void listsNamedSuspendedFibersOfFifoAndMultiWithWhatTheyWaitFor() throws Exception {
    for (Scheduler s : List.of(Schedulers.fifo(), Schedulers.multi(2))) {
      try (s) {
        Computation<String> gate = Computation.create();
        Fiber[] seen = new Fiber[1];
        Computation<String> waiter = s.start(() -> {
          seen[0] = Fiber.current();
          Fiber.current().setName("order-42");
          return gate.await();
        });
        while (seen[0] == null) {
          Thread.sleep(1);
        }
        Fibers.FiberInfo info = awaitSuspended(seen[0].id());
        assertEquals("order-42", info.name());
        assertEquals(s.toString(), info.scheduler());
        assertTrue(info.waitingFor().contains("Computation"), info.waitingFor());
        assertTrue(info.sinceMillis() > 0 && info.sinceMillis() <= System.currentTimeMillis());
        StringBuilder text = new StringBuilder();
        Fibers.print(text);
        assertTrue(text.toString().contains("Fiber#" + info.id() + " \"order-42\" SUSPENDED waiting for"),
            text.toString());
        String json = Fibers.toJson();
        assertTrue(json.startsWith("{\"fiberDump\":{\"time\":\"") && json.endsWith("]}}"), json);
        assertTrue(json.contains("\"id\":" + info.id() + ",\"name\":\"order-42\",\"state\":\"SUSPENDED\""), json);
        assertTrue(seen[0].toString().startsWith("Fiber#" + info.id() + " \"order-42\"["), seen[0].toString());
        gate.tryReturn("done");
        assertEquals("done", waiter.await());
      }
    }
  }

  @Test
  void dumpRacingTenThousandFibersStartingAndEndingNeverThrows() throws Exception {
    try (Scheduler s = Schedulers.multi(2)) {
      Computation<Void> all = s.start(() -> {
        for (int k = 0; k < 10_000; k++) {
          Fiber.spawn(() -> {
            Fiber.yield();
            return null;
          });
        }
        return null;
      });
      int dumps = 0;
      while (all.isRunning() || dumps < 10) {
        Fibers.toJson();
        Fibers.print(new StringBuilder());
        dumps++;
      }
      all.await();
      assertTrue(dumps >= 10);
    }
  }
}
