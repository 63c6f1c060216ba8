package org.picos.bench;

import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.schedulers.Schedulers;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.picos.bridge.rxjava.PicosRx;

/** Suite 14: a fiber as a Single, blocked on. */
@Suite(order = 250, title = "14. RxJava: `single(callable).blockingGet()`", reference = "fromCallable",
    description = """
        One operation builds a `Single` of a small callable and blocks the benchmark thread in \
        `blockingGet()` until its value is there. `single`: `PicosRx.single(callable)`, which \
        runs the callable in a new fiber on `Schedulers.shared()` (subscribed outside any \
        fiber), so every operation is a hand-off to a carrier thread and a wake-up of the \
        blocked one. `fromCallable`: `Single.fromCallable(callable)`, which runs the callable \
        on the subscribing thread itself, with no hand-off. `fromCallableSubscribeOn`: \
        `Single.fromCallable(callable).subscribeOn(Schedulers.single())`, RxJava's way to run \
        it on another thread, for the same hand-off as `single`.""")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class RxSingleSuite {
  private int next;

  @Benchmark
  @Suite.Contender("`PicosRx.single(callable).blockingGet()` (a fiber on `shared()`)")
  public Integer single() {
    int x = next++;
    return PicosRx.single(() -> x + 1).blockingGet();
  }

  @Benchmark
  @Suite.Contender("`Single.fromCallable(callable).blockingGet()` (on the calling thread)")
  public Integer fromCallable() {
    int x = next++;
    return Single.fromCallable(() -> x + 1).blockingGet();
  }

  @Benchmark
  @Suite.Contender("`Single.fromCallable(callable).subscribeOn(single()).blockingGet()`")
  public Integer fromCallableSubscribeOn() {
    int x = next++;
    return Single.fromCallable(() -> x + 1).subscribeOn(Schedulers.single()).blockingGet();
  }
}
