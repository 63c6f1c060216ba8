package org.picos.bench;

import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.Scheduler;

/**
 * Bounded waits for benchmarks that run fibers from the benchmark thread. A plain thread's
 * {@code Scheduler.run} waits forever, and JMH cannot interrupt it; if a fiber were ever lost
 * (a scheduler bug), the whole run would hang. Through these helpers the benchmark fails
 * instead, after a generous bound, with a thread dump on stderr, and JMH goes on with the next
 * benchmark. The cost is one completion callback and a latch per invocation, the same for every
 * fiber contender.
 */
final class Guard {
  /** Far above any invocation of any suite: only a lost fiber gets here. */
  static final long BOUND_SECONDS = 120;

  private Guard() {}

  /** {@code scheduler.run(main)}, but fails instead of waiting past the bound. */
  static <T> T run(Scheduler scheduler, Callable<T> main) {
    Computation<T> c = scheduler.start(main);
    CountDownLatch done = new CountDownLatch(1);
    c.whenDone(done::countDown);
    try {
      if (!done.await(BOUND_SECONDS, TimeUnit.SECONDS)) {
        dumpThreads();
        throw new IllegalStateException("A fiber on " + scheduler + " did not finish in " + BOUND_SECONDS
            + " s: it was lost (see the thread dump above)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while waiting for a fiber on " + scheduler, e);
    }
    return c.resultNow();
  }

  /** {@code scheduler.close()}, but gives up (leaving the daemon carriers) past the bound. */
  static void close(Scheduler scheduler) {
    Thread closer = Thread.ofPlatform().daemon().name("bench-close").start(scheduler::close);
    try {
      closer.join(TimeUnit.SECONDS.toMillis(BOUND_SECONDS));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (closer.isAlive()) {
      System.err.println("Closing " + scheduler + " did not finish in " + BOUND_SECONDS + " s; left running");
    }
  }

  private static void dumpThreads() {
    for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
      System.err.println(e.getKey() + " " + e.getKey().getState());
      for (StackTraceElement frame : e.getValue()) {
        System.err.println("    at " + frame);
      }
    }
  }
}
