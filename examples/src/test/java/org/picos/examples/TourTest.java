package org.picos.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Runs the interop tour as its main method does and checks what it observed. */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TourTest {
  @Test
  void theTourServesTwoRequestsAndCancelsEveryEcosystemOnTheThirdsTimeout() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    Tour.Outcome outcome = Tour.run(new PrintStream(printed, true, StandardCharsets.UTF_8));
    String log = printed.toString(StandardCharsets.UTF_8);
    List<String> trace = outcome.trace();

    assertEquals(3, outcome.answers().size(), log);
    for (int i = 0; i < 2; i++) {
      String user = i == 0 ? "ada" : "bob";
      String answer = outcome.answers().get(i);
      assertTrue(answer.startsWith("200 mono:" + user + " flowable:3 vertx:#"), answer);
      assertTrue(answer.endsWith(" future:" + user.toUpperCase()), answer);
    }
    assertEquals("504 timed out", outcome.answers().get(2));

    // The timeout reached every ecosystem the third request was waiting on.
    for (String cancelled : List.of("reactor Mono cancelled (doOnCancel)",
        "rxjava Flowable cancelled (doOnCancel)", "CompletableFuture cancelled",
        "vert.x event-bus wait detached")) {
      assertTrue(trace.stream().anyMatch(line -> line.contains(cancelled)), cancelled + "\n" + log);
    }
    // Which thread ran each step: the Netty fibers on the loop, the consumer on a Vert.x loop.
    assertAllOn(trace, "netty fiber:", "[netty-loop-", log);
    assertAllOn(trace, "vert.x consumer fiber:", "[vert.x-eventloop-thread-", log);
    assertAllOn(trace, "vert.x auditor", "[vert.x-eventloop-thread-", log);
    assertAllOn(trace, "reactor Mono emits", "[parallel-", log);
    assertAllOn(trace, "rxjava Flowable emits", "[RxComputationThreadPool-", log);

    // The shared Mutex and Channel between the Netty and Vert.x fibers.
    assertEquals(3, outcome.served(), log);
    assertEquals(3, outcome.quotes(), log);
    assertEquals(3, outcome.audited(), log);
    assertTrue(log.contains("every host stopped"), log);
  }

  /** Every trace line containing {@code step} starts with {@code thread}, and there is one. */
  private static void assertAllOn(List<String> trace, String step, String thread, String log) {
    List<String> lines = trace.stream().filter(line -> line.contains(step)).toList();
    assertFalse(lines.isEmpty(), "no trace line for " + step + "\n" + log);
    for (String line : lines) {
      assertTrue(line.startsWith(thread), line + "\n" + log);
    }
  }
}
