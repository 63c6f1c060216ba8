package org.picos.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;
import org.openjdk.jmh.util.ListStatistics;

/**
 * Runs every {@link Suite} of the jar and writes RESULTS.md. Used by {@code benchmarks/run}:
 * <pre>
 *   java -cp benchmarks.jar org.picos.bench.RunSuites [--quick] [--only REGEX] --out FILE
 * </pre>
 * {@code --quick} uses one fork and short iterations (the whole run fits in ten minutes on two
 * cores); the default is two forks and longer iterations. {@code --only} keeps the suites whose
 * class name or title matches the regular expression (the written file then holds only those).
 *
 * <p>Suites are found in JMH's generated benchmark list: every benchmark class annotated with
 * {@link Suite} is one. Each suite runs as one JMH run, so its contenders are measured back to
 * back on the same machine state, and the table gives each one's ratio to the suite's reference.
 *
 * <p>Everything in an existing output file after the line {@link #KEEP_MARKER} (the
 * hand-written analysis of the numbers) is carried over into the new file.
 */
public final class RunSuites {
  /** The line after which RESULTS.md is hand-written and preserved across runs. */
  static final String KEEP_MARKER = "<!-- Everything below this line is written by hand and kept by benchmarks/run. -->";

  private RunSuites() {}

  public static void main(String[] args) throws IOException, RunnerException {
    boolean quick = false;
    Pattern only = null;
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick" -> quick = true;
        case "--only" -> only = Pattern.compile(argument(args, ++i, "--only"));
        case "--out" -> out = Path.of(argument(args, ++i, "--out"));
        default -> throw new IllegalArgumentException("Unknown argument " + args[i]
            + "; usage: RunSuites [--quick] [--only REGEX] --out FILE");
      }
    }
    if (out == null) {
      throw new IllegalArgumentException("Missing --out FILE: where to write the results markdown");
    }
    List<Class<?>> suites = findSuites(only);
    if (suites.isEmpty()) {
      throw new IllegalArgumentException("No suite matches " + only);
    }
    String kept = keptAnalysis(out);
    StringBuilder md = new StringBuilder();
    header(md, quick);
    for (Class<?> suite : suites) {
      System.out.println("# Suite " + suite.getSimpleName());
      Collection<RunResult> results = new Runner(options(suite, quick).build()).run();
      table(md, suite, results);
    }
    md.append(KEEP_MARKER).append('\n').append(kept);
    Files.writeString(out, md, StandardCharsets.UTF_8);
    System.out.println("Wrote " + out);
  }

  private static String argument(String[] args, int i, String flag) {
    if (i >= args.length) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return args[i];
  }

  /** The suite classes in the jar's benchmark list, in {@link Suite#order()}. */
  private static List<Class<?>> findSuites(Pattern only) {
    PrintStream quiet = new PrintStream(PrintStream.nullOutputStream());
    TreeSet<String> names = new TreeSet<>();
    for (BenchmarkListEntry e : BenchmarkList.defaultList()
        .getAll(OutputFormatFactory.createFormatInstance(quiet, VerboseMode.SILENT), List.of())) {
      names.add(e.getUserClassQName());
    }
    List<Class<?>> suites = new ArrayList<>();
    for (String name : names) {
      Class<?> c;
      try {
        c = Class.forName(name, false, RunSuites.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException("Benchmark class " + name + " is listed but missing", e);
      }
      Suite s = c.getAnnotation(Suite.class);
      if (s != null && (only == null || only.matcher(name).find() || only.matcher(s.title()).find())) {
        suites.add(c);
      }
    }
    suites.sort(Comparator.comparingInt((Class<?> c) -> c.getAnnotation(Suite.class).order())
        .thenComparing(Class::getName));
    return suites;
  }

  private static ChainedOptionsBuilder options(Class<?> suite, boolean quick) {
    ChainedOptionsBuilder b = new OptionsBuilder()
        .include("^" + Pattern.quote(suite.getName()) + "\\.\\w+$")
        .forks(quick ? 1 : 2)
        .shouldFailOnError(false);
    if (suite.getAnnotation(Suite.class).ownIterations()) {
      return b;
    }
    return b.warmupIterations(quick ? 2 : 4)
        .warmupTime(TimeValue.seconds(1))
        .measurementIterations(quick ? 3 : 5)
        .measurementTime(TimeValue.seconds(quick ? 1 : 2))
        .timeUnit(TimeUnit.NANOSECONDS);
  }

  private static void header(StringBuilder md, boolean quick) {
    Runtime rt = Runtime.getRuntime();
    md.append("# Benchmark results\n\n")
        .append("Written by `benchmarks/run").append(quick ? " --quick" : "").append("`; do not edit above the")
        .append(" marker line at the end (the analysis below it is kept across runs).\n\n")
        .append("- Date: ").append(ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ISO_LOCAL_DATE))
        .append(' ').append(ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("HH:mm")))
        .append(" UTC\n")
        .append("- JDK: ").append(System.getProperty("java.vm.name")).append(' ')
        .append(System.getProperty("java.runtime.version")).append(" (").append(System.getProperty("java.vm.vendor"))
        .append(")\n")
        .append("- Cores: ").append(rt.availableProcessors()).append(", OS: ").append(System.getProperty("os.name"))
        .append(' ').append(System.getProperty("os.arch")).append('\n')
        .append("- Mode: ").append(quick ? "quick (1 fork, 2 warm-up + 3 measured iterations of 1 s)"
            : "full (2 forks, 4 warm-up iterations of 1 s + 5 measured iterations of 2 s)").append('\n')
        .append("- The machine may be shared and noisy: absolute numbers move from run to run. Judge the")
        .append(" **ratios**, which compare contenders measured back to back in the same run.\n")
        .append("- Error is JMH's 99.9% confidence half-interval; `n/a` where it cannot be computed")
        .append(" (too few samples). Suites marked single-shot set their own iterations.\n\n");
  }

  /** Appends the suite's table and its targets. */
  private static void table(StringBuilder md, Class<?> suite, Collection<RunResult> results) {
    Suite s = suite.getAnnotation(Suite.class);
    Map<String, Score> scores = new LinkedHashMap<>();
    for (RunResult r : results) {
      String bench = r.getParams().getBenchmark();
      Score score = s.metric().isEmpty() ? Score.primary(r) : Score.secondary(r, s.metric());
      if (score != null) {
        scores.put(bench.substring(bench.lastIndexOf('.') + 1), score);
      }
    }
    String unit = s.metric().isEmpty() ? "ns/op" : s.unit();
    Score ref = scores.get(s.reference());
    md.append("## ").append(s.title()).append("\n\n").append(s.description().strip()).append("\n\n")
        .append("| contender | ").append(unit).append(" | ± error | ratio to `").append(s.reference())
        .append("` |\n|---|---:|---:|---:|\n");
    for (Method m : contenders(suite, s.reference())) {
      Suite.Contender label = m.getAnnotation(Suite.Contender.class);
      md.append("| `").append(m.getName()).append('`').append(label == null ? "" : " " + label.value()).append(" | ");
      Score r = scores.get(m.getName());
      if (r == null) {
        md.append("failed (see the run log) | | |\n");
        continue;
      }
      md.append(number(r.value())).append(" | ").append(number(r.error())).append(" | ")
          .append(ref == null ? "n/a" : String.format(Locale.ROOT, "%.2f×", r.value() / ref.value()))
          .append(" |\n");
    }
    Suite.Goal[] goals = suite.getAnnotationsByType(Suite.Goal.class);
    if (goals.length > 0) {
      md.append("\n| target | measured | verdict |\n|---|---|---|\n");
      for (Suite.Goal g : goals) {
        md.append("| ").append(g.text()).append(" | ").append(verdict(g, scores, unit)).append(" |\n");
      }
    }
    md.append('\n');
  }

  /** The suite's benchmark methods: the reference first, then by name. */
  private static List<Method> contenders(Class<?> suite, String reference) {
    List<Method> ms = new ArrayList<>();
    for (Method m : suite.getMethods()) {
      if (m.isAnnotationPresent(org.openjdk.jmh.annotations.Benchmark.class)) {
        ms.add(m);
      }
    }
    ms.sort(Comparator.comparing((Method m) -> !m.getName().equals(reference)).thenComparing(Method::getName));
    return ms;
  }

  /** "measured | verdict" cells for one goal. */
  private static String verdict(Suite.Goal g, Map<String, Score> scores, String unit) {
    Score is = scores.get(g.is());
    if (is == null) {
      return "`" + g.is() + "` failed | **missed** (no result)";
    }
    double x = is.value();
    if (!Double.isNaN(g.atMost())) {
      return verdict(number(x) + " " + unit, x <= g.atMost(), x / g.atMost() - 1);
    }
    if (Double.isNaN(g.ratioAtMost()) && Double.isNaN(g.speedupAtLeast())) {
      return "ran to completion | **met**";
    }
    Score vs = scores.get(g.vs());
    if (vs == null) {
      return "`" + g.vs() + "` failed | **n/a**";
    }
    if (!Double.isNaN(g.ratioAtMost())) {
      double ratio = x / vs.value();
      return verdict(String.format(Locale.ROOT, "%.2f× `%s`", ratio, g.vs()), ratio <= g.ratioAtMost(),
          ratio / g.ratioAtMost() - 1);
    }
    double speedup = vs.value() / x;
    String measured = speedup >= 1
        ? String.format(Locale.ROOT, "%.2f× faster than `%s`", speedup, g.vs())
        : String.format(Locale.ROOT, "%.2f× slower than `%s`", 1 / speedup, g.vs());
    return verdict(measured, speedup >= g.speedupAtLeast(), g.speedupAtLeast() / speedup - 1);
  }

  /** A contender's result: the mean and JMH's 99.9% error half-interval. */
  private record Score(double value, double error) {
    static Score primary(RunResult r) {
      Result<?> p = r.getPrimaryResult();
      return new Score(p.getScore(), p.getScoreError());
    }

    /**
     * The mean of a secondary result over the measured iterations of every fork. (JMH sums
     * {@code @AuxCounters} events over iterations; a per-iteration reading such as bytes per
     * task is averaged instead.) Null if the benchmark did not report it.
     */
    static Score secondary(RunResult r, String metric) {
      ListStatistics stats = new ListStatistics();
      for (BenchmarkResult fork : r.getBenchmarkResults()) {
        for (IterationResult it : fork.getIterationResults()) {
          Result<?> x = it.getSecondaryResults().get(metric);
          if (x != null) {
            stats.addValue(x.getScore());
          }
        }
      }
      return stats.getN() == 0 ? null : new Score(stats.getMean(), stats.getMeanErrorAt(0.999));
    }
  }

  /**
   * "measured | verdict"; {@code missedBy} is how much better the score had to be, as a
   * fraction (0.25: 25% short), written as a factor once it reaches 2×.
   */
  private static String verdict(String measured, boolean met, double missedBy) {
    String verdict = met ? "**met**"
        : missedBy < 1 ? String.format(Locale.ROOT, "**missed** by %.0f%%", 100 * missedBy)
        : String.format(Locale.ROOT, "**missed** by a factor of %.1f", 1 + missedBy);
    return measured + " | " + verdict;
  }

  private static String number(double x) {
    if (Double.isNaN(x)) {
      return "n/a";
    }
    if (Math.abs(x) >= 100) {
      return String.format(Locale.ROOT, "%,.0f", x);
    }
    return String.format(Locale.ROOT, "%.2f", x);
  }

  private static String keptAnalysis(Path out) throws IOException {
    if (!Files.exists(out)) {
      return "\n";
    }
    String old = Files.readString(out, StandardCharsets.UTF_8);
    int at = old.indexOf(KEEP_MARKER);
    return at < 0 ? "\n" : old.substring(at + KEEP_MARKER.length() + 1);
  }
}
