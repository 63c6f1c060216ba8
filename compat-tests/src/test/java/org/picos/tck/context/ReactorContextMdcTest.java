package org.picos.tck.context;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.context.ContextRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.parallel.Isolated;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.picos.Fiber;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.tck.context.LogCapture.Line;
import org.picos.tck.context.Places.Place;
import org.slf4j.Logger;
import org.slf4j.MDC;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.util.context.Context;

/**
 * A Reactor application's request id, kept in the Reactor Context and mirrored into the SLF4J
 * MDC the way Reactor's documentation shows (a {@code ThreadLocalAccessor} for the MDC key,
 * registered in {@link ContextRegistry}, and {@code Hooks.enableAutomaticContextPropagation()}),
 * in the fibers of {@code PicosReactor.mono} on every host, checked on the lines logback
 * formats with {@code %X{requestId}}: the fiber logs its subscriber's request id after every
 * kind of await, never another subscriber's, never the subscribing thread's own; and a request
 * id a fiber puts in the MDC reaches the Reactor operators of what it awaits.
 */
@Isolated("Hooks.enableAutomaticContextPropagation and the ContextRegistry are JVM-wide")
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ReactorContextMdcTest {
  private static final String KEY = "requestId";
  private LogCapture log;
  private Logger logger;

  @BeforeAll
  static void mirrorTheRequestIdIntoTheMdc() {
    ContextRegistry.getInstance().registerThreadLocalAccessor(
        KEY, () -> MDC.get(KEY), id -> MDC.put(KEY, id), () -> MDC.remove(KEY));
  }

  @AfterAll
  static void removeTheMirror() {
    ContextRegistry.getInstance().removeThreadLocalAccessor(KEY);
  }

  @BeforeEach
  void start() {
    Hooks.enableAutomaticContextPropagation();
    log = new LogCapture();
    logger = log.logger();
  }

  @AfterEach
  void stop() {
    Hooks.disableAutomaticContextPropagation();
    log.close();
    MDC.clear();
  }

  static List<Named<Supplier<Place>>> all() {
    return Places.all();
  }

  /** The request id of the subscription this fiber serves, read from the Reactor Context. */
  private static String subscription() {
    return PicosReactor.context().getOrDefault(KEY, "none");
  }

  @ParameterizedTest
  @MethodSource("all")
  void eachMonoFiberLogsItsSubscribersRequestIdAfterEveryAwait(Supplier<Place> host)
      throws Exception {
    try (Place place = host.get()) {
      Mono<String> mono = PicosReactor.mono(place.scheduler(), () -> {
        logger.info("{} start", subscription());
        Fiber.yield();
        logger.info("{} after yield", subscription());
        PicosReactor.await(Mono.delay(Duration.ofMillis(2)));
        logger.info("{} after a Reactor await", subscription());
        if (place.hostAwait() != null) {
          place.hostAwait().run();
          logger.info("{} after a host await", subscription());
        }
        return String.valueOf(MDC.get(KEY));
      });
      // The subscribing thread's own request id: no fiber may log it.
      MDC.put(KEY, "subscriber");
      CompletableFuture<String> a = mono.contextWrite(Context.of(KEY, "req-a")).toFuture();
      CompletableFuture<String> b = mono.contextWrite(Context.of(KEY, "req-b")).toFuture();
      CompletableFuture<String> none = mono.toFuture(); // no request id: the MDC has none
      assertEquals("req-a", a.get(30, TimeUnit.SECONDS), place.name());
      assertEquals("req-b", b.get(30, TimeUnit.SECONDS), place.name());
      assertEquals("null", none.get(30, TimeUnit.SECONDS), place.name());
      assertEquals("subscriber", MDC.get(KEY), "the subscribing thread's MDC is its own");

      List<Line> lines = log.lines();
      int each = place.hostAwait() != null ? 4 : 3;
      assertEquals(3 * each, lines.size(), lines.toString());
      for (Line l : lines) {
        assertEquals(l.message().split(" ", 2)[0], l.requestId(), place + " logged " + l);
      }
      Map<String, Long> perRequest =
          lines.stream().collect(Collectors.groupingBy(Line::requestId, Collectors.counting()));
      assertEquals(Map.of("req-a", (long) each, "req-b", (long) each, "none", (long) each),
          perRequest, place.name());
    }
  }

  @ParameterizedTest
  @MethodSource("all")
  void aRequestIdPutInTheMdcByAFiberReachesWhatItAwaits(Supplier<Place> host) {
    try (Place place = host.get()) {
      // A result completed on a thread of no Reactor scheduler, whose own MDC says otherwise:
      // Reactor sets the MDC of the operators after fromFuture from the subscriber's Context.
      Function<String, Mono<String>> lookup = id -> Mono.fromFuture(() -> {
            CompletableFuture<String> result = new CompletableFuture<>();
            Thread completing = new Thread(() -> {
              MDC.put(KEY, "completing-thread");
              result.complete(id);
            }, "completing-thread");
            completing.setDaemon(true);
            completing.start();
            return result;
          })
          .doOnNext(v -> logger.info("upstream {}", v))
          .map(v -> v + ":" + MDC.get(KEY));
      String seen = place.scheduler().start(() -> {
        assertNull(MDC.get(KEY));
        MDC.put(KEY, "req-f");
        return PicosReactor.await(lookup.apply("first"))
            + "," + PicosReactor.awaitFirst(lookup.apply("second").flux());
      }).await();
      assertEquals("first:req-f,second:req-f", seen, place.name());
      List<Line> lines = log.lines();
      assertEquals(2, lines.size(), lines.toString());
      for (Line l : lines) {
        assertEquals("req-f", l.requestId(), place + " logged " + l);
        assertTrue(l.message().startsWith("upstream "), l.toString());
      }
    }
  }
}
