package org.picos.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import jdk.internal.vm.Continuation;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.picos.sched.Schedulers;

/** Suite 4: heap retained by a suspended task. */
@Suite(order = 40, title = "4. memory", reference = "floor", metric = "bytesPerTask", unit = "bytes/task",
    ownIterations = true,
    description = """
        Retained heap per suspended task: allocate N tasks that suspend, run a full GC, read the \
        used heap, and divide the growth by N (N = 100,000). `fiber`: fibers on `fifo()` each \
        awaiting a `Trigger` of their own (counted: the fiber, its computation, trigger, \
        continuation and stack). `virtualThread`: virtual threads parked with \
        `LockSupport.park()`. `floor`: bare `Continuation`s that yielded once. \
        `millionFibersIn1g` does the `fiber` measurement with 1,000,000 fibers in a JVM \
        started with `-Xmx1g`; it fails if they do not fit. Single-shot: one warm-up and two \
        measured shots per contender (`millionFibersIn1g`: one shot); the numbers are bytes, \
        not time.""")
@Suite.Goal(is = "fiber", atMost = 400, text = "≤ 400 bytes per suspended fiber (a parked virtual thread is about 740)")
@Suite.Goal(is = "millionFibersIn1g", text = "1,000,000 suspended fibers fit in `-Xmx1g`")
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(jvmArgsAppend = {Suite.ADD_EXPORTS, "-Xmx2g"})
@Warmup(iterations = 1)
@Measurement(iterations = 2)
@State(Scope.Thread)
public class MemorySuite {
  static final int N = 100_000;

  /** The measured result, reported by JMH as the secondary result {@code bytesPerTask}. */
  @AuxCounters(AuxCounters.Type.EVENTS)
  @State(Scope.Thread)
  public static class Retained {
    public double bytesPerTask;

    @Setup(Level.Iteration)
    public void clear() {
      bytesPerTask = 0;
    }
  }

  private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

  /** The used heap after full collections, once it stops shrinking. */
  private static long usedAfterGc() {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      long now = MEMORY.getHeapMemoryUsage().getUsed();
      if (now >= used) {
        return now;
      }
      used = now;
    }
    return used;
  }

  private static double suspendedFibers(int count) {
    try (Scheduler fifo = Schedulers.fifo()) {
      Guard.run(fifo, () -> null);
      long before = usedAfterGc();
      for (int i = 0; i < count; i++) {
        fifo.start(() -> Trigger.create().await());
      }
      // fifo() runs fibers in order: once this one runs, every fiber above is suspended.
      Guard.run(fifo, () -> null);
      long after = usedAfterGc();
      return (double) (after - before) / count;
      // close() cancels the suspended fibers and waits for them to end.
    }
  }

  @Benchmark
  @Suite.Contender("fiber on `fifo()` awaiting a Trigger")
  public void fiber(Retained out) {
    out.bytesPerTask = suspendedFibers(N);
  }

  @Benchmark
  @Fork(jvmArgsAppend = {Suite.ADD_EXPORTS, "-Xmx1g"})
  @Warmup(iterations = 0)
  @Measurement(iterations = 1)
  @Suite.Contender("1,000,000 such fibers in `-Xmx1g`")
  public void millionFibersIn1g(Retained out) {
    out.bytesPerTask = suspendedFibers(1_000_000);
  }

  @Benchmark
  @Suite.Contender("virtual thread parked in `LockSupport.park()`")
  public void virtualThread(Retained out) throws InterruptedException {
    Thread[] threads = new Thread[N];
    AtomicBoolean stop = new AtomicBoolean();
    long before = usedAfterGc();
    for (int i = 0; i < N; i++) {
      threads[i] = Thread.ofVirtual().start(() -> {
        while (!stop.get()) {
          LockSupport.park();
        }
      });
    }
    for (Thread t : threads) {
      while (t.getState() != Thread.State.WAITING) {
        Thread.yield();
      }
    }
    long after = usedAfterGc();
    out.bytesPerTask = (double) (after - before) / N;
    stop.set(true);
    for (Thread t : threads) {
      LockSupport.unpark(t);
      t.join();
    }
  }

  @Benchmark
  @Suite.Contender("bare Continuation after one yield (the floor)")
  public void floor(Retained out) {
    Continuation[] continuations = new Continuation[N];
    long before = usedAfterGc();
    for (int i = 0; i < N; i++) {
      Continuation c = Floor.continuation(Floor::suspend);
      c.run();
      continuations[i] = c;
    }
    long after = usedAfterGc();
    out.bytesPerTask = (double) (after - before) / N;
    for (Continuation c : continuations) {
      c.run();
    }
  }
}
