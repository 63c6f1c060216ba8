package org.picos.bench;

import java.util.concurrent.TimeUnit;
import java.util.function.IntToLongFunction;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
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
import org.picos.bridge.reactor.PicosReactor;
import org.picos.sched.Schedulers;
import reactor.core.publisher.Mono;

/** Suite 13: awaiting a Mono that already has its value. */
@Suite(order = 240, title = "13. Reactor: `await(Mono.just(x))` in a fiber", reference = "plainCall",
    description = """
        One operation obtains a value in a fiber on `fifo()`; each invocation does 10,000 in \
        one fiber started for it. `await`: `PicosReactor.await(Mono.just(i))`, which must \
        answer without suspending. `block`: `Mono.just(i).block()`. `plainCall`: a call of a \
        method that returns `i` (not inlined), the cost of getting a value with no `Mono` at \
        all.

        Whether the fiber suspended is counted, not assumed: a sibling fiber on the same \
        `fifo()` scheduler counts its own turns (it yields in a loop), and on `fifo()` it can \
        only get a turn while the measuring fiber is suspended. The target below is that count \
        per operation (`suspensionsPerOp`, averaged over the measured iterations).""")
@Suite.Goal(is = "await", metric = "suspensionsPerOp", unit = "suspensions per `await`", atMost = 0,
    text = "`await(Mono.just(x))` does not suspend")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class ReactorAwaitSuite {
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

  /** The suspension count, reported by JMH as the secondary result {@code suspensionsPerOp}. */
  @AuxCounters(AuxCounters.Type.EVENTS)
  @State(Scope.Thread)
  public static class Suspensions {
    /** Turns the sibling fiber got while the operations ran, per operation (this iteration). */
    public double suspensionsPerOp;
    private long ops;
    private long turns;

    @Setup(Level.Iteration)
    public void clear() {
      suspensionsPerOp = 0;
      ops = 0;
      turns = 0;
    }

    void add(long moreOps, long moreTurns) {
      ops += moreOps;
      turns += moreTurns;
      suspensionsPerOp = (double) turns / ops;
    }
  }

  /**
   * Runs {@code op(0 .. OPS-1)} in a fiber on {@code fifo()} beside a sibling fiber that counts
   * its turns, and records how many turns the sibling got meanwhile.
   */
  private long measured(Suspensions out, IntToLongFunction op) {
    return Guard.run(fifo, () -> {
      int[] turns = new int[1];
      boolean[] stop = new boolean[1];
      Computation<Void> sibling = Fiber.spawn(() -> {
        while (!stop[0]) {
          turns[0]++;
          Fiber.yield();
        }
        return null;
      });
      int before = turns[0];
      long sum = 0;
      for (int i = 0; i < OPS; i++) {
        sum += op.applyAsLong(i);
      }
      int during = turns[0] - before;
      stop[0] = true;
      sibling.await();
      out.add(OPS, during);
      return sum;
    });
  }

  @CompilerControl(CompilerControl.Mode.DONT_INLINE)
  private static long plain(int i) {
    return i;
  }

  @Benchmark
  @OperationsPerInvocation(OPS)
  @Suite.Contender("a plain method call returning `i`")
  public long plainCall(Suspensions out) {
    return measured(out, ReactorAwaitSuite::plain);
  }

  @Benchmark
  @OperationsPerInvocation(OPS)
  @Suite.Contender("`PicosReactor.await(Mono.just(i))`")
  public long await(Suspensions out) {
    return measured(out, i -> PicosReactor.await(Mono.just(i)));
  }

  @Benchmark
  @OperationsPerInvocation(OPS)
  @Suite.Contender("`Mono.just(i).block()`")
  public long block(Suspensions out) {
    return measured(out, i -> Mono.just(i).block());
  }
}
