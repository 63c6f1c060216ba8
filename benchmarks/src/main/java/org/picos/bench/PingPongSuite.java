package org.picos.bench;

import java.util.ArrayDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import jdk.internal.vm.Continuation;
import kotlin.coroutines.EmptyCoroutineContext;
import kotlinx.coroutines.BuildersKt;
import kotlinx.coroutines.CoroutineStart;
import kotlinx.coroutines.ExecutorCoroutineDispatcher;
import kotlinx.coroutines.ExecutorsKt;
import kotlinx.coroutines.channels.BufferOverflow;
import kotlinx.coroutines.channels.Channel;
import kotlinx.coroutines.channels.ChannelKt;
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

/** Suite 2: two parties handing a value back and forth. */
@Suite(order = 20, title = "2. ping-pong", reference = "floor",
    description = """
        One operation is one round trip: ping hands a number to pong, pong hands it back plus \
        one (two hand-offs, two suspensions). Each invocation does 10,000 round trips between \
        two parties started for it.

        - `fifo`: two fibers on `fifo()`; each hand-off writes the value and signals the \
        receiver's `Trigger`, the receiver awaits it and makes a fresh one.
        - `floor`: two bare `Continuation`s and an `ArrayDeque` run queue on the benchmark \
        thread: the same protocol with nothing else (no scheduler, no cancellation).
        - `vtSingleCarrier`: two virtual threads with `LockSupport.park/unpark`, all virtual \
        threads on one carrier thread. JDK 25 has no public API for a virtual-thread scheduler \
        of one's own, so this fork runs the default scheduler with \
        `-Djdk.virtualThreadScheduler.parallelism=1 -Djdk.virtualThreadScheduler.maxPoolSize=1`.
        - `vtSynchronousQueue`: two virtual threads on the default scheduler (all cores) with \
        two `SynchronousQueue`s.
        - `kotlinChannel`: two kotlinx.coroutines coroutines on a single-threaded dispatcher \
        (`Executors.newSingleThreadExecutor().asCoroutineDispatcher()`) with two rendezvous \
        `Channel`s. From Java, each coroutine is written as the state machine kotlinc generates \
        for a suspend function (a `ContinuationImpl` subclass).""")
