package org.picos.bench;

import io.reactivex.rxjava3.core.Flowable;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.picos.bridge.rxjava.PicosRx;

/** Suite 15: a fiber emitting a Flowable. */
@Suite(order = 260, title = "15. RxJava: `flowable` emitting 10,000 items", reference = "range",
    description = """
        One operation is one item of a 10,000-item `Flowable<Integer>`, delivered to the same \
        minimal subscriber as in suite 12 (requests everything at once, counts); the benchmark \
        thread waits for the completion. `flowable`: `PicosRx.flowable(emitter -> \
        ...next(i)...)`, a fiber on `Schedulers.shared()` (subscribed outside any fiber) \
        emitting from a loop. `range`: `Flowable.range(0, 10_000)`, which emits on the \
        subscribing thread during `subscribe`; `flowable` emits on a carrier thread, so it \
        also pays one hand-off and one wake-up per 10,000 items.""")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class RxFlowableSuite {
  static final int ITEMS = 10_000;

  private static long drain(Flowable<Integer> flowable) {
    Drain<Integer> drain = new Drain<>();
    flowable.subscribe(drain);
    return drain.count();
  }

  @Benchmark
  @OperationsPerInvocation(ITEMS)
  @Suite.Contender("`PicosRx.flowable`, a fiber emitting in a loop")
  public long flowable() {
    return drain(PicosRx.flowable(emitter -> {
      for (int i = 0; i < ITEMS; i++) {
        emitter.next(i);
      }
    }));
  }

  @Benchmark
  @OperationsPerInvocation(ITEMS)
  @Suite.Contender("`Flowable.range(0, 10_000)`")
  public long range() {
    return drain(Flowable.range(0, ITEMS));
  }
}
