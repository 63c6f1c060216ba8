package org.picos.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.picos.bridge.reactor.PicosReactor;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** Suite 11: a fiber as a Mono, blocked on. */
@Suite(order = 220, title = "11. Reactor: `mono(callable).block()`", reference = "fromCallable",
    description = """
        One operation builds a `Mono` of a small callable and blocks the benchmark thread in \
        `block()` until its value is there. `mono`: `PicosReactor.mono(callable)`, which runs \
        the callable in a new fiber on `Schedulers.shared()` (subscribed outside any fiber), \
        so every operation is a hand-off to a carrier thread and a wake-up of the blocked one. \
        `fromCallable`: `Mono.fromCallable(callable)`, which runs the callable on the \
        subscribing thread itself, with no hand-off. `fromCallableSubscribeOn`: \
        `Mono.fromCallable(callable).subscribeOn(Schedulers.single())`, Reactor's way to run it \
        on another thread, for the same hand-off as `mono`. All three block with \
        `block(Duration)` and a generous bound that only a lost task would reach.""")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class ReactorMonoSuite {
  private int next;

  @Benchmark
  @Suite.Contender("`PicosReactor.mono(callable).block()` (a fiber on `shared()`)")
  public Integer mono() {
    int x = next++;
    return PicosReactor.mono(() -> x + 1).block(Guard.BOUND);
  }

  @Benchmark
  @Suite.Contender("`Mono.fromCallable(callable).block()` (on the calling thread)")
  public Integer fromCallable() {
    int x = next++;
    return Mono.fromCallable(() -> x + 1).block(Guard.BOUND);
  }

  @Benchmark
  @Suite.Contender("`Mono.fromCallable(callable).subscribeOn(single()).block()`")
  public Integer fromCallableSubscribeOn() {
    int x = next++;
    return Mono.fromCallable(() -> x + 1).subscribeOn(Schedulers.single()).block(Guard.BOUND);
  }
}
