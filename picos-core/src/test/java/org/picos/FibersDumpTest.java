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
        // A fiber caught between its await and its carrier's yield is listed without a stack.
        if (i.id() == id && i.state() == Fibers.State.SUSPENDED && !i.stack().isEmpty()) {
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
  void aSleepSaysUntilWhenAScopeIsShownAndFailingToStringsDoNotFailTheDump() throws Exception {
    Object badScope = new Object() {
      @Override
      public String toString() {
        throw new IllegalStateException("scope toString broke");
      }
    };
    try (Scheduler s = Schedulers.fifo()) {
      Computation<Long> sleeper = Computation.create();
      long before = System.currentTimeMillis();
      s.start(() -> {
        Fiber.current().setScope("request 7 of client 3");
        sleeper.tryReturn(Fiber.current().id());
        Fiber.sleep(java.time.Duration.ofHours(2));
        return null;
      });
      Computation<Long> odd = Computation.create();
      Computation<Object> gate = Computation.create();
      s.start(() -> {
        Fiber.current().setScope(badScope);
        odd.tryReturn(Fiber.current().id());
        return gate.awaitDescribed(badScope);
      });
      Fibers.FiberInfo sleeping = awaitSuspended(sleeper.await());
      String until = sleeping.waitingFor();
      assertTrue(until.startsWith("Fiber.sleep until "), until);
      long wakeAt = java.time.Instant.parse(until.substring("Fiber.sleep until ".length())).toEpochMilli();
      assertTrue(wakeAt >= before + 7_200_000 && wakeAt <= System.currentTimeMillis() + 7_200_000, until);
      assertEquals("request 7 of client 3", sleeping.scope());
      Fibers.FiberInfo broken = awaitSuspended(odd.await());
      assertTrue(broken.scope().contains("its toString failed: java.lang.IllegalStateException: scope toString broke"),
          broken.toString());
      assertTrue(broken.waitingFor().contains("its description failed"), broken.toString());
      String text = Fibers.toText();
      assertTrue(text.contains("    in request 7 of client 3\n"), text);
      assertTrue(Fibers.toJson().contains("\"scope\":\"request 7 of client 3\""));
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

  /** Parses the JSON dump with a real parser and finds {@code info}'s fiber in it. */
  private static void assertJsonLists(String json, Fibers.FiberInfo info) throws Exception {
    com.fasterxml.jackson.databind.JsonNode root =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(json).get("fiberDump");
    assertTrue(root.get("time").isTextual(), json);
    com.fasterxml.jackson.databind.JsonNode found = null;
    for (com.fasterxml.jackson.databind.JsonNode s : root.get("schedulers")) {
      for (com.fasterxml.jackson.databind.JsonNode f : s.get("fibers")) {
        if (f.get("id").asLong() == info.id()) {
          assertEquals(info.scheduler(), s.get("name").asText());
          found = f;
        }
      }
    }
    assertTrue(found != null, "fiber " + info.id() + " in " + json);
    assertEquals("SUSPENDED", found.get("state").asText());
    assertEquals(info.waitingFor(), found.get("waitingFor").asText());
    assertTrue(found.get("since").isTextual() && found.get("thread").isNull(), found.toString());
    boolean userFrame = false;
    for (com.fasterxml.jackson.databind.JsonNode frame : found.get("stack")) {
      userFrame |= frame.asText().startsWith("org.picos.FibersDumpTest.waitInUserCode(");
    }
    assertTrue(userFrame, found.toString());
  }

  /** The frame the dump must show: the user's own method, suspended inside. */
  private static String waitInUserCode(Computation<String> gate) {
    return gate.await();
  }

  @Test
  void aSuspendedFibersStackHoldsTheUsersFrameOnEveryCoreScheduler() throws Exception {
    for (Scheduler s : List.of(Schedulers.fifo(), Schedulers.multi(2), Schedulers.threadPerFiber())) {
      try (s) {
        Computation<String> gate = Computation.create();
        Fiber[] seen = new Fiber[1];
        Computation<String> waiter = s.start(() -> {
          seen[0] = Fiber.current();
          return waitInUserCode(gate);
        });
        while (seen[0] == null) {
          Thread.sleep(1);
        }
        Fibers.FiberInfo info = awaitSuspended(seen[0].id());
        assertTrue(info.stack().stream().anyMatch(f -> f.getMethodName().equals("waitInUserCode")
            && f.getClassName().equals(FibersDumpTest.class.getName())), s + ": " + info.stack());
        StringBuilder text = new StringBuilder();
        Fibers.print(text);
        assertTrue(text.toString().contains("      at org.picos.FibersDumpTest.waitInUserCode("),
            text.toString());
        assertJsonLists(Fibers.toJson(), info);
        gate.tryReturn("done");
        assertEquals("done", waiter.await(), s.toString());
      }
    }
  }

  @Test
  void aFiberRunningOnAFifoCarrierIsListedAsRunningOnThatThread() throws Exception {
    try (Scheduler s = Schedulers.fifo()) {
      java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
      Fiber[] seen = new Fiber[1];
      String[] carrier = new String[1];
      Computation<Void> spinner = s.start(() -> {
        carrier[0] = Thread.currentThread().getName();
        seen[0] = Fiber.current();
        while (!stop.get()) {
          Thread.onSpinWait();
        }
        return null;
      });
      try {
        Fibers.FiberInfo running = null;
        for (int k = 0; k < 2000 && running == null; k++) {
          for (Fibers.FiberInfo i : Fibers.dump()) {
            if (seen[0] != null && i.id() == seen[0].id() && i.state() == Fibers.State.RUNNING) {
              running = i;
            }
          }
          Thread.sleep(5);
        }
        assertTrue(running != null, "never seen running: " + Fibers.dump());
        assertEquals(carrier[0], running.thread());
        assertTrue(running.stack().isEmpty() && running.waitingFor() == null, running.toString());
      } finally {
        stop.set(true);
      }
      spinner.await();
    }
  }

  /**
   * Dumps reading stacks while fibers are signalled: a resume that arrives while a dump holds
   * the fiber is run by the dump, never lost and never run twice (each round-trip completes,
   * and a double resume would run a continuation twice and fail its fiber).
   */
  @Test
  void stacksReadWhileFibersAreResumedNeverLoseOrDoubleAResume() throws Exception {
    try (Scheduler s = Schedulers.multi(2)) {
      int fibers = 64;
      int rounds = 300;
      Computation<Integer> all = s.start(() -> {
        java.util.List<Computation<Integer>> children = new java.util.ArrayList<>();
        for (int f = 0; f < fibers; f++) {
          children.add(Fiber.spawn(() -> {
            int done = 0;
            for (int r = 0; r < rounds; r++) {
              Trigger t = Trigger.create("round " + r);
              Computation<Void> signaller = Fiber.spawn(() -> {
                Fiber.yield();
                t.signal();
                return null;
              });
              t.await();
              signaller.await();
              done++;
            }
            return done;
          }));
        }
        int sum = 0;
        for (Computation<Integer> c : children) {
          sum += c.await();
        }
        return sum;
      });
      int dumps = 0;
      long stacks = 0;
      while (all.isRunning()) {
        for (Fibers.FiberInfo i : Fibers.dump()) {
          stacks += i.stack().size();
        }
        dumps++;
      }
      assertEquals(fibers * rounds, all.await());
      assertTrue(dumps > 0 && stacks > 0, dumps + " dumps read " + stacks + " frames");
    }
  }
}
