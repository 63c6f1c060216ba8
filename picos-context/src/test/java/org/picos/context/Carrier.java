package org.picos.context;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;

/**
 * One carrier thread running fibers and plain tasks in FIFO order, whose uncaught-exception
 * handler collects what is reported on it. A plain task submitted after a fiber signals that it
 * is about to await runs once that fiber's slice has ended.
 */
final class Carrier implements AutoCloseable {
  final List<Throwable> reported = new CopyOnWriteArrayList<>();
  private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "carrier");
    t.setDaemon(true);
    t.setUncaughtExceptionHandler((thread, failure) -> reported.add(failure));
    return t;
  });
  final Scheduler scheduler = Schedulers.onExecutor(executor);

  /** Runs {@code task} on the carrier thread, outside any fiber, and returns its value. */
  <T> T onCarrier(Callable<T> task) throws Exception {
    return executor.submit(task).get(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    scheduler.close();
    executor.shutdownNow();
  }
}
