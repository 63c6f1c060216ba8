package org.picos.tck;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Collects the failures handed to uncaught-exception handlers while it is open: it installs
 * itself as the JVM's default handler ({@link Thread#setDefaultUncaughtExceptionHandler}), which
 * receives what {@link org.picos.spi.Support#reportUncaught} reports on every thread that has no
 * handler of its own, and puts the previous default back on {@link #close()}. Use it in
 * try-with-resources around one test. Threads with a handler of their own (Reactor's global
 * schedulers install one that logs) are not seen; hosts that route failures elsewhere can feed
 * {@link #record} themselves.
 */
public final class UncaughtFailures implements AutoCloseable {
  /** One report: the failure and the thread it was reported on. */
  public record Report(String thread, Throwable failure) {
    @Override
    public String toString() {
      return failure + " (on " + thread + ")";
    }
  }

  private final List<Report> reports = new ArrayList<>();
  private final Thread.UncaughtExceptionHandler previous;

  private UncaughtFailures() {
    previous = Thread.getDefaultUncaughtExceptionHandler();
  }

  /** Starts collecting: installs the default uncaught-exception handler. */
  public static UncaughtFailures capture() {
    UncaughtFailures u = new UncaughtFailures();
    Thread.setDefaultUncaughtExceptionHandler(u::record);
    return u;
  }

  /** Records a failure reported on {@code thread}. */
  public void record(Thread thread, Throwable failure) {
    synchronized (reports) {
      reports.add(new Report(thread.getName(), failure));
      reports.notifyAll();
    }
  }

  /** Every report so far, in order. */
  public List<Report> reports() {
    synchronized (reports) {
      return List.copyOf(reports);
    }
  }

  /** The sites of the {@link InjectedFailure}s reported so far, in order. */
  public List<String> injectedSites() {
    List<String> sites = new ArrayList<>();
    for (Report r : reports()) {
      if (r.failure() instanceof InjectedFailure f) {
        sites.add(f.site());
      }
    }
    return sites;
  }

  /** The reports that are not {@link InjectedFailure}s. */
  public List<Report> others() {
    return reports().stream().filter(r -> !(r.failure() instanceof InjectedFailure)).toList();
  }

  /**
   * Waits until at least {@code n} reports match {@code which}, or {@code bound} has passed.
   *
   * @return whether they arrived
   */
  public boolean awaitReports(Predicate<Report> which, int n, Duration bound) throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    synchronized (reports) {
      for (;;) {
        if (reports.stream().filter(which).count() >= n) {
          return true;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        reports.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  /** Stops collecting: puts the previous default handler back. */
  @Override
  public void close() {
    Thread.setDefaultUncaughtExceptionHandler(previous);
  }
}
