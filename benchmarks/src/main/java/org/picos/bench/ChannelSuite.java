package org.picos.bench;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import kotlin.coroutines.EmptyCoroutineContext;
import kotlinx.coroutines.BuildersKt;
import kotlinx.coroutines.CoroutineStart;
import kotlinx.coroutines.ExecutorCoroutineDispatcher;
import kotlinx.coroutines.ExecutorsKt;
import kotlinx.coroutines.channels.BufferOverflow;
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
import org.picos.sched.Schedulers;
import org.picos.std.sync.Channel;

/** Suite 7: ping-pong over channels (picos-std against jox and kotlinx.coroutines). */
@Suite(order = 100, title = "7. channels", reference = "joxRendezvous",
    description = """
        One operation is one round trip over two channels: ping sends a number on one, pong \
        receives it and sends it back plus one on the other. Each invocation does 10,000 round \
        trips between two parties started for it, once with rendezvous channels and once with \
        channels buffered to 16 (one message is in flight at a time, so a buffered receive \
        still waits for the other party: the buffered rows measure the buffer's bookkeeping \
        on the same protocol).

        - `fifoRendezvous`, `fifoBuffered`: two fibers on `fifo()` with \
        `org.picos.std.sync.Channel.rendezvous()` / `bounded(16)`.
        - `joxRendezvous`, `joxBuffered`: two virtual threads (default scheduler, all cores) \
        with jox 1.0.1 `Channel.newRendezvousChannel()` / `newBufferedChannel(16)`.
        - `kotlinRendezvous`, `kotlinBuffered`: two kotlinx.coroutines coroutines on a \
        single-threaded dispatcher with `Channel(RENDEZVOUS)` / `Channel(16)`, driven from Java \
        as in suite 2.""")
@Suite.Goal(is = "fifoRendezvous", vs = "joxRendezvous", speedupAtLeast = 1,
    text = "rendezvous `Channel` on `fifo()` faster than jox's on virtual threads")
@Suite.Goal(is = "fifoBuffered", vs = "joxBuffered", speedupAtLeast = 1,
    text = "buffered(16) `Channel` on `fifo()` faster than jox's on virtual threads")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class ChannelSuite {
  static final int ROUNDS = 10_000;
  static final int BUFFER = 16;

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
  // picos-std on fifo()

  private int fibers(Channel<Integer> toPing, Channel<Integer> toPong) {
    return Guard.run(fifo, () -> {
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

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two fibers on `fifo()`, `Channel.rendezvous()`")
  public int fifoRendezvous() {
    return fibers(Channel.rendezvous(), Channel.rendezvous());
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two fibers on `fifo()`, `Channel.bounded(16)`")
  public int fifoBuffered() {
    return fibers(Channel.bounded(BUFFER), Channel.bounded(BUFFER));
  }

  // ---------------------------------------------------------------------------------------
  // jox on virtual threads

  private static int virtualThreads(com.softwaremill.jox.Channel<Integer> toPing,
      com.softwaremill.jox.Channel<Integer> toPong) throws InterruptedException {
    return PingPongSuite.virtualThreads(ROUNDS, new PingPongSuite.Pipe(toPing::send, toPing::receive),
        new PingPongSuite.Pipe(toPong::send, toPong::receive));
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two virtual threads, jox `newRendezvousChannel()`")
  public int joxRendezvous() throws InterruptedException {
    return virtualThreads(com.softwaremill.jox.Channel.newRendezvousChannel(),
        com.softwaremill.jox.Channel.newRendezvousChannel());
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two virtual threads, jox `newBufferedChannel(16)`")
  public int joxBuffered() throws InterruptedException {
    return virtualThreads(com.softwaremill.jox.Channel.newBufferedChannel(BUFFER),
        com.softwaremill.jox.Channel.newBufferedChannel(BUFFER));
  }

  // ---------------------------------------------------------------------------------------
  // kotlinx.coroutines

  private Object coroutines(int capacity) throws InterruptedException {
    return BuildersKt.runBlocking(kotlinDispatcher, (scope, done) -> {
      kotlinx.coroutines.channels.Channel<Integer> toPing = ChannelKt.Channel(capacity, BufferOverflow.SUSPEND, null);
      kotlinx.coroutines.channels.Channel<Integer> toPong = ChannelKt.Channel(capacity, BufferOverflow.SUSPEND, null);
      BuildersKt.launch(scope, EmptyCoroutineContext.INSTANCE, CoroutineStart.DEFAULT,
          (s, pongDone) -> new KotlinPlayer(pongDone, toPong, toPing, false, ROUNDS).start());
      return new KotlinPlayer(done, toPing, toPong, true, ROUNDS).start();
    });
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two coroutines, single-threaded dispatcher, `Channel(RENDEZVOUS)`")
  public Object kotlinRendezvous() throws InterruptedException {
    return coroutines(kotlinx.coroutines.channels.Channel.RENDEZVOUS);
  }

  @Benchmark
  @OperationsPerInvocation(ROUNDS)
  @Suite.Contender("two coroutines, single-threaded dispatcher, `Channel(16)`")
  public Object kotlinBuffered() throws InterruptedException {
    return coroutines(BUFFER);
  }
}
