package org.picos.bench.soak;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * A few seconds of the soak workload on all nine hosts: the checks that do not depend on
 * timing (nothing lost, mutual exclusion, no failure, every fiber ended, clean shutdown) must
 * pass and the report must be written. Heap and throughput are judged only by real runs.
 */
class SoakTest {
  @Test
  @Timeout(180)
  void aShortSoakLosesNothingAndShutsDownCleanly(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("SOAK.md");
    List<Soak.Verdict> verdicts =
        new Soak(new Soak.Options(0.1, 2, 600, 7, out)).run();

    Map<String, Soak.Verdict> byCheck = verdicts.stream()
        .collect(Collectors.toMap(Soak.Verdict::check, v -> v));
    assertAll(List.of("every fiber ended", "nothing lost", "mutual exclusion", "no fiber failed",
            "clean shutdown").stream()
        .map(check -> (Executable) () -> assertTrue(byCheck.get(check).passed(), byCheck.get(check)::toString)));
    String report = Files.readString(out);
    assertTrue(report.contains("| 3 | "), report);
    assertTrue(report.contains("| nothing lost | pass |"), report);
  }

  @Test
  void aBadCommandLineNamesTheProblemAndTheUsage() {
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> Soak.Options.parse(new String[] {"--hours", "3"}));
    assertTrue(unknown.getMessage().startsWith("unknown option --hours\nusage: Soak [--minutes N"),
        unknown.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> Soak.Options.parse(new String[] {"--minutes"}));
    assertTrue(missing.getMessage().startsWith("missing value after --minutes\nusage:"),
        missing.getMessage());
    IllegalArgumentException zero = assertThrows(IllegalArgumentException.class,
        () -> Soak.Options.parse(new String[] {"--fibers", "0"}));
    assertTrue(zero.getMessage().startsWith(
        "--minutes, --interval-seconds and --fibers must be positive\nusage:"), zero.getMessage());
    assertEquals(new Soak.Options(2, 15, 100, 1, Path.of("x.md")), Soak.Options.parse(
        new String[] {"--minutes", "2", "--interval-seconds", "15", "--fibers", "100", "--out", "x.md"}));
  }
}
