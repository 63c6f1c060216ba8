package org.picos.std.modelcheck;

import org.jetbrains.lincheck.Lincheck;

/**
 * The harness of the Lincheck model-checking tests: runs a scenario under every explored
 * interleaving (Lincheck's general-purpose model checker, the JVM counterpart of the DSCheck
 * tests of OCaml Picos), with the number of explored interleavings set for a quick build or a
 * long check.
 *
 * <h2>Publishing the scenario's state</h2>
 * Lincheck inserts thread switches only around accesses to objects it considers shared. On
 * JDK 25, the build's JDK (JDK 17 does not show this), it does not see objects that reach a thread only
 * through the {@code Runnable} given to {@code new Thread(...)} (a lambda's captured values, or
 * the fields of a runnable, held by the thread's field holder): they stay "local" and the race
 * on them is never explored. Every scenario therefore passes its state object to
 * {@link #share}, which writes it to a static volatile field; everything reachable from it, and
 * everything later stored into it, is then tracked. picos-core's {@code HarnessLincheckTest}
 * checks that a racy counter and a lost signal written this way are found.
 *
 * <p>The same harness as picos-core's {@code org.picos.modelcheck.ModelCheck} (test sources
 * are not shared between modules).
 *
 * <h2>Quick and long runs</h2>
 * {@code mvn verify} explores the quick counts written in the tests. With
 * {@code -Dlincheck.long=true} every count is multiplied by {@code lincheck.factor} (default
 * 50); {@code lincheck/run} at the repository root does that for both modules.
 */
public final class ModelCheck {
  private static volatile Object published;

  private ModelCheck() {}

  /** The number of interleavings to explore: {@code quick}, or more in a long run. */
  public static int invocations(int quick) {
    if (!Boolean.getBoolean("lincheck.long")) {
      return quick;
    }
    return quick * Integer.getInteger("lincheck.factor", 50);
  }

  /**
   * Explores {@link #invocations(int) invocations(quick)} interleavings of {@code scenario}
   * (fewer when the model checker has explored them all). With {@code -Dlincheck.stats=true}
   * prints how many it ran and how long that took.
   */
  public static void check(int quick, Runnable scenario) {
    int invocations = invocations(quick);
    if (!Boolean.getBoolean("lincheck.stats")) {
      Lincheck.runConcurrentTest(invocations, scenario);
      return;
    }
    // Counted in a system property: Lincheck restores static fields after each invocation.
    System.setProperty(RUNS, "0");
    long start = System.nanoTime();
    try {
      Lincheck.runConcurrentTest(invocations, () -> {
        System.setProperty(RUNS, String.valueOf(Long.getLong(RUNS, 0) + 1));
        scenario.run();
      });
    } finally {
      System.out.printf("lincheck: %s ran %s of %d invocations in %d ms%n",
          caller(), System.getProperty(RUNS), invocations, (System.nanoTime() - start) / 1_000_000);
    }
  }

  private static final String RUNS = "picos.lincheck.runs";

  private static String caller() {
    return StackWalker.getInstance()
        .walk(frames -> frames.skip(2).findFirst().map(f -> f.getClassName() + "." + f.getMethodName()).orElse("?"));
  }

  /**
   * Fails the scenario with {@code what} unless {@code ok}. Scenarios use this rather than
   * assertion libraries with computed messages: the model checker instruments everything a
   * scenario runs, so a message concatenated in every invocation costs more than the check.
   * The failure report shows the values anyway, in the interleaving's trace.
   */
  public static void expect(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError(what);
    }
  }

  /** Makes {@code state} and everything reachable from it shared for the model checker. */
  public static <T> T share(T state) {
    published = state;
    return state;
  }

  /** Starts a thread running {@code body}. */
  public static Thread fork(Runnable body) {
    Thread t = new Thread(body);
    t.start();
    return t;
  }

  /**
   * Waits for every thread. Under the model checker a thread that can never end is reported as
   * a hang, with the interleaving that led there.
   */
  public static void join(Thread... threads) {
    for (Thread t : threads) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while joining " + t, e);
      }
    }
  }

  /**
   * Starts one thread per body, then joins them all. (Plain arrays and loops here and in the
   * scenarios: every collection call is model-checked too, and costs.)
   */
  public static void runAll(Runnable... bodies) {
    Thread[] threads = new Thread[bodies.length];
    for (int i = 0; i < bodies.length; i++) {
      threads[i] = fork(bodies[i]);
    }
    join(threads);
  }
}
