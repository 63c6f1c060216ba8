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
import org.picos.Scheduler;
import org.picos.bridge.future.PicosFutures;
import org.picos.sched.Schedulers;

/** Suite 9: awaiting an already completed CompletableFuture. */
@Suite(order = 200, title = "9. CompletableFuture: await of a completed future", reference = "join",
    description = """
        One operation reads the value of an already completed `CompletableFuture` (a new one \
        per operation, `completedFuture(i)`), in a fiber on `fifo()`: `await` with \
        `PicosFutures.await(future)`, which answers at once without suspending; `join` with \
        `future.join()`. Each invocation does 10,000 operations in one fiber started for it.""")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class FutureAwaitSuite {
  static final int OPS = 10_000;

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
  @OperationsPerInvocation(OPS)
  @Suite.Contender("`PicosFutures.await(completedFuture(i))` in a fiber on `fifo()`")
  public long await() {
    return Guard.run(fifo, () -> {
      long sum = 0;
      for (int i = 0; i < OPS; i++) {
        sum += PicosFutures.await(CompletableFuture.completedFuture(i));
      }
      return sum;
    });
  }

  @Benchmark
  @OperationsPerInvocation(OPS)
  @Suite.Contender("`completedFuture(i).join()` in a fiber on `fifo()`")
  public long join() {
    return Guard.run(fifo, () -> {
      long sum = 0;
      for (int i = 0; i < OPS; i++) {
        sum += CompletableFuture.completedFuture(i).join();
      }
      return sum;
    });
  }
}
