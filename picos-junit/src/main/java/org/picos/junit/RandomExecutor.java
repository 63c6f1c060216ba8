package org.picos.junit;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.picos.Scheduler;
import org.picos.sched.ExecutorScheduler;

/**
 * A test-only executor that runs its tasks on one thread in a random order drawn from a seed, so
 * that {@code Schedulers.onExecutor(new RandomExecutor(seed))} (or {@link #scheduler(long)},
 * which also stops the thread on close) becomes a scheduler that picks the next ready fiber at
 * random (as Picos' test scheduler does), shaking out code that silently relies on FIFO order.
 * The seed is in the thread's name and in every failure's message; the same seed gives the same
 * order as long as the fibers only talk to each other.
 */
public final class RandomExecutor implements Executor {
  private final List<Runnable> ready = new ArrayList<>();
  private final Random random;
  private final long seed;
  private final Thread thread;
  /** Set by {@link #shutdown}; guarded by {@code ready}. */
  private boolean stopped;

  public RandomExecutor(long seed) {
    this.seed = seed;
    this.random = new Random(seed);
    this.thread = new Thread(this::loop, "random-scheduler-seed-" + seed);
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * A scheduler on a new random executor, named {@code random(seed N)}, that stops the
   * executor's thread when it is closed.
   *
   * @param seed the seed of the order
   * @return the scheduler
   */
  public static Scheduler scheduler(long seed) {
    RandomExecutor executor = new RandomExecutor(seed);
    return ExecutorScheduler.builder(executor).name(executor.toString()).ownsExecutor()
        .onClose(executor::shutdown, executor::awaitStopped).build();
  }

  /** The seed this executor draws its order from. */
  public long seed() {
    return seed;
  }

  /**
   * Stops the thread once the tasks queued now have run; refuses new tasks. Does not block.
   */
  public void shutdown() {
    synchronized (ready) {
      stopped = true;
      ready.notifyAll();
    }
  }

  /** Waits for the thread to end after {@link #shutdown}. */
  public void awaitStopped() {
    if (Thread.currentThread() == thread) {
      return;
    }
    boolean interrupted = false;
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Queues {@code task}; it runs after a random number of the other queued tasks.
   *
   * @throws RejectedExecutionException after {@link #shutdown}
   */
  @Override
  public void execute(Runnable task) {
    synchronized (ready) {
      if (stopped) {
        throw new RejectedExecutionException(this + " is shut down");
      }
      ready.add(task);
      ready.notifyAll();
    }
  }

  private void loop() {
    for (;;) {
      Runnable next;
      synchronized (ready) {
        while (ready.isEmpty()) {
          if (stopped) {
            return;
          }
          try {
            ready.wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        int i = random.nextInt(ready.size());
        int last = ready.size() - 1;
        next = ready.get(i);
        ready.set(i, ready.get(last));
        ready.remove(last);
      }
      try {
        next.run();
      } catch (Throwable t) { // reported, and the other tasks still run
        thread.getUncaughtExceptionHandler().uncaughtException(thread,
            new AssertionError("task failed on the random scheduler with seed " + seed, t));
      }
    }
  }

  @Override
  public String toString() {
    return "random(seed " + seed + ")";
  }
}
