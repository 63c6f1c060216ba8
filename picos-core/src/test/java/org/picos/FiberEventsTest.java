package org.picos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.parallel.Isolated;
import org.picos.sched.Schedulers;

/** The JFR events, recorded by a real {@link RecordingStream} and read back. */
@Isolated
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FiberEventsTest {
  /**
   * Awaits in its static initializer: the class initializer pins the fiber. A class of this
   * test's own, not {@code SchedulerBehaviourTest}'s alike one: an initializer runs once per
   * JVM, and this test must see its pinned await happen while it records.
   */
  static final class AwaitsInInitializer {
    static final Throwable FAILURE;

    static {
      Throwable failure = null;
      try {
        Trigger.create().await();
      } catch (IllegalStateException e) {
        failure = e;
      }
      FAILURE = failure;
    }
  }

  private static void stallTheCarrier() throws InterruptedException {
    Thread.sleep(400);
  }

  @Test
  void startEndLongSuspensionBlockedCarrierAndPinnedAwaitAreRecorded() throws Exception {
    List<RecordedEvent> events = new CopyOnWriteArrayList<>();
    CountDownLatch sawMarker = new CountDownLatch(1);
    long[] ids = new long[3];
    try (RecordingStream rs = new RecordingStream()) {
      for (String name : List.of("org.picos.FiberStart", "org.picos.FiberEnd",
          "org.picos.BlockedCarrier", "org.picos.PinnedAwait")) {
        rs.enable(name);
        rs.onEvent(name, events::add);
      }
      rs.enable("org.picos.FiberSuspended").withThreshold(Duration.ofMillis(50));
      rs.onEvent("org.picos.FiberSuspended", events::add);
      rs.enable(Marker.class);
      rs.onEvent("org.picos.test.Marker", e -> sawMarker.countDown());
      rs.startAsync();

      BlockedCarriers.setThreshold(Duration.ofMillis(100));
      BlockedCarriers.setReporter(stall -> {}); // the JFR event is what this test reads
      try (Scheduler fifo = Schedulers.fifo()) {
        fifo.start(() -> {
          Fiber.current().setName("jfr-sleeper");
          ids[0] = Fiber.current().id();
          Fiber.sleep(Duration.ofMillis(200)); // a long suspension
          Fiber.sleep(Duration.ofMillis(1)); // a short one, under the threshold
          return null;
        }).await();
        fifo.start(() -> {
          ids[1] = Fiber.current().id();
          stallTheCarrier();
          return null;
        }).await();
        Throwable refused = fifo.run(() -> {
          ids[2] = Fiber.current().id();
          return AwaitsInInitializer.FAILURE;
        });
        assertNotNull(refused);
      } finally {
        BlockedCarriers.setThreshold(Duration.ofMillis(BlockedCarriers.DEFAULT_THRESHOLD_MILLIS));
        BlockedCarriers.setReporter(null);
      }
      Marker m = new Marker();
      m.commit(); // events are delivered in order: once the marker arrives, so have ours
      assertTrue(sawMarker.await(20, TimeUnit.SECONDS), "the recording delivered nothing");
    }

    for (long id : ids) {
      assertEquals(1, count(events, "org.picos.FiberStart", e -> e.getLong("fiberId") == id), "start of " + id);
      assertEquals(1, count(events, "org.picos.FiberEnd", e -> e.getLong("fiberId") == id), "end of " + id);
    }
    assertEquals(1, count(events, "org.picos.FiberEnd", e -> e.getLong("fiberId") == ids[0]
        && "jfr-sleeper".equals(e.getString("fiberName"))), "the end carries the name");

    List<RecordedEvent> suspended = events.stream()
        .filter(e -> e.getEventType().getName().equals("org.picos.FiberSuspended")
            && e.getLong("fiberId") == ids[0]).toList();
    assertEquals(1, suspended.size(), "only the wait over the threshold: " + suspended + " of " + events);
    RecordedEvent s = suspended.get(0);
    assertTrue(s.getDuration().toMillis() >= 150, s.toString());
    assertTrue(s.getString("waitingFor") != null && !s.getString("waitingFor").isBlank(), s.toString());
    assertEquals("jfr-sleeper", s.getString("fiberName"));

    List<RecordedEvent> blocked = events.stream()
        .filter(e -> e.getEventType().getName().equals("org.picos.BlockedCarrier")
            && e.getLong("fiberId") == ids[1]).toList();
    assertEquals(1, blocked.size(), blocked.toString());
    RecordedEvent b = blocked.get(0);
    assertTrue(b.getDuration("blockedFor").toMillis() >= 100, b.toString());
    assertTrue(b.getString("carrierStackTrace").contains("stallTheCarrier"), b.getString("carrierStackTrace"));
    assertNotNull(b.getThread("carrier"));

    List<RecordedEvent> pinned = events.stream()
        .filter(e -> e.getEventType().getName().equals("org.picos.PinnedAwait")
            && e.getLong("fiberId") == ids[2]).toList();
    assertEquals(1, pinned.size(), pinned.toString());
    assertTrue(pinned.get(0).getString("reason").contains("native frame"), pinned.get(0).toString());
  }

  private static long count(List<RecordedEvent> events, String type, Predicate<RecordedEvent> p) {
    return events.stream().filter(e -> e.getEventType().getName().equals(type)).filter(p).count();
  }

  /** The last event of the test, to know the stream has caught up. */
  @jdk.jfr.Name("org.picos.test.Marker")
  static final class Marker extends jdk.jfr.Event {}
}
