package org.picos.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.BlockingOperationException;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.sched.Schedulers;
import org.picos.std.structured.Flock;
import org.picos.std.sync.Channel;
import org.picos.std.sync.ChannelClosedException;
import org.picos.std.sync.Event;
import org.picos.std.sync.Ivar;
import org.picos.std.sync.Latch;
import org.picos.std.sync.Lazy;
import org.picos.std.sync.Mutex;
import org.picos.std.sync.Semaphore;
import reactor.core.publisher.Mono;

/**
 * Every misuse SPEC §9 names, in one place: each gets a clear, specific error of the documented
 * type whose message says what to do, never a hang and never a silent loss.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MisuseCatalogueTest {

  /** Asserts that {@code misuse} throws {@code type} with a message containing every fragment. */
  private static <T extends Throwable> T refused(Class<T> type, Executable misuse, String... fragments) {
    T e = assertThrows(type, misuse);
    for (String f : fragments) {
      assertTrue(e.getMessage() != null && e.getMessage().contains(f),
          "message of " + type.getSimpleName() + " should contain '" + f + "': " + e.getMessage());
    }
    return e;
  }

  /** Started in a child JVM without the --add-exports flag. */
  public static final class WithoutTheFlag {
    public static void main(String[] args) {
      try {
        Schedulers.multi(1);
        System.out.println("UNEXPECTED: created");
      } catch (IllegalStateException e) {
        System.out.println(e.getMessage());
      }
    }
  }

  @Test
  void missingJvmFlagNamesTheFlag() throws Exception {
    String java = ProcessHandle.current().info().command().orElseThrow();
    Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        WithoutTheFlag.class.getName()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertTrue(out.contains("--add-exports java.base/jdk.internal.vm=ALL-UNNAMED"), out);
    assertTrue(out.contains("Schedulers.threadPerFiber() works without it"), out);
  }

  static final class PinnedByInitializer {
    static final Throwable FAILURE = failure();

    private static Throwable failure() {
      try {
        Trigger.create().await();
        return null;
      } catch (IllegalStateException e) {
        return e;
      }
    }
  }

  @Test
  void awaitWhilePinnedSaysWhyAndWhatToDo() {
    try (Scheduler s = Schedulers.fifo()) {
      Throwable e = s.run(() -> PinnedByInitializer.FAILURE);
      assertTrue(e.getMessage().contains("cannot suspend because a native frame is on its stack"), e.getMessage());
      assertTrue(e.getMessage().contains("Move the await out of the pinning code"), e.getMessage());
    }
  }

  @Test
  void blockingWaitOnAVertxEventLoopOutsideAFiber() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      PicosVertx.newScheduler(vertx).close(); // loads the bridge, which installs its guard
      Computation<Throwable> seen = Computation.create();
      vertx.runOnContext(v -> {
        try {
          Computation.create().await();
        } catch (Throwable e) {
          seen.tryReturn(e);
        }
      });
      Throwable e = seen.await();
      assertTrue(e instanceof IllegalStateException, e.toString());
      assertTrue(e.getMessage().contains("outside a fiber on the Vert.x event-loop thread"), e.getMessage());
      assertTrue(e.getMessage().contains("Run this code in a fiber"), e.getMessage());
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void blockingWaitOnANettyEventLoopOutsideAFiber() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      PicosNetty.newScheduler(group).close(); // loads the bridge, which installs its guard
      io.netty.util.concurrent.Future<Object> onLoop = group.next().submit(() -> Computation.create().await());
      onLoop.await(30, TimeUnit.SECONDS);
      Throwable e = onLoop.cause();
      assertTrue(e instanceof BlockingOperationException, String.valueOf(e));
      assertTrue(e.getMessage().contains("outside a fiber would deadlock the loop"), e.getMessage());
      assertTrue(e.getMessage().contains("Await inside a fiber on the loop instead"), e.getMessage());
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void blockingWaitOnAReactorNonBlockingThreadOutsideAFiber() {
    PicosReactor.context(); // loads the bridge, which installs its guard
    Mono<Object> waiting = Mono.fromCallable(() -> Computation.create().await())
        .subscribeOn(reactor.core.scheduler.Schedulers.parallel());
    refused(IllegalStateException.class, waiting::block, "a Reactor non-blocking thread", "call it from a fiber");
  }

  /**
   * The fast path is guarded too: a wait whose result is already there is refused on a thread
   * that must not block, every time, and each host gives its own advice (a Vert.x loop is also a
   * Netty loop, and PicosNetty is loaded here: Vert.x's advice still wins).
   */
  @Test
  void fastPathWaitsOnNonBlockingThreadsAreRefusedEveryTimeWithTheirHostsAdvice() throws Exception {
    Computation<Integer> done = Computation.create();
    done.tryReturn(1);
    Vertx vertx = Vertx.vertx();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      PicosNetty.newScheduler(group).close(); // Netty's bridge is loaded, and must not answer on Vert.x
      for (int i = 0; i < 200; i++) {
        Computation<Throwable> onVertx = Computation.create();
        vertx.runOnContext(v -> {
          try {
            PicosVertx.await(io.vertx.core.Future.succeededFuture(done.await()));
            onVertx.tryReturn(null);
          } catch (Throwable e) {
            onVertx.tryReturn(e);
          }
        });
        Throwable e = onVertx.await();
        assertTrue(e instanceof IllegalStateException && e.getMessage().contains("Vert.x event-loop"),
            "attempt " + i + " on Vert.x: " + e);
        Throwable onNetty = group.next().submit(
            () -> PicosFutures.await(java.util.concurrent.CompletableFuture.completedFuture(1))).await().cause();
        assertTrue(onNetty instanceof BlockingOperationException, "attempt " + i + " on Netty: " + onNetty);
        Mono<Integer> cached = Mono.just(1).cache();
        cached.block();
        Mono<Integer> onReactor = Mono.fromCallable(() -> PicosReactor.await(cached))
            .subscribeOn(reactor.core.scheduler.Schedulers.parallel());
        refused(IllegalStateException.class, onReactor::block, "a Reactor non-blocking thread");
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }

  /**
   * The std library's waits are guarded on entry too: on a Netty loop outside a fiber, an
   * uncontended lock, a semaphore with a permit, a channel holding an element or with room, a
   * committed event, an open latch and a filled ivar are refused every time, and the refusal
   * takes and sends nothing.
   */
  @Test
  void fastPathStdWaitsOnANettyLoopAreRefusedEveryTimeAndTakeNothing() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    Mutex mutex = new Mutex();
    Semaphore semaphore = new Semaphore(1);
    Channel<String> full = Channel.bounded(1);
    full.trySend("kept");
    Channel<String> room = Channel.bounded(1);
    Latch open = new Latch(0);
    Ivar<String> filled = Ivar.of("x");
    try {
      for (int i = 0; i < 200; i++) {
        List<Runnable> waits = List.of(mutex::lock, semaphore::acquire, full::receive,
            () -> room.send("lost?"), () -> Event.always(1).sync(),
            () -> Event.select(full.receiveEvent()), open::await, filled::read);
        for (int k = 0; k < waits.size(); k++) {
          Throwable onLoop = group.next().submit(waits.get(k)).await().cause();
          assertTrue(onLoop instanceof BlockingOperationException,
              "attempt " + i + ", wait " + k + " on the loop: " + onLoop);
        }
      }
      assertFalse(mutex.isLocked(), "a refused lock holds nothing");
      assertTrue(semaphore.tryAcquire(), "a refused acquire took no permit");
      assertEquals("kept", full.tryReceive().orElseThrow(), "a refused receive took nothing");
      assertEquals(0, room.size(), "a refused send sent nothing");
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void closedSchedulers() {
    Scheduler s = Schedulers.fifo();
    s.close();
    refused(SchedulerClosedException.class, () -> s.start(() -> 1), "is closed", "cannot start new fibers");
    refused(UnsupportedOperationException.class, () -> Schedulers.shared().close(), "cannot be closed");
  }

  @Test
  void badArguments() {
    refused(IllegalArgumentException.class, () -> Schedulers.multi(0), "threads must be positive");
    refused(IllegalArgumentException.class,
        () -> Computation.create().cancelAfter(Duration.ofSeconds(-1), new CancellationException()),
        "must not be negative");
    refused(IllegalArgumentException.class, () -> Channel.bounded(-1));
  }

  @Test
  void nulls() {
    refused(NullPointerException.class, () -> Computation.create().tryCancel(null), "cause");
    refused(NullPointerException.class, () -> Computation.create().whenDone(null), "action");
    refused(NullPointerException.class, () -> Fiber.spawn(null), "body");
    refused(NullPointerException.class, () -> Schedulers.onExecutor(null), "executor");
    refused(NullPointerException.class, () -> Schedulers.fifo().start(null), "main");
    refused(NullPointerException.class, () -> Channel.<String>bounded(1).trySend(null), "item");
    refused(NullPointerException.class, () -> PicosFutures.await(null));
  }

  @Test
  void doubleCompletion() {
    Computation<Integer> c = Computation.create();
    assertTrue(c.tryReturn(1));
    assertFalse(c.tryReturn(2), "a second completion is refused, not an error");
    assertEquals(1, c.resultNow());
    Ivar<Integer> ivar = Ivar.create();
    ivar.fill(1);
    refused(IllegalStateException.class, () -> ivar.fill(2), "already filled", "use tryFill");
    Trigger t = Trigger.create();
    try (Scheduler fifo = Schedulers.fifo()) {
      Computation<Throwable> owner = fifo.start(t::await);
      while (isInitial(t)) {
        Thread.onSpinWait();
      }
      refused(IllegalStateException.class, t::await, "already awaited");
      t.signal();
      assertNull(owner.await());
    }
  }

  /** Whether {@code t} is initial; false once awaited (its owner attached an action) or signalled. */
  private static boolean isInitial(Trigger t) {
    try {
      return t.isInitial();
    } catch (IllegalStateException awaited) {
      return false;
    }
  }

  @Test
  void closedChannel() {
    Channel<String> ch = Channel.bounded(2);
    ch.send("kept");
    ch.close();
    refused(ChannelClosedException.class, () -> ch.send("lost?"), "closed", "nothing can be sent");
    assertEquals("kept", ch.receive(), "elements sent before close are still delivered");
    refused(ChannelClosedException.class, ch::receive, "closed", "drained");
  }

  @Test
  void mutexMisuse() {
    try (Scheduler s = Schedulers.fifo()) {
      s.run(() -> {
        Mutex m = new Mutex();
        refused(IllegalStateException.class, m::unlock, "not locked");
        m.lock();
        refused(IllegalStateException.class, m::lock, "not reentrant");
        Computation<Throwable> other = Fiber.spawn(() -> {
          try {
            m.unlock();
            return null;
          } catch (IllegalStateException e) {
            return e;
          }
        });
        assertTrue(other.await().getMessage().contains("does not own"), other.await().getMessage());
        m.unlock();
        return null;
      });
    }
  }

  @Test
  void fiberApisOutsideTheirScope() {
    refused(IllegalStateException.class, () -> Flock.fork(() -> {}), "not inside a flock");
    Lazy<Integer>[] self = new Lazy[1];
    self[0] = Lazy.of(() -> self[0].force());
    refused(IllegalStateException.class, self[0]::force, "recursive force");
    // Outside any scheduler the core operations work on the calling thread's implicit fiber.
    assertFalse(Fiber.inFiber());
    Fiber.yield();
    Fiber.check();
  }
}
