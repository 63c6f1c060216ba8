package org.picos.modelcheck;

import java.util.ArrayList;
import java.util.List;
import org.jetbrains.lincheck.Lincheck;

/**
 * The harness of the Lincheck model-checking tests: runs a scenario under every explored
 * interleaving (Lincheck's general-purpose model checker, the JVM counterpart of the DSCheck
 * tests of OCaml Picos), with the number of explored interleavings set for a quick build or a
 * long check.
 *
 * <h2>Publishing the scenario's state</h2>
 * Lincheck inserts thread switches only around accesses to objects it considers shared. On
 * JDK 21 and later (the build runs on 25) it does not see objects that reach a thread only
 * through the {@code Runnable} given to {@code new Thread(...)} (a lambda's captured values, or
 * the fields of a runnable, held by the thread's field holder): they stay "local" and the race
 * on them is never explored. Every scenario therefore passes its state object to
 * {@link #share}, which writes it to a static volatile field; everything reachable from it, and
 * everything later stored into it, is then tracked. {@code HarnessLincheckTest} checks that a
 * racy counter and a lost wake-up written this way are found.
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

  /** Explores {@link #invocations(int) invocations(quick)} interleavings of {@code scenario}. */
  public static void check(int quick, Runnable scenario) {
    Lincheck.runConcurrentTest(invocations(quick), scenario);
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

  /** Starts one thread per body, all before any of them is joined. */
  public static List<Thread> forkAll(Runnable... bodies) {
    List<Thread> threads = new ArrayList<>(bodies.length);
    for (Runnable body : bodies) {
      threads.add(fork(body));
    }
    return threads;
  }

  /** Waits for every thread. Under the model checker a thread that can never end is reported. */
  public static void join(List<Thread> threads) {
    for (Thread t : threads) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while joining " + t, e);
      }
    }
  }

  /** {@link #forkAll} then {@link #join}. */
  public static void runAll(Runnable... bodies) {
    join(forkAll(bodies));
  }
}
