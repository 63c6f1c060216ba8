package org.picos.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The core demonstration does what it prints, on each of the four core schedulers. */
class CoreSchedulersExampleTest {
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void everySchedulerSharesAComputationAndTimesOutAWaiter() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream saved = System.out;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      CoreSchedulersExample.main(new String[0]);
    } finally {
      System.setOut(saved);
    }
    String trace = out.toString(StandardCharsets.UTF_8);
    assertEquals(4, count(trace, "main fiber joined both waiters: 42"), trace);
    assertEquals(4, count(trace, "waiter cancelled: no reply within 50 ms"), trace);
    assertEquals(1, count(trace, "done: every scheduler ran the same fiber code"), trace);
  }

  private static int count(String text, String fragment) {
    int n = 0;
    for (int i = text.indexOf(fragment); i >= 0; i = text.indexOf(fragment, i + 1)) {
      n++;
    }
    return n;
  }
}
