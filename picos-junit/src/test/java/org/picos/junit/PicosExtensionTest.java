package org.picos.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;
import org.picos.Fibers;

/** The extension's contract, checked by running fixture classes through the JUnit engine. */
class PicosExtensionTest {
  private static Events run(Class<?> fixture) {
    return EngineTestKit.engine("junit-jupiter").selectors(selectClass(fixture)).execute()
        .testEvents();
  }

  private static Throwable onlyFailure(Events events) {
    List<Throwable> failures = events.failed().stream()
        .map(e -> e.getRequiredPayload(org.junit.platform.engine.TestExecutionResult.class)
            .getThrowable().orElseThrow())
        .toList();
    assertEquals(1, failures.size(), "one failed test: " + failures);
    return failures.get(0);
  }

  @BeforeEach
  void reset() {
    Fixtures.carrier = null;
    Fixtures.leaked = null;
  }

  @Test
  void aPassingBodyRunsInAFiberOnFifoAndPasses() {
    Events events = run(Fixtures.Passing.class);
    assertEquals(4, events.succeeded().count(), "the test and three repetitions pass");
    assertEquals(0, events.failed().count());
    assertTrue(Fixtures.carrier.startsWith("fifo-"), Fixtures.carrier);
  }

  @Test
  void theClassAnnotationChoosesTheSchedulerAndAMethodAnnotationOverridesIt() {
    assertEquals(1, run(Fixtures.OnMulti.class).succeeded().count());
    assertTrue(Fixtures.carrier.startsWith("multi(2)-"), Fixtures.carrier);
    assertEquals(1, run(Fixtures.MethodOverridesClass.class).succeeded().count());
    assertEquals("virtual", Fixtures.carrier);
    assertEquals(1, run(Fixtures.FromAProvider.class).succeeded().count());
    assertTrue(Fixtures.carrier.startsWith("fifo-"), Fixtures.carrier);
  }

  @Test
  void aFailingBodyFailsTheTestWithItsOwnException() {
    Throwable failure = onlyFailure(run(Fixtures.Failing.class));
    assertInstanceOf(IllegalStateException.class, failure);
    assertEquals("the body's own failure", failure.getMessage());
  }

  @Test
  void aBodyThatDoesNotEndFailsOnTimeoutWithTheFiberDumpTakenWhileItWasStuck() {
    long start = System.nanoTime();
    Throwable failure = onlyFailure(run(Fixtures.Stuck.class));
    assertInstanceOf(TimeoutException.class, failure);
    String message = failure.getMessage();
    assertTrue(message.startsWith("neverEnds did not end within 300 ms on fifo-"), message);
    assertTrue(message.contains("\"stuck-fiber\" SUSPENDED waiting for"), message);
    assertTrue(message.contains("at org.picos.junit.Fixtures$Stuck.waitForever("), message);
    assertTrue(Duration.ofNanos(System.nanoTime() - start).toSeconds() < 30,
        "the timeout ended the test, not a hang");
  }

  @Test
  void fibersLeftAliveFailTheTestWithTheirDumpAndAreCancelled() throws Exception {
    Throwable failure = onlyFailure(run(Fixtures.Leaking.class));
    assertInstanceOf(AssertionError.class, failure);
    String message = failure.getMessage();
    assertTrue(message.startsWith("startsAFiberAndForgetsIt left 1 fiber(s) alive on fifo-"),
        message);
    assertTrue(message.contains("\"forgotten\" SUSPENDED"), message);
    long id = Fixtures.leaked.id();
    assertTrue(Fibers.dump().stream().noneMatch(i -> i.id() == id),
        "the scheduler was closed after the test, so the leaked fiber ended");
    assertEquals(1, run(Fixtures.LeakingUnchecked.class).succeeded().count(),
        "leakCheck = false lets the same test pass");
  }

  @Test
  void aFailureOnTheRandomSchedulerCarriesItsSeed() {
    Throwable failure = onlyFailure(run(Fixtures.FailingOnRandom.class));
    assertEquals("failed on the random scheduler", failure.getMessage());
    assertEquals("random-scheduler-seed-7", Fixtures.carrier);
    assertTrue(Arrays.stream(failure.getSuppressed()).anyMatch(s -> s.getMessage().contains(
        "@InFiber(scheduler = InFiber.Kind.RANDOM, seed = 7L)")), Arrays.toString(failure.getSuppressed()));
  }
}
