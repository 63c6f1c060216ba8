package org.picos.context;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;

/**
 * Micrometer Observation, whose ThreadLocal is a stack of scopes, carried with no user code:
 * micrometer-observation registers its accessor in the global registry, and this module's jar
 * lists the context for ServiceLoader. Assertions are on (surefire's default), so an unbalanced
 * scope makes Micrometer's accessor throw, which the core reports on the carrier.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ObservationScopesTest {
  private final ObservationRegistry observations = ObservationRegistry.create();
  private final Carrier carrier = new Carrier();

  ObservationScopesTest() {
    observations.observationConfig().observationHandler(context -> true);
  }

  @AfterEach
  void close() {
    carrier.close();
  }

  @Test
  @SuppressWarnings("try") // the scope is open for the spawn inside it
  void fibersSeeTheObservationTheyWereSpawnedInAndTheCarriersScopeStaysItsOwn() throws Exception {
    Observation.Scope carrierScope = carrier.onCarrier(
        () -> Observation.start("carrier", observations).openScope());
    Computation<Void> gate = Computation.create();
    List<Computation<List<Observation>>> fibers = new ArrayList<>();
    List<Observation> requests = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      Observation request = Observation.start("request-" + r, observations);
      requests.add(request);
      try (Observation.Scope ignored = request.openScope()) {
        fibers.add(carrier.scheduler.start(() -> {
          List<Observation> seen = new ArrayList<>();
          for (int i = 0; i < 20; i++) {
            seen.add(observations.getCurrentObservation());
            Fiber.yield();
          }
          gate.await();
          seen.add(observations.getCurrentObservation());
          return seen;
        }));
      }
    }
    for (int i = 0; i < 10; i++) {
      assertSame(carrierScope, carrier.onCarrier(observations::getCurrentObservationScope),
          "between slices the carrier's current scope is its own, not one opened for a fiber");
    }
    gate.tryReturn(null);
    for (int r = 0; r < 2; r++) {
      List<Observation> seen = fibers.get(r).await();
      assertEquals(21, seen.size());
      for (Observation each : seen) {
        assertSame(requests.get(r), each, "fiber " + r + " sees its own observation");
      }
    }
    assertSame(carrierScope, carrier.onCarrier(observations::getCurrentObservationScope),
        "the carrier's scope stack is as it was: every scope opened for a fiber was closed");
    assertEquals(List.of(), carrier.reported);
    carrier.onCarrier(() -> {
      Observation.Scope current = observations.getCurrentObservationScope();
      assertNotNull(current);
      current.close();
      return null;
    });
  }
}
