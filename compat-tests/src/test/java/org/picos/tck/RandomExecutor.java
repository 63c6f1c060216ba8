package org.picos.tck;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executor;

/**
 * A test-only executor that runs its tasks on one thread in a random order drawn from a seed, so
 * that {@code Schedulers.onExecutor(new RandomExecutor(seed))} becomes a scheduler that picks the
 * next ready fiber at random (as Picos' test scheduler does), shaking out code that silently relies
 * on FIFO order. The seed is in the thread's name and in every failure's message.
 */
public final class RandomExecutor implements Executor {
  private final List<Runnable> ready = new ArrayList<>();
  private final Random random;
  private final long seed;
  private final Thread thread;

  public RandomExecutor(long seed) {
    this.seed = seed;
    this.random = new Random(seed);
    this.thread = new Thread(this::loop, "random-scheduler-seed-" + seed);
    thread.setDaemon(true);
    thread.start();
  }

  public long seed() {
    return seed;
  }

  @Override
  public void execute(Runnable task) {
    synchronized (ready) {
      ready.add(task);
      ready.notifyAll();
    }
  }

  private void loop() {
    for (;;) {
      Runnable next;
      synchronized (ready) {
        while (ready.isEmpty()) {
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
      } catch (Throwable t) {
        throw new AssertionError("task failed on the random scheduler with seed " + seed, t);
      }
    }
  }

  @Override
  public String toString() {
    return "random(seed " + seed + ")";
  }
}
