package org.picos.std;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.picos.std.structured.Control;

/**
 * Where a test's main runs: on each core scheduler, or on a plain or virtual thread with no
 * scheduler at all (the core's blocking default; forked fibers become virtual threads).
 * Use with {@code @ParameterizedTest @EnumSource(Env.class)}.
 */
public enum Env {
  FIFO(Schedulers::fifo),
  MULTI_2(() -> Schedulers.multi(2)),
  THREAD_PER_FIBER(Schedulers::threadPerFiber),
  FIXED_POOL(null),
  PLAIN_THREAD(null),
  VIRTUAL_THREAD(null);

  private final Supplier<Scheduler> scheduler;

  Env(Supplier<Scheduler> scheduler) {
    this.scheduler = scheduler;
  }

  /** Runs {@code main} here and returns its value or rethrows its failure. */
  public <T> T run(Callable<T> main) {
    switch (this) {
      case FIXED_POOL -> {
        ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
          Thread t = new Thread(r, "test-pool");
          t.setDaemon(true);
          return t;
        });
        try (Scheduler s = Schedulers.onExecutor(pool)) {
          return s.run(main);
        } finally {
          pool.shutdown();
        }
      }
      case PLAIN_THREAD, VIRTUAL_THREAD -> {
        Computation<T> result = Computation.create();
        Thread.Builder builder = this == PLAIN_THREAD
            ? Thread.ofPlatform().daemon().name("test-main")
            : Thread.ofVirtual().name("test-main");
        builder.start(() -> result.tryCapture(main));
        return result.await();
      }
      default -> {
        try (Scheduler s = scheduler.get()) {
          return s.run(main);
        }
      }
    }
  }

  /** Runs {@code main} here, for tests that return nothing. */
  public void exec(ThrowingRunnable main) {
    run(() -> {
      main.run();
      return null;
    });
  }

  /** A test body. */
  @FunctionalInterface
  public interface ThrowingRunnable {
    void run() throws Exception;
  }

  /**
   * A child fiber whose cancellation token and result are separate computations, so that a
   * test can cancel it and then wait until it has really finished (a computation spawned with
   * {@code Fiber.spawn(callable)} completes the moment it is cancelled).
   */
  public static final class Task<T> {
    private final Computation<Void> token = Computation.create();
    private final Computation<T> result = Computation.create();

    private Task(Callable<T> body) {
      Fiber.spawn(Fiber.create(false, token), () -> result.tryCapture(body));
    }

    /** Cancels the fiber with {@code cause}. */
    public void cancel(Throwable cause) {
      token.tryCancel(cause);
    }

    /** Waits until the fiber has finished; returns its value or throws its failure. */
    public T join() {
      return result.await();
    }

    /** Whether the fiber has finished. */
    public boolean isDone() {
      return !result.isRunning();
    }

    /** The fiber's failure after it finished, or null. */
    public Throwable failure() {
      return result.canceled();
    }
  }

  /** Starts {@code body} in a child fiber of the current one. */
  public static <T> Task<T> fork(Callable<T> body) {
    return new Task<>(body);
  }

  /**
   * Lets other fibers run until {@code condition} holds; fails (rather than hangs) after a
   * generous bound. Call from inside a running test main.
   */
  public static void until(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    for (int i = 0; !condition.getAsBoolean(); i++) {
      if (System.nanoTime() > deadline) {
        fail("gave up waiting until " + what);
      }
      if (i % 64 == 63) {
        Control.sleep(Duration.ofMillis(1));
      } else {
        Fiber.yield();
      }
    }
  }
}
