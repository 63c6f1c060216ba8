package org.picos.bench;

import java.util.concurrent.CompletableFuture;
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
import org.picos.Scheduler;
import org.picos.bridge.future.PicosFutures;
import org.picos.sched.Schedulers;

/** Suite 10: a task run elsewhere as a CompletableFuture and joined. */
@Suite(order = 210, title = "10. CompletableFuture: fiber as a future, round trip",
    reference = "supplyAsync",
    description = """
        One operation hands a small task to another thread as a `CompletableFuture` and \
        blocks the benchmark thread until its value is back. `future`: \
        `PicosFutures.future(fifo, callable)`, a new fiber on a `fifo()` scheduler \
        (one carrier thread) whose result completes the future. `supplyAsync`: \
        `CompletableFuture.supplyAsync(supplier)` on the common `ForkJoinPool`. Both are waited for \
        alike: `get` with a generous bound (only a lost task would reach it) in place of \
        `join()`. Both include the hand-off to the other thread and the wake-up of the joining one.""")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class FutureRoundTripSuite {
  private Scheduler fifo;
  private int next;

  @Setup(Level.Trial)
  public void start() {
    fifo = Schedulers.fifo();
  }

  @TearDown(Level.Trial)
  public void stop() {
    Guard.close(fifo);
  }

  @Benchmark
  @Suite.Contender("`PicosFutures.future(fifo, callable).join()`")
  public int future() {
    int x = next++;
    return Guard.join(PicosFutures.future(fifo, () -> x + 1));
  }

  @Benchmark
  @Suite.Contender("`CompletableFuture.supplyAsync(supplier).join()`")
  public int supplyAsync() {
    int x = next++;
    return Guard.join(CompletableFuture.supplyAsync(() -> x + 1));
  }
}
