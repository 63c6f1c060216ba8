package org.picos.spi;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A host's timer, as a scheduler's {@link Handler#cancelAfter} uses it: runs a task once after
 * a delay, on any thread, and returns what cancels it.
 */
@FunctionalInterface
public interface Timer {
  /**
   * Schedules {@code task} to run once after {@code nanos} nanoseconds, on any thread.
   *
   * @return an action that cancels the task if it has not run yet
   * @throws RuntimeException if the host no longer takes timers (it is shutting down)
   */
  Runnable schedule(Runnable task, long nanos);

  /**
   * The shared timer: one daemon thread, {@code picos-timer}, that lives as long as the JVM.
   * Used outside any scheduler, by schedulers without a timer of their own, and by every
   * scheduler once its host has stopped. A task that throws is reported to
   * {@link Support#reportUncaught} (the thread's executor would otherwise swallow it).
   */
  static Timer shared() {
    return Shared.INSTANCE;
  }

  /** The timer behind {@link #shared()}. */
  final class Shared implements Timer {
    private static final Shared INSTANCE = new Shared();
    private final ScheduledThreadPoolExecutor executor;

    private Shared() {
      executor = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "picos-timer");
        t.setDaemon(true);
        return t;
      });
      executor.setRemoveOnCancelPolicy(true);
    }

    @Override
    public Runnable schedule(Runnable task, long nanos) {
      ScheduledFuture<?> f = executor.schedule(() -> {
        try {
          task.run();
        } catch (Throwable failure) {
          Support.reportUncaught(failure);
        }
      }, nanos, TimeUnit.NANOSECONDS);
      return () -> f.cancel(false);
    }

    @Override
    public String toString() {
      return "picos-timer";
    }
  }
}
