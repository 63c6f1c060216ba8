package org.picos.tck.context;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.integration.Slf4jThreadLocalAccessor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.tck.context.LogCapture.Line;
import org.picos.tck.context.Places.Place;
import org.slf4j.Logger;
import org.slf4j.MDC;

/**
 * SLF4J's MDC (logback behind it) in fibers on every host, carried by picos-context with no
 * code of the application but registering {@link Slf4jThreadLocalAccessor}, as a Spring or
 * Reactor application does: seen after every await, never leaking between fibers sharing a
 * carrier, and the carrier's own MDC back whenever a fiber is suspended. Every check is made
 * twice: on {@code MDC.getCopyOfContextMap()} and on the lines logback formats with
 * {@code %X{requestId}}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MdcInFibersTest {
  private LogCapture log;
  private Logger logger;

  @BeforeAll
  static void registerMdc() {
    ContextRegistry.getInstance().registerThreadLocalAccessor(new Slf4jThreadLocalAccessor());
  }

  @AfterAll
  static void unregisterMdc() {
    ContextRegistry.getInstance().removeThreadLocalAccessor(Slf4jThreadLocalAccessor.KEY);
  }

  @BeforeEach
  void capture() {
    log = new LogCapture();
    logger = log.logger();
  }

  @AfterEach
  void release() {
    log.close();
    MDC.clear();
  }

  static List<org.junit.jupiter.api.Named<Supplier<Place>>> all() {
    return Places.all();
  }

  static List<org.junit.jupiter.api.Named<Supplier<Place>>> withCarrier() {
    return Places.withCarrier();
  }

  /** Awaits a computation completed from a common-pool thread. */
  static String foreign(String value) {
    Computation<String> c = Computation.create();
    ForkJoinPool.commonPool().execute(() -> c.tryReturn(value));
    return c.await();
  }

  /** The calling thread's MDC, sorted, as a string ("{}" when empty or absent). */
  static String mdc() {
    Map<String, String> m = MDC.getCopyOfContextMap();
    return String.valueOf(m == null ? Map.of() : new TreeMap<>(m));
  }

  private static void checkHost(Place place) {
    if (!place.onHost().getAsBoolean()) {
      throw new AssertionError("a fiber of " + place + " runs on " + Thread.currentThread());
    }
  }

  @ParameterizedTest
  @MethodSource("all")
  void theCallersMdcIsSeenInTheFiberAfterEveryYieldAndAwait(Supplier<Place> host) {
    try (Place place = host.get()) {
      MDC.put("requestId", "req-1");
      Computation<List<String>> fiber = place.scheduler().start(() -> {
        List<String> seen = new ArrayList<>();
        seen.add("start " + mdc());
        logger.info("start");
        Fiber.yield();
        seen.add("yield " + mdc());
        logger.info("after yield");
        Fiber.sleep(Duration.ofMillis(1));
        seen.add("sleep " + mdc());
        logger.info("after sleep");
        foreign("x");
        seen.add("foreign " + mdc());
        logger.info("after foreign");
        if (place.hostAwait() != null) {
          place.hostAwait().run();
          seen.add("host " + mdc());
          logger.info("after host await");
        }
        checkHost(place);
        return seen;
      });
      MDC.clear();
      List<String> seen = fiber.await();
      assertEquals(place.hostAwait() != null ? 5 : 4, seen.size());
      for (String s : seen) {
        assertTrue(s.endsWith(" {requestId=req-1}"), place + ": " + s);
      }
      List<Line> lines = log.lines();
      assertEquals(seen.size(), lines.size(), lines.toString());
      for (Line l : lines) {
        assertEquals("req-1", l.requestId(), place + " logged " + l);
      }
      assertEquals("{}", mdc(), "the caller's MDC is its own");
    }
  }

  @ParameterizedTest
  @MethodSource("all")
  void fibersInterleavingThroughAwaitsEachSeeOnlyTheirOwnMdc(Supplier<Place> host) {
    int rounds = 10;
    try (Place place = host.get()) {
      List<Computation<String>> turns = new ArrayList<>();
      for (int i = 0; i < 2 * rounds + 1; i++) {
        turns.add(Computation.create());
      }
      // a waits for the even turns and gives the odd ones; b the other way round, so the two
      // alternate on the carrier, each resumed by the other's completion.
      Computation<List<String>> a = startWith(place, "req-a", () -> {
        MDC.put("fiber", "a");
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
          turns.get(2 * i).await();
          seen.add(mdc());
          logger.info("a round {}", i);
          turns.get(2 * i + 1).tryReturn("from a");
        }
        return seen;
      });
      Computation<List<String>> b = startWith(place, "req-b", () -> {
        MDC.put("fiber", "b");
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
          turns.get(2 * i).tryReturn("from b");
          turns.get(2 * i + 1).await();
          seen.add(mdc());
          logger.info("b round {}", i);
          Fiber.yield();
        }
        return seen;
      });
      List<String> seenA = a.await();
      List<String> seenB = b.await();
      assertEquals(rounds, seenA.size());
      assertEquals(rounds, seenB.size());
      for (String s : seenA) {
        assertEquals("{fiber=a, requestId=req-a}", s, place + ": fiber a");
      }
      for (String s : seenB) {
        assertEquals("{fiber=b, requestId=req-b}", s, place + ": fiber b");
      }
      List<Line> lines = log.lines();
      assertEquals(2 * rounds, lines.size());
      for (Line l : lines) {
        String who = l.message().substring(0, 1);
        assertEquals("req-" + who, l.requestId(), place + " logged " + l);
        assertEquals(who, l.fiber(), place + " logged " + l);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("withCarrier")
  void theCarriersOwnMdcIsBackWheneverAFiberIsSuspended(Supplier<Place> host) throws Exception {
    try (Place place = host.get()) {
      onCarrier(place, () -> {
        MDC.put("requestId", "loop");
        return null;
      });
      List<String> plain = new CopyOnWriteArrayList<>();
      Runnable check = () -> {
        plain.add(mdc());
        logger.info("plain task");
      };
      Computation<List<String>> withMdc = startWith(place, "req-1", () -> {
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
          checkHost(place);
          place.carrier().execute(check); // runs on the carrier once this slice has ended
          Fiber.yield();
          seen.add(mdc());
          logger.info("fiber");
          place.carrier().execute(check);
          foreign("x");
          seen.add(mdc());
          logger.info("fiber");
        }
        return seen;
      });
      Computation<String> withNone = place.scheduler().start(() -> {
        checkHost(place);
        String first = mdc();
        place.carrier().execute(check);
        Fiber.yield();
        return first + " " + mdc();
      });
      for (String s : withMdc.await()) {
        assertEquals("{requestId=req-1}", s, place.toString());
      }
      assertEquals("{} {}", withNone.await(),
          "a fiber started with no MDC has none, not the carrier's, on " + place);
      onCarrier(place, () -> {
        check.run();
        return null;
      });
      assertEquals(12, plain.size());
      for (String s : plain) {
        assertEquals("{requestId=loop}", s, "the carrier's own MDC between slices on " + place);
      }
      for (Line l : log.lines()) {
        assertEquals(l.message().equals("plain task") ? "loop" : "req-1", l.requestId(),
            place + " logged " + l);
      }
      assertEquals(22, log.lines().size());
    }
  }

  /** Starts {@code body} with the MDC holding just {@code requestId}, leaving the caller's empty. */
  static <T> Computation<T> startWith(Place place, String requestId, java.util.concurrent.Callable<T> body) {
    MDC.put("requestId", requestId);
    try {
      return place.scheduler().start(body);
    } finally {
      MDC.clear();
    }
  }

  static <T> T onCarrier(Place place, java.util.concurrent.Callable<T> task) throws Exception {
    CompletableFuture<T> done = new CompletableFuture<>();
    place.carrier().execute(() -> {
      try {
        done.complete(task.call());
      } catch (Throwable e) {
        done.completeExceptionally(e);
      }
    });
    return done.get(30, TimeUnit.SECONDS);
  }
}
