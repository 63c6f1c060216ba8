package org.picos.bridge.rxjava;

import io.reactivex.rxjava3.exceptions.UndeliverableException;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;

/** Helpers shared by the tests: capturing RxJavaPlugins.onError and uncaught reports. */
final class TestSupport {
  private TestSupport() {}

  /**
   * Installs an RxJavaPlugins error handler that records what reaches it (unwrapping
   * {@link UndeliverableException}); closing resets the plugins.
   */
  static final class Reported implements AutoCloseable {
    final List<Throwable> errors = new CopyOnWriteArrayList<>();

    Reported() {
      RxJavaPlugins.setErrorHandler(
          e -> errors.add(e instanceof UndeliverableException u ? u.getCause() : e));
    }

    List<Throwable> since(int from) {
      List<Throwable> all = List.copyOf(errors);
      return all.subList(from, all.size());
    }

    @Override
    public void close() {
      RxJavaPlugins.reset();
    }
  }

  /**
   * A Picos scheduler on one carrier thread whose uncaught-exception handler records what
   * {@link org.picos.Handler#reportUncaught} hands it.
   */
  static final class Carrier implements AutoCloseable {
    final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "reporting-carrier");
      t.setDaemon(true);
      t.setUncaughtExceptionHandler((thread, e) -> uncaught.add(e));
      return t;
    });
    final Scheduler scheduler = Schedulers.onExecutor(executor);

    /** Waits until every task queued on the carrier so far has run. */
    void drain() {
      try {
        executor.submit(() -> {}).get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError("the carrier thread did not drain", e);
      }
    }

    @Override
    public void close() {
      scheduler.close();
      executor.shutdown();
    }
  }

  static void await(CountDownLatch latch, String what) {
    try {
      if (!latch.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError(what + " did not happen within 10 s");
      }
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** Spins for a time that varies with {@code round}, to vary how a race interleaves. */
  static void jitter(int round) {
    for (int i = (round * 7) % 256; i > 0; i--) {
      Thread.onSpinWait();
    }
  }
}
