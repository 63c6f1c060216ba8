package org.picos.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.picos.bridge.reactor.PicosReactor;
import reactor.core.publisher.Flux;

/** Suite 12: a fiber emitting a Flux. */
@Suite(order = 230, title = "12. Reactor: `flux` emitting 10,000 items", reference = "range",
    description = """
        One operation is one item of a 10,000-item `Flux<Integer>`, delivered to a minimal \
        subscriber that requests everything at once and counts; the benchmark thread waits for \
        the completion. `flux`: `PicosReactor.flux(emitter -> ...next(i)...)`, a fiber on \
        `Schedulers.shared()` (subscribed outside any fiber) emitting from a loop. `range`: \
        `Flux.range(0, 10_000)`. `generate`: `Flux.generate` with a counter as state. `range` \
        and `generate` emit on the subscribing thread during `subscribe`; `flux` emits on a \
        carrier thread, so it also pays one hand-off and one wake-up per 10,000 items.""")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class ReactorFluxSuite {
  static final int ITEMS = 10_000;

  private static long drain(Flux<Integer> flux) {
    Drain<Integer> drain = new Drain<>();
    flux.subscribe(drain);
    return drain.count();
  }

  @Benchmark
  @OperationsPerInvocation(ITEMS)
  @Suite.Contender("`PicosReactor.flux`, a fiber emitting in a loop")
  public long flux() {
    return drain(PicosReactor.flux(emitter -> {
      for (int i = 0; i < ITEMS; i++) {
        emitter.next(i);
      }
    }));
  }

  @Benchmark
  @OperationsPerInvocation(ITEMS)
  @Suite.Contender("`Flux.range(0, 10_000)`")
  public long range() {
    return drain(Flux.range(0, ITEMS));
  }

  @Benchmark
  @OperationsPerInvocation(ITEMS)
  @Suite.Contender("`Flux.generate` with a counter")
  public long generate() {
    return drain(Flux.generate(() -> 0, (i, sink) -> {
      sink.next(i);
      if (i + 1 == ITEMS) {
        sink.complete();
      }
      return i + 1;
    }));
  }
}
