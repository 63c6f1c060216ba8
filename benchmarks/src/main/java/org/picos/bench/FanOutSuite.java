package org.picos.bench;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveTask;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;

/** Suite 5: recursive fan-out/fan-in. */
@Suite(order = 50, title = "5. fan-out", reference = "forkJoin",
    description = """
        One operation computes fib(25) recursively: `fib(n)` starts a task for `fib(n-1)`, \
        computes `fib(n-2)` itself and joins the task (about 121,000 tasks per operation, no \
        sequential cut-off). Fibers use `Fiber.spawn(callable)` + `await()` on `multi(2)` and on \
        `fifo()`; `virtualThread` starts one virtual thread per task and joins it; `forkJoin` is \
        a `RecursiveTask` forked and joined on a 2-thread `ForkJoinPool`. With two cores, \
        `multi(2)` can beat `fifo()` only as far as the second core is free.""")
@Suite.Goal(is = "multi2", vs = "fifo", speedupAtLeast = 1.7, text = "`multi(2)` ≥ 1.7× faster than `fifo()`")
@Suite.Goal(is = "multi2", vs = "virtualThread", speedupAtLeast = 5,
    text = "`multi(2)` ≥ 5× faster than a virtual thread per task")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class FanOutSuite {
  static final int N = 25;

  private Scheduler fifo;
  private Scheduler multi2;
  private ForkJoinPool pool;

  @Setup(Level.Trial)
  public void start() {
    fifo = Schedulers.fifo();
    multi2 = Schedulers.multi(2);
    pool = new ForkJoinPool(2);
  }

  @TearDown(Level.Trial)
  public void stop() {
    Guard.close(fifo);
    Guard.close(multi2);
    pool.shutdown();
  }

  static int fibers(int n) {
    if (n < 2) {
      return n;
    }
    Computation<Integer> first = Fiber.spawn(() -> fibers(n - 1));
    int second = fibers(n - 2);
    return first.await() + second;
  }

  static int virtualThreads(int n) {
    if (n < 2) {
      return n;
    }
    int[] first = new int[1];
    Thread t = Thread.ofVirtual().start(() -> first[0] = virtualThreads(n - 1));
    int second = virtualThreads(n - 2);
    try {
      t.join();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
    return first[0] + second;
  }

  private static final class Fib extends RecursiveTask<Integer> {
    private final int n;

    Fib(int n) {
      this.n = n;
    }

    @Override
    protected Integer compute() {
      if (n < 2) {
        return n;
      }
      Fib first = new Fib(n - 1);
      first.fork();
      int second = new Fib(n - 2).compute();
      return first.join() + second;
    }
  }

  @Benchmark
  @Suite.Contender("`RecursiveTask` on `ForkJoinPool(2)`")
  public int forkJoin() {
    return pool.invoke(new Fib(N));
  }

  @Benchmark
  @Suite.Contender("fibers on `multi(2)`")
  public int multi2() {
    return Guard.run(multi2, () -> fibers(N));
  }

  @Benchmark
  @Suite.Contender("fibers on `fifo()`")
  public int fifo() {
    return Guard.run(fifo, () -> fibers(N));
  }

  @Benchmark
  @Suite.Contender("one virtual thread per task")
  public int virtualThread() throws InterruptedException {
    int[] result = new int[1];
    Thread root = Thread.ofVirtual().start(() -> result[0] = virtualThreads(N));
    root.join();
    return result[0];
  }
}
