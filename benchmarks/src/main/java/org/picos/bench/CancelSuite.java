package org.picos.bench;

import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
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
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.picos.sched.Schedulers;

/** Suite 6: cancelling a suspended task and seeing it end. */
@Suite(order = 60, title = "6. cancel", reference = "virtualThread",
    description = """
        One operation starts a task that suspends, cancels it, and waits until it has ended. \
        `fifo`: a fiber spawned with its own computation awaits a `Trigger` nobody signals; the \
        parent yields (so the child is suspended), cancels the child's computation and awaits \
        a second computation the child completes as its last act. `virtualThread`: a virtual \
        thread parks until interrupted; the parent (a virtual thread) yields until the child is \
        `WAITING`, interrupts it and joins it. Both include starting the task. Each invocation \
        does 1,000 operations.""")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class CancelSuite {
  static final int TASKS = 1_000;
  private static final CancellationException CAUSE = new CancellationException("benchmark cancel");

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
  @OperationsPerInvocation(TASKS)
  @Suite.Contender("cancel a fiber awaiting a Trigger on `fifo()`, await its end")
  public int fifo() {
    return Guard.run(fifo, () -> {
      int seen = 0;
      for (int i = 0; i < TASKS; i++) {
        Computation<Void> token = Computation.create();
        Computation<Boolean> ended = Computation.create();
        Fiber.spawn(Fiber.create(false, token), () -> ended.tryReturn(Trigger.create().await() == CAUSE));
        Fiber.yield();
        token.tryCancel(CAUSE);
        if (ended.await()) {
          seen++;
        }
      }
      return seen;
    });
  }

  @Benchmark
  @OperationsPerInvocation(TASKS)
  @Suite.Contender("interrupt a parked virtual thread, join it")
  public int virtualThread() throws InterruptedException {
    int[] seen = new int[1];
    Thread parent = Thread.ofVirtual().start(() -> {
      for (int i = 0; i < TASKS; i++) {
        Thread child = Thread.ofVirtual().start(() -> {
          while (!Thread.interrupted()) {
            LockSupport.park();
          }
        });
        while (child.getState() != Thread.State.WAITING && child.isAlive()) {
          Thread.yield();
        }
        child.interrupt();
        try {
          child.join();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        seen[0]++;
      }
    });
    parent.join();
    return seen[0];
  }
}
