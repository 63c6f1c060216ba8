package org.picos.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.picos.std.sync.Mutex;

/** Suite 8: a contended lock (picos-std Mutex against ReentrantLock on virtual threads). */
@Suite(order = 110, title = "8. mutex", reference = "virtualThreads",
    description = """
        One operation is one lock + unlock of a contended lock. Eight parties each do 1,000 \
        times: lock, increment a shared counter, yield, unlock. The yield inside the critical \
        section (`Fiber.yield()` / `Thread.yield()`) lets the other parties run while the lock \
        is held, so they all queue on it and nearly every unlock hands the lock to a waiter, \
        even on a single carrier. Each invocation does 8,000 operations.

        - `fifo`: eight fibers on `fifo()` with one `org.picos.std.sync.Mutex` (fair, FIFO \
        hand-off).
        - `multi2`: the same on `multi(2)` (two carriers; hand-offs cross threads).
        - `virtualThreads`: eight virtual threads (default scheduler, all cores) with one \
        `ReentrantLock` (non-fair, the default).""")
@Suite.Goal(is = "fifo", vs = "virtualThreads", ratioAtMost = 1.5,
    text = "`Mutex` on `fifo()` within 1.5× of `ReentrantLock` on virtual threads, or faster")
@Suite.Goal(is = "multi2", vs = "virtualThreads", ratioAtMost = 1.5,
    text = "`Mutex` on `multi(2)` within 1.5× of `ReentrantLock` on virtual threads, or faster")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class MutexSuite {
  static final int PARTIES = 8;
  static final int LOCKS = 1_000;

  private Scheduler fifo;
  private Scheduler multi2;

  @Setup(Level.Trial)
  public void start() {
    fifo = Schedulers.fifo();
    multi2 = Schedulers.multi(2);
  }

  @TearDown(Level.Trial)
  public void stop() {
    Guard.close(fifo);
    Guard.close(multi2);
  }

  private static int fibers(Scheduler scheduler) {
    return Guard.run(scheduler, () -> {
      Mutex mutex = new Mutex();
      int[] counter = new int[1];
      List<Computation<Void>> parties = new ArrayList<>(PARTIES);
      for (int p = 0; p < PARTIES; p++) {
        parties.add(Fiber.spawn(() -> {
          for (int i = 0; i < LOCKS; i++) {
            mutex.lock();
            try {
              counter[0]++;
              Fiber.yield();
            } finally {
              mutex.unlock();
            }
          }
          return null;
        }));
      }
      for (Computation<Void> party : parties) {
        party.await();
      }
      return counter[0];
    });
  }

  @Benchmark
  @OperationsPerInvocation(PARTIES * LOCKS)
  @Suite.Contender("eight fibers on `fifo()`, `Mutex`")
  public int fifo() {
    return fibers(fifo);
  }

  @Benchmark
  @OperationsPerInvocation(PARTIES * LOCKS)
  @Suite.Contender("eight fibers on `multi(2)`, `Mutex`")
  public int multi2() {
    return fibers(multi2);
  }

  @Benchmark
  @OperationsPerInvocation(PARTIES * LOCKS)
  @Suite.Contender("eight virtual threads, `ReentrantLock`")
  public int virtualThreads() throws InterruptedException {
    ReentrantLock lock = new ReentrantLock();
    int[] counter = new int[1];
    Thread[] parties = new Thread[PARTIES];
    for (int p = 0; p < PARTIES; p++) {
      parties[p] = Thread.ofVirtual().start(() -> {
        for (int i = 0; i < LOCKS; i++) {
          lock.lock();
          try {
            counter[0]++;
            Thread.yield();
          } finally {
            lock.unlock();
          }
        }
      });
    }
    for (Thread party : parties) {
      party.join();
    }
    return counter[0];
  }
}
