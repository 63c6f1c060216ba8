package org.picos.bench.http;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns the raw output of {@code benchmarks/http} (wrk's reports and the servers' per-second
 * counts, in one directory) into the Markdown section of RESULTS.md: requests per second and
 * p99 latency per server, connection count and run; the same-run ratios the goals are stated
 * in, with their range over the runs; the server's CPU time per request (from the process's CPU
 * ticks around each load, which other tenants of a shared machine do not inflate the way they
 * deflate requests per second) with its same-run ratios; and the warm-up curve of the first run.
 *
 * <pre>java -cp benchmarks.jar org.picos.bench.http.HttpReport DIR RUNS CONNECTIONS...</pre>
 */
public final class HttpReport {
  static final List<String> KINDS = List.of("netty-plain", "netty-fiber", "netty-plain-task",
      "netty-fiber-await", "vertx-plain", "vertx-fiber", "vertx-virtual");
  /** The comparisons the goals are stated in: each server against its contender. */
  private static final String[][] RATIOS = {
      {"netty-fiber", "netty-plain"}, {"netty-fiber-await", "netty-plain-task"},
      {"vertx-fiber", "vertx-plain"}, {"vertx-fiber", "vertx-virtual"}};

  private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
  private static final Pattern P99 = Pattern.compile("\\s99%\\s+([0-9.]+)(us|ms|s)");
  private static final Pattern ERRORS =
      Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
  private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");
  private static final Pattern REQUESTS = Pattern.compile("(\\d+) requests in");

  private HttpReport() {}

