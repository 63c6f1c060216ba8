package org.picos.bench;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.picos.Computation;
import org.picos.Scheduler;

/**
 * Bounded waits for benchmarks that run fibers (or other asynchronous work) from the benchmark
 * thread. A plain thread's
 * {@code Scheduler.run} waits forever, and JMH cannot interrupt it; if a fiber were ever lost
 * (a scheduler bug), the whole run would hang. Through these helpers the benchmark fails
 * instead, after a generous bound, with a thread dump on stderr, and JMH goes on with the next
 * benchmark. The cost is one completion callback and a latch per invocation, the same for every
 * fiber contender.
 */
final class Guard {
  /** Far above any invocation of any suite: only a lost fiber gets here. */
  static final long BOUND_SECONDS = 120;
  /** {@link #BOUND_SECONDS} as a duration, for APIs with a timeout of their own. */
  static final Duration BOUND = Duration.ofSeconds(BOUND_SECONDS);

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

  /**
   * {@code future.join()}, but fails instead of waiting past the bound (for futures completed by
   * a fiber, which a lost fiber would never complete).
   */
  static <T> T join(Future<T> future) {
    try {
      return future.get(BOUND_SECONDS, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      dumpThreads();
      throw new IllegalStateException("A future was not completed in " + BOUND_SECONDS
          + " s: its task was lost (see the thread dump above)", e);
    } catch (ExecutionException e) {
      throw new CompletionException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while waiting for a future", e);
    }
  }

  /**
   * Waits for {@code latch} (counted down by the benchmark's other parties), failing instead of
   * waiting past the bound; {@code what} names what the latch waits for.
   */
  static void await(CountDownLatch latch, String what) {
    try {
      if (!latch.await(BOUND_SECONDS, TimeUnit.SECONDS)) {
        dumpThreads();
        throw new IllegalStateException(what + " did not finish in " + BOUND_SECONDS
            + " s: something was lost (see the thread dump above)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while waiting for " + what, e);
    }
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