@Suite.Goal(is = "fifo", vs = "floor", ratioAtMost = 1.3, text = "fibers on `fifo()` ≤ 1.3× the bare continuations")
@Suite.Goal(is = "fifo", vs = "vtSingleCarrier", speedupAtLeast = 2,
    text = "fibers on `fifo()` ≥ 2× faster than virtual threads on one carrier")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class PingPongSuite {
  static final int ROUNDS = 10_000;

  private Scheduler fifo;
  private ExecutorService kotlinThread;
  private ExecutorCoroutineDispatcher kotlinDispatcher;

  @Setup(Level.Trial)
  public void start() {
    fifo = Schedulers.fifo();
    kotlinThread = Executors.newSingleThreadExecutor();
    kotlinDispatcher = ExecutorsKt.from(kotlinThread);
  }

  @TearDown(Level.Trial)
  public void stop() {
    Guard.close(fifo);
    kotlinDispatcher.close();
  }

  // ---------------------------------------------------------------------------------------
  // Fibers

  /** A one-slot mailbox: the value, and the trigger its owner awaits. */
  private static final class Mailbox {
    volatile Trigger ready = Trigger.create();
    int value;

    /** Called by the other party: the trigger's signal publishes the value. */
    void send(int v) {
      value = v;
      ready.signal();
    }

    /** Called by the owner; the fresh trigger is in place before the owner sends anything. */
    int receive() {
      Throwable canceled = ready.await();
      if (canceled != null) {
        throw Computation.unchecked(canceled);
      }
      ready = Trigger.create();
      return value;
    }
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two fibers on `fifo()`, Trigger hand-off")
  public int fifo() {
    return Guard.run(fifo, () -> {
      Mailbox toPing = new Mailbox();
      Mailbox toPong = new Mailbox();
      Computation<Integer> pong = Fiber.spawn(() -> {
        int v = 0;
        for (int i = 0; i < ROUNDS; i++) {
          v = toPong.receive();
          toPing.send(v + 1);
        }
        return v;
      });
      int v = 0;
      for (int i = 0; i < ROUNDS; i++) {
        toPong.send(v);
        v = toPing.receive();
      }
      return v + pong.await();
    });
  }

  // ---------------------------------------------------------------------------------------
  // The floor: bare continuations

  /** A one-slot mailbox of the floor; single-threaded. */
  private static final class BareMailbox {
    private final ArrayDeque<Continuation> runQueue;
    private Continuation waiter;
    private boolean full;
    private int value;

    BareMailbox(ArrayDeque<Continuation> runQueue) {
      this.runQueue = runQueue;
    }

    void send(int v) {
      value = v;
      full = true;
      Continuation w = waiter;
      if (w != null) {
        waiter = null;
        runQueue.add(w);
      }
    }

    int receive() {
      while (!full) {
        waiter = Floor.current();
        Floor.suspend();
      }
      full = false;
      return value;
    }
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two bare Continuations + run queue (the floor)")
  public int floor() {
    ArrayDeque<Continuation> runQueue = new ArrayDeque<>();
    BareMailbox toPing = new BareMailbox(runQueue);
    BareMailbox toPong = new BareMailbox(runQueue);
    int[] result = new int[1];
    runQueue.add(Floor.continuation(() -> {
      int v = 0;
      for (int i = 0; i < ROUNDS; i++) {
        toPong.send(v);
        v = toPing.receive();
      }
      result[0] = v;
    }));
    runQueue.add(Floor.continuation(() -> {
      for (int i = 0; i < ROUNDS; i++) {
        toPing.send(toPong.receive() + 1);
      }
    }));
    Continuation next;
    while ((next = runQueue.poll()) != null) {
      next.run();
    }
    return result[0];
  }

  // ---------------------------------------------------------------------------------------
  // Virtual threads

  /** A one-slot mailbox for virtual threads: park until full. */
  private static final class ParkingMailbox {
    private volatile boolean full;
    private volatile int value;
    Thread owner;

    void send(int v) {
      value = v;
      full = true;
      LockSupport.unpark(owner);
    }

    int receive() {
      while (!full) {
        LockSupport.park(this);
      }
      full = false;
      return value;
    }
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Fork(jvmArgsAppend = {Suite.ADD_EXPORTS, "-Djdk.virtualThreadScheduler.parallelism=1",
      "-Djdk.virtualThreadScheduler.maxPoolSize=1"})
  @Suite.Contender("two virtual threads on one carrier, park/unpark")
  public int vtSingleCarrier() throws InterruptedException {
    ParkingMailbox toPing = new ParkingMailbox();
    ParkingMailbox toPong = new ParkingMailbox();
    int[] result = new int[1];
    Thread ping = Thread.ofVirtual().unstarted(() -> {
      int v = 0;
      for (int i = 0; i < ROUNDS; i++) {
        toPong.send(v);
        v = toPing.receive();
      }
      result[0] = v;
    });
    Thread pong = Thread.ofVirtual().unstarted(() -> {
      for (int i = 0; i < ROUNDS; i++) {
        toPing.send(toPong.receive() + 1);
      }
    });
    toPing.owner = ping;
    toPong.owner = pong;
    pong.start();
    ping.start();
    ping.join();
    pong.join();
    return result[0];
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two virtual threads, default scheduler, SynchronousQueue")
  public int vtSynchronousQueue() throws InterruptedException {
    SynchronousQueue<Integer> toPing = new SynchronousQueue<>();
    SynchronousQueue<Integer> toPong = new SynchronousQueue<>();
    return virtualThreads(ROUNDS, new Pipe(toPing::put, toPing::take), new Pipe(toPong::put, toPong::take));
  }

  /** A blocking one-way hand-off between two threads: a queue, a channel. */
  record Pipe(Put put, Take take) {
    interface Put {
      void put(Integer value) throws InterruptedException;
    }

    interface Take {
      Integer take() throws InterruptedException;
    }
  }

  /**
   * {@code rounds} round trips between two virtual threads: ping sends a number on
   * {@code toPong}, pong sends it back plus one on {@code toPing}. Returns ping's last number.
   */
  static int virtualThreads(int rounds, Pipe toPing, Pipe toPong) throws InterruptedException {
    int[] result = new int[1];
    Thread ping = Thread.ofVirtual().start(() -> {
      try {
        int v = 0;
        for (int i = 0; i < rounds; i++) {
          toPong.put().put(v);
          v = toPing.take().take();
        }
        result[0] = v;
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    Thread pong = Thread.ofVirtual().start(() -> {
      try {
        for (int i = 0; i < rounds; i++) {
          toPing.put().put(toPong.take().take() + 1);
        }
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    ping.join();
    pong.join();
    return result[0];
  }

  // ---------------------------------------------------------------------------------------
  // kotlinx.coroutines

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two coroutines, single-threaded dispatcher, rendezvous Channel")
  public Object kotlinChannel() throws InterruptedException {
    return BuildersKt.runBlocking(kotlinDispatcher, (scope, done) -> {
      Channel<Integer> toPing = ChannelKt.Channel(Channel.RENDEZVOUS, BufferOverflow.SUSPEND, null);
      Channel<Integer> toPong = ChannelKt.Channel(Channel.RENDEZVOUS, BufferOverflow.SUSPEND, null);
      BuildersKt.launch(scope, EmptyCoroutineContext.INSTANCE, CoroutineStart.DEFAULT,
          (s, pongDone) -> new KotlinPlayer(pongDone, toPong, toPing, false, ROUNDS).start());
      return new KotlinPlayer(done, toPing, toPong, true, ROUNDS).start();
    });
  }
}