  /**
   * One wrk run: requests per second, p99 in microseconds, errors seen, and the server's CPU
   * microseconds per request (NaN when the CPU time was not recorded).
   */
  record Load(double rps, double p99Micros, String errors, double cpuMicros) {}

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    int runs = Integer.parseInt(args[1]);
    List<Integer> connections = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      connections.add(Integer.parseInt(args[i]));
    }
    StringBuilder md = new StringBuilder();
    md.append("| server | connections |");
    for (int r = 1; r <= runs; r++) {
      md.append(" run ").append(r).append(" req/s | p99 |");
    }
    md.append("\n|---|---:|");
    md.append("---:|---:|".repeat(runs)).append('\n');
    for (String kind : KINDS) {
      for (int c : connections) {
        md.append("| `").append(kind).append("` | ").append(c).append(" |");
        for (int r = 1; r <= runs; r++) {
          Load l = load(dir, r, kind, c);
          md.append(String.format(Locale.ROOT, " %,.0f | %s |", l.rps(), micros(l.p99Micros())));
          if (!l.errors().isEmpty()) {
            md.append(" (").append(l.errors()).append(')');
          }
        }
        md.append('\n');
      }
    }
    md.append("\nSame-run ratios (range over the ").append(runs).append(" runs):\n\n")
        .append("| ratio | connections | requests/s, min–max | p99, min–max |\n|---|---:|---:|---:|\n");
    for (String[] pair : RATIOS) {
      ratio(md, dir, runs, connections, pair[0], pair[1]);
    }
    md.append("\nServer CPU time per request (µs; all of the server's threads, JIT and GC included),"
        + " by run:\n\n| server | connections |");
    for (int r = 1; r <= runs; r++) {
      md.append(" run ").append(r).append(" |");
    }
    md.append("\n|---|---:|").append("---:|".repeat(runs)).append('\n');
    for (String kind : KINDS) {
      for (int c : connections) {
        md.append("| `").append(kind).append("` | ").append(c).append(" |");
        for (int r = 1; r <= runs; r++) {
          md.append(String.format(Locale.ROOT, " %.1f |", load(dir, r, kind, c).cpuMicros()));
        }
        md.append('\n');
      }
    }
    md.append("\nSame-run ratios of CPU per request (range over the ").append(runs).append(" runs; 1.05 or"
        + " less is 95% of the other's requests per CPU second):\n\n"
        + "| ratio | connections | CPU per request, min–max |\n|---|---:|---:|\n");
    for (String[] pair : RATIOS) {
      cpuRatio(md, dir, runs, connections, pair[0], pair[1]);
    }
    md.append("\nWarm-up, run 1: requests in each of the first seconds of load on a fresh server"
        + " (100 connections):\n\n| second |");
    List<List<Long>> curves = new ArrayList<>();
    for (String kind : KINDS) {
      md.append(" `").append(kind).append("` |");
      curves.add(curve(dir, kind));
    }
    md.append("\n|---:|").append("---:|".repeat(KINDS.size())).append('\n');
    int seconds = curves.stream().mapToInt(List::size).max().orElse(0);
    for (int s = 0; s < seconds; s++) {
      md.append("| ").append(s + 1).append(" |");
      for (List<Long> curve : curves) {
        md.append(s < curve.size() ? String.format(Locale.ROOT, " %,d |", curve.get(s)) : " |");
      }
      md.append('\n');
    }
    System.out.print(md);
  }

  private static void ratio(StringBuilder md, Path dir, int runs, List<Integer> connections,
      String is, String vs) throws IOException {
    for (int c : connections) {
      double rpsMin = Double.MAX_VALUE;
      double rpsMax = 0;
      double p99Min = Double.MAX_VALUE;
      double p99Max = 0;
      for (int r = 1; r <= runs; r++) {
        Load a = load(dir, r, is, c);
        Load b = load(dir, r, vs, c);
        double rps = a.rps() / b.rps();
        double p99 = a.p99Micros() / b.p99Micros();
        rpsMin = Math.min(rpsMin, rps);
        rpsMax = Math.max(rpsMax, rps);
        p99Min = Math.min(p99Min, p99);
        p99Max = Math.max(p99Max, p99);
      }
      md.append(String.format(Locale.ROOT, "| `%s` / `%s` | %d | %.2f–%.2f | %.2f–%.2f |%n",
          is, vs, c, rpsMin, rpsMax, p99Min, p99Max));
    }
  }

  private static void cpuRatio(StringBuilder md, Path dir, int runs, List<Integer> connections,
      String is, String vs) throws IOException {
    for (int c : connections) {
      double min = Double.MAX_VALUE;
      double max = 0;
      for (int r = 1; r <= runs; r++) {
        double ratio = load(dir, r, is, c).cpuMicros() / load(dir, r, vs, c).cpuMicros();
        min = Math.min(min, ratio);
        max = Math.max(max, ratio);
      }
      md.append(String.format(Locale.ROOT, "| `%s` / `%s` | %d | %.2f–%.2f |%n", is, vs, c, min, max));
    }
  }

  static Load load(Path dir, int run, String kind, int connections) throws IOException {
    Path file = dir.resolve(run + "-" + kind + "-" + connections + ".wrk");
    String text = Files.readString(file);
    Matcher rps = RPS.matcher(text);
    Matcher p99 = P99.matcher(text);
    if (!rps.find() || !p99.find()) {
      throw new IllegalStateException("no wrk report in " + file + ":\n" + text);
    }
    double value = Double.parseDouble(p99.group(1));
    double micros = switch (p99.group(2)) {
      case "us" -> value;
      case "ms" -> value * 1_000;
      default -> value * 1_000_000;
    };
    StringBuilder errors = new StringBuilder();
    Matcher e = ERRORS.matcher(text);
    if (e.find()) {
      errors.append("socket errors: connect ").append(e.group(1)).append(", read ").append(e.group(2))
          .append(", write ").append(e.group(3)).append(", timeout ").append(e.group(4));
    }
    Matcher n = NON_2XX.matcher(text);
    if (n.find()) {
      errors.append(errors.isEmpty() ? "" : "; ").append(n.group(1)).append(" non-2xx");
    }
    double cpuMicros = Double.NaN;
    Path cpu = dir.resolve(run + "-" + kind + "-" + connections + ".cpu");
    Matcher requests = REQUESTS.matcher(text);
    if (Files.exists(cpu) && requests.find()) {
      double ticksPerSecond = Double.parseDouble(Files.readString(dir.resolve("clk_tck")).trim());
      double ticks = Double.parseDouble(Files.readString(cpu).trim());
      cpuMicros = ticks / ticksPerSecond * 1e6 / Long.parseLong(requests.group(1));
    }
    return new Load(Double.parseDouble(rps.group(1)), micros, errors.toString(), cpuMicros);
  }

  private static String micros(double us) {
    return us >= 1_000 ? String.format(Locale.ROOT, "%.2f ms", us / 1_000)
        : String.format(Locale.ROOT, "%.0f µs", us);
  }

  private static List<Long> curve(Path dir, String kind) throws IOException {
    List<Long> counts = new ArrayList<>();
    Path log = dir.resolve("1-" + kind + ".server");
    for (String line : Files.readAllLines(log)) {
      if (line.startsWith("RPS ")) {
        counts.add(Long.parseLong(line.split(" ")[2]));
      }
    }
    return counts;
  }
}
