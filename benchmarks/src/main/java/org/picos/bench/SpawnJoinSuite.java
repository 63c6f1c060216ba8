package org.picos.bench;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;

/** Suite 3: starting a trivial task and waiting for its result. */
@Suite(order = 30, title = "3. spawn+join", reference = "virtualThread",
    description = """
        One operation starts a task that returns a number and waits for it, from inside the \
        same kind of task: `Fiber.spawn(callable).await()` in a fiber on `fifo()` and on \
        `multi(2)`, `Thread.ofVirtual().start(r).join()` in a virtual thread, and \
        `CompletableFuture.supplyAsync(s).join()` from the benchmark thread (common pool). \
        Each invocation does 1,000 operations (one for `completableFuture`).""")
@Suite.Goal(is = "fifo", vs = "virtualThread", speedupAtLeast = 5,
    text = "spawn+join on `fifo()` ≥ 5× faster than a virtual thread")
@Suite.Goal(is = "multi2", vs = "virtualThread", speedupAtLeast = 5,
    text = "spawn+join on `multi(2)` ≥ 5× faster than a virtual thread")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class SpawnJoinSuite {
  static final int SPAWNS = 1_000;

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

  private static int spawnAndJoin() {
    int sum = 0;
    for (int i = 0; i < SPAWNS; i++) {
      int n = i;
      sum += Fiber.spawn(() -> n).await();
    }
    return sum;
  }

  @Benchmark
  @OperationsPerInvocation(SPAWNS)
  @Suite.Contender("`Fiber.spawn(c).await()` on `fifo()`")
  public int fifo() {
    return Guard.run(fifo, SpawnJoinSuite::spawnAndJoin);
  }

  @Benchmark
  @OperationsPerInvocation(SPAWNS)
  @Suite.Contender("`Fiber.spawn(c).await()` on `multi(2)`")
  public int multi2() {
    return Guard.run(multi2, SpawnJoinSuite::spawnAndJoin);
  }

  @Benchmark
  @OperationsPerInvocation(SPAWNS)
  @Suite.Contender("virtual thread start + join, from a virtual thread")
  public int virtualThread() throws InterruptedException {
    int[] sum = new int[1];
    Thread parent = Thread.ofVirtual().start(() -> {
      int[] box = new int[1];
      for (int i = 0; i < SPAWNS; i++) {
        int n = i;
        Thread child = Thread.ofVirtual().start(() -> box[0] = n);
        try {
          child.join();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        sum[0] += box[0];
      }
    });
    parent.join();
    return sum[0];
  }

  @Benchmark
  @Suite.Contender("`CompletableFuture.supplyAsync(s).join()` (common pool)")
  public int completableFuture() {
    return CompletableFuture.supplyAsync(() -> 1).join();
  }
}
