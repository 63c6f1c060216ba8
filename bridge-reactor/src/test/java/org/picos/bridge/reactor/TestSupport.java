package org.picos.bridge.reactor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import reactor.core.publisher.Hooks;

/** Helpers shared by the tests: capturing Reactor's dropped-error hook and uncaught reports. */
final class TestSupport {
  private TestSupport() {}

  /** Errors that reached {@code Hooks.onErrorDropped} while {@link #withDroppedErrors} ran. */
  static final class Dropped {
    final List<Throwable> errors = new ArrayList<>();
    final CompletableFuture<Throwable> first = new CompletableFuture<>();

    synchronized void add(Throwable e) {
      errors.add(e);
      first.complete(e);
    }

    synchronized List<Throwable> all() {
      return List.copyOf(errors);
    }
  }

  /** Runs {@code test} with a dropped-error hook installed, then removes it. */
  static void withDroppedErrors(Consumer<Dropped> test) {
    Dropped dropped = new Dropped();
    Hooks.onErrorDropped(dropped::add);
    try {
      test.accept(dropped);
    } finally {
      Hooks.resetOnErrorDropped();
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
}
