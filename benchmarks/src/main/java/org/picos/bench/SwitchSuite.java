package org.picos.bench;

import java.util.concurrent.TimeUnit;
import jdk.internal.vm.Continuation;
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

/** Suite 1: the cost of one suspend+resume round trip. */
@Suite(order = 10, title = "1. switch", reference = "floor",
    description = """
        One operation is one suspend+resume round trip of a lone fiber: `Fiber.yield()` in a \
        fiber on `fifo()` (the scheduler puts it back in its queue and runs it again), against \
        the floor: a bare `jdk.internal.vm.Continuation` that yields, driven by a `run()` loop on \
        the benchmark thread. Each invocation does 10,000 yields in one fiber started for it.""")
@Suite.Goal(is = "fifo", vs = "floor", ratioAtMost = 1.5, text = "`Fiber.yield()` on `fifo()` ≤ 1.5× the floor")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class SwitchSuite {
  static final int YIELDS = 10_000;

  private Scheduler fifo;

  @Setup(Level.Trial)
  public void start() {
    fifo = Schedulers.fifo();
  }

  @TearDown(Level.Trial)
  public void stop() {
    Guard.close(fifo);
  }

  @Benchmark
  @OperationsPerInvocation(YIELDS)
  @Suite.Contender("bare Continuation yield + run (the floor)")
  public int floor() {
    Continuation c = Floor.continuation(() -> {
      for (int i = 0; i < YIELDS; i++) {
        Floor.suspend();
      }
    });
    int runs = 0;
    while (!c.isDone()) {
      c.run();
      runs++;
    }
    return runs;
  }

  @Benchmark
  @OperationsPerInvocation(YIELDS)
  @Suite.Contender("`Fiber.yield()` on `fifo()`")
  public int fifo() {
    return Guard.run(fifo, () -> {
      for (int i = 0; i < YIELDS; i++) {
        Fiber.yield();
      }
      return YIELDS;
    });
  }
}
