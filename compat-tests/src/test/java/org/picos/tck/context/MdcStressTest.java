package org.picos.tck.context;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.integration.Slf4jThreadLocalAccessor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
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
 * Many fibers, each with a request id of its own and an MDC entry it adds itself, interleaving
 * on few carriers through yields, awaits of other threads' completions, and children (which
 * start with their parent's MDC); every fiber checks its whole MDC at every step and logs a
 * line, and every line logback formatted must carry the id of the fiber that logged it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MdcStressTest {
  private static final int FIBERS = 32;
  private static final int STEPS = 25;

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

  static List<Named<Supplier<Place>>> hosts() {
    return List.of(
        Named.of("multi(2)", () -> Places.core("multi(2)", org.picos.sched.Schedulers.multi(2), "multi(2)")),
        Named.of("netty event loop", Places::nettyLoop),
        Named.of("vertx context", Places::vertxContext),
        Named.of("reactor parallel(2)", () -> Places.reactorParallel(2)));
  }

  @ParameterizedTest
  @MethodSource("hosts")
  void everyFiberSeesOnlyItsOwnMdcAtEveryStep(Supplier<Place> host) {
    try (Place place = host.get()) {
      List<Computation<List<String>>> fibers = new ArrayList<>();
      for (int f = 0; f < FIBERS; f++) {
        int id = f;
        fibers.add(MdcInFibersTest.startWith(place, "req-" + id, () -> body(id)));
      }
      for (int f = 0; f < FIBERS; f++) {
        List<String> wrong = fibers.get(f).await();
        assertEquals(List.of(), wrong, place + ": fiber " + f + " saw another MDC");
      }
      List<Line> lines = log.lines();
      int children = 0;
      for (Line l : lines) {
        String id = l.message().substring(l.message().indexOf('-') + 1, l.message().indexOf(' '));
        assertEquals("req-" + id, l.requestId(), place + " logged " + l);
        assertEquals("f" + id, l.fiber(), place + " logged " + l);
        if (l.message().contains("child")) {
          children++;
        }
      }
      assertEquals(FIBERS * STEPS, lines.size() - children, "one line per step of every fiber");
    }
  }

  /** Runs the steps of fiber {@code id}; returns what it saw that it should not have. */
  private List<String> body(int id) {
    MDC.put("fiber", "f" + id);
    String expected = String.valueOf(new TreeMap<>(Map.of("requestId", "req-" + id, "fiber", "f" + id)));
    List<String> wrong = new ArrayList<>();
    SplittableRandom random = new SplittableRandom(id);
    for (int step = 0; step < STEPS; step++) {
      switch (random.nextInt(3)) {
        case 0 -> Fiber.yield();
        case 1 -> MdcInFibersTest.foreign("x");
        default -> {
          Computation<String> child = Fiber.spawn(() -> {
            Fiber.yield();
            String seen = MdcInFibersTest.mdc();
            logger.info("fiber-{} child", id);
            return seen;
          });
          String seen = child.await();
          if (!seen.equals(expected)) {
            wrong.add("child: " + seen);
          }
        }
      }
      String seen = MdcInFibersTest.mdc();
      if (!seen.equals(expected)) {
        wrong.add("step " + step + ": " + seen);
      }
      logger.info("fiber-{} step {}", id, step);
    }
    return wrong;
  }
}
