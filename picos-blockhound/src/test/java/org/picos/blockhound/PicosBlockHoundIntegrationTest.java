package org.picos.blockhound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.picos.sched.Schedulers;
import org.picos.std.blocking.Blocking;
import org.picos.std.structured.Flock;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Event;
import org.picos.std.sync.Mutex;
import reactor.blockhound.BlockHound;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Mono;

/**
 * BlockHound installed in this module's own test JVM, with the integrations it finds by {@link
 * java.util.ServiceLoader} (this module's among them, never passed by hand): a blocking call in
 * a fiber on a shared carrier is BlockHound's error, thrown at the call in the fiber; Picos'
 * own suspensions, its carriers' idling and fibers that own their thread are not.
 */
class PicosBlockHoundIntegrationTest {
  /** Every blocking call BlockHound reported, with where: what the quiet tests check. */
  private static final ConcurrentLinkedQueue<String> REPORTED = new ConcurrentLinkedQueue<>();

  @BeforeAll
  static void install() {
    BlockHound.install(builder -> builder.blockingMethodCallback(method -> {
      REPORTED.add(method + " on " + Thread.currentThread().getName());
      throw new BlockingOperationError(method);
    }));
  }

  @BeforeEach
  void forgetEarlierReports() {
    REPORTED.clear();
  }

  /** Runs {@code body} in a fiber on {@code scheduler} and returns what it caught, or null. */
  private static BlockingOperationError caughtInFiber(Scheduler scheduler, Blocker body) {
    try (scheduler) {
      return scheduler.run(() -> {
        try {
          body.block();
          return null;
        } catch (BlockingOperationError e) {
          return e;
        }
      });
    }
  }

  @FunctionalInterface
  private interface Blocker {
    void block() throws Exception;
  }

  /** Whether {@code e}'s stack holds a frame of this test class's method {@code method}. */
  private static boolean hasFrame(Throwable e, String method) {
    return Arrays.stream(e.getStackTrace()).anyMatch(f ->
        f.getClassName().equals(PicosBlockHoundIntegrationTest.class.getName())
            && f.getMethodName().contains(method));
  }

  private static void sleepOneMilli() throws InterruptedException {
    Thread.sleep(1);
  }

  @Test
  void threadSleepInAFiberOnFifoIsBlockHoundsErrorWithTheFibersFrame() {
    BlockingOperationError e = caughtInFiber(Schedulers.fifo(), () -> sleepOneMilli());
    assertInstanceOf(BlockingOperationError.class, e, "Thread.sleep on a fifo carrier");
    assertEquals("java.lang.Thread", e.getMethod().getClassName(), e.toString());
    assertTrue(hasFrame(e, "sleepOneMilli"), "the fiber's own frame: " + Arrays.toString(e.getStackTrace()));
  }

  @Test
  void threadSleepInAFiberOnMultiIsBlockHoundsError() {
    for (int i = 0; i < 20; i++) { // fibers land on either carrier
      BlockingOperationError e = caughtInFiber(Schedulers.multi(2), () -> sleepOneMilli());
      assertInstanceOf(BlockingOperationError.class, e, "try " + i);
      assertTrue(hasFrame(e, "sleepOneMilli"), Arrays.toString(e.getStackTrace()));
    }
  }

  /** With Reactor's own integration loaded too: {@code Mono.block()} in a fiber is flagged. */
  @Test
  void monoBlockInAFiberIsBlockHoundsError() {
    BlockingOperationError e = caughtInFiber(Schedulers.fifo(),
        () -> Mono.never().block(Duration.ofSeconds(10))); // never there: block() must park
    assertInstanceOf(BlockingOperationError.class, e, "Mono.block() on a fifo carrier");
    assertTrue(Arrays.stream(e.getStackTrace()).anyMatch(f -> f.getMethodName().equals("block")
        && f.getClassName().startsWith("reactor.core.publisher.")), Arrays.toString(e.getStackTrace()));
  }

  /**
   * A Netty event loop as the carrier, with Netty's own integration loaded: a sleep in a fiber
   * is flagged and the loop goes on; fibers that only yield and sleep there are quiet, and so is
   * the loop's own idling between them.
   */
  @Test
  void onANettyEventLoopASleepingFiberIsFlaggedAndYieldingFibersAreQuiet() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      assertInstanceOf(BlockingOperationError.class,
          caughtInFiber(Schedulers.onExecutor(group.next()), () -> sleepOneMilli()));
      REPORTED.clear();
      try (Scheduler loop = Schedulers.onExecutor(group.next())) {
        int yields = loop.run(() -> Flock.joinAfter(() -> {
          AtomicInteger n = new AtomicInteger();
          for (int f = 0; f < 10; f++) {
            Flock.fork(() -> {
              for (int i = 0; i < 1_000; i++) {
                Fiber.yield();
                n.incrementAndGet();
              }
              Fiber.sleep(Duration.ofMillis(5));
            });
          }
          return n;
        })).get();
        assertEquals(10_000, yields);
      }
      assertTrue(REPORTED.isEmpty(), "no report: " + REPORTED);
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
    }
  }

  /** A socket read from a fiber on an executor scheduler: any thread becomes non-blocking
   *  while it carries such a fiber, and only then. */
  @Test
  void aLoopbackSocketReadInAFiberOnAnExecutorIsFlaggedAndTheSameReadOutsideAFiberIsNot()
      throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "host-thread"));
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
         Socket client = new Socket(server.getInetAddress(), server.getLocalPort());
         Socket accepted = server.accept()) {
      accepted.getOutputStream().write(new byte[] {1, 2});
      InputStream in = client.getInputStream();
      // Outside a fiber, on the same thread: an ordinary blocking read.
      assertEquals(1, executor.submit(() -> in.read()).get(30, TimeUnit.SECONDS));
      assertTrue(REPORTED.isEmpty(), "no report outside a fiber: " + REPORTED);
      BlockingOperationError e = caughtInFiber(Schedulers.onExecutor(executor), () -> in.read());
      assertInstanceOf(BlockingOperationError.class, e, "a socket read in a fiber on host-thread");
      assertTrue(e.getMethod().getClassName().startsWith("java.net.Socket"), e.toString());
      assertTrue(REPORTED.stream().allMatch(r -> r.endsWith("on host-thread")), REPORTED.toString());
      // And after the fiber, the thread is an ordinary one again.
      REPORTED.clear();
      assertEquals(2, executor.submit(() -> in.read()).get(30, TimeUnit.SECONDS));
      assertTrue(REPORTED.isEmpty(), "no report after the fiber: " + REPORTED);
    } finally {
      executor.shutdown();
      assertTrue(executor.awaitTermination(30, TimeUnit.SECONDS));
    }
  }

  @Test
  void fibersThatOwnTheirThreadAndPlainThreadsMayBlock() throws Exception {
    assertNull(caughtInFiber(Schedulers.threadPerFiber(), () -> sleepOneMilli()),
        "a thread-per-fiber fiber may block its own thread");
    Thread plain = new Thread(() -> {
      try {
        sleepOneMilli();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }, "plain");
    plain.start();
    plain.join();
    assertTrue(REPORTED.isEmpty(), "no report: " + REPORTED);
  }

  /** The offload is the fix BlockHound's error points to: the same sleep through it is quiet. */
  @Test
  void aSleepOffloadedThroughBlockingCallIsQuiet() {
    assertNull(caughtInFiber(Schedulers.fifo(), () -> Blocking.call(() -> {
      sleepOneMilli();
      return null;
    })));
    assertTrue(REPORTED.isEmpty(), "no report: " + REPORTED);
  }

  /**
   * Everything Picos does to suspend and resume fibers, many times over on shared carriers:
   * yields, timed sleeps, trigger ping-pong across carriers, a contended mutex, channel
   * rendezvous, selects, spawn and join, offloads and cancellation. BlockHound reports none.
   */
  @Test
  void picosOwnSuspensionsAndCarrierIdlingAreNeverReported() {
    for (Supplier<Scheduler> make : List.<Supplier<Scheduler>>of(Schedulers::fifo,
        () -> Schedulers.multi(2))) {
      try (Scheduler scheduler = make.get()) {
        int total = scheduler.run(() -> Flock.joinAfter(() -> {
          AtomicInteger sum = new AtomicInteger();
          Mutex mutex = new Mutex();
          Channel<Integer> pings = Channel.rendezvous();
          Channel<Integer> pongs = Channel.bounded(4);
          Flock.fork(() -> { // ping-pong through channels
            for (int i = 0; i < 5_000; i++) {
              pings.send(i);
              sum.addAndGet(pongs.receive());
            }
          });
          Flock.fork(() -> {
            for (int i = 0; i < 5_000; i++) {
              pongs.send(pings.receive());
            }
          });
          for (int f = 0; f < 4; f++) { // a contended mutex held across yields
            Flock.fork(() -> {
              for (int i = 0; i < 2_500; i++) {
                mutex.lock();
                try {
                  Fiber.yield();
                } finally {
                  mutex.unlock();
                }
              }
            });
          }
          Flock.fork(() -> { // trigger ping-pong between two fibers, across carriers
            for (int i = 0; i < 2_000; i++) {
              Trigger t = Trigger.create();
              Computation<Void> c = Fiber.spawn(() -> {
                t.signal();
                return null;
              });
              t.await();
              c.await();
            }
          });
          Flock.fork(() -> { // timed sleeps and selects
            for (int i = 0; i < 200; i++) {
              Fiber.sleep(Duration.ofNanos(1));
              Event.select(Event.always(1), pongs.receiveEvent());
            }
          });
          Flock.fork(() -> { // offloads
            for (int i = 0; i < 100; i++) {
              Blocking.call(() -> 1);
            }
          });
          return sum;
        })).get();
        assertTrue(total > 0, "the ping-pong ran: " + total);
      }
      assertTrue(REPORTED.isEmpty(), "Picos' own work was reported: " + REPORTED);
    }
  }

  /** Yields in a static initialiser, where the fiber is pinned and cannot suspend. */
  private static final class YieldsWhilePinned {
    static final int YIELDS;

    static {
      int n = 0;
      for (; n < 100; n++) {
        Fiber.yield(); // pinned: only a hint to the carrier, Thread.yield
      }
      YIELDS = n;
    }
  }

  @Test
  void aYieldWhilePinnedIsAHintNotABlockingCall() {
    try (Scheduler scheduler = Schedulers.fifo()) {
      assertEquals(100, scheduler.run(() -> YieldsWhilePinned.YIELDS));
    }
    assertTrue(REPORTED.isEmpty(), "no report: " + REPORTED);
  }

  /** A fiber cancelled while it blocks in an offload: the cancellation is no blocking call. */
  @Test
  void cancellingAFiberInAnOffloadIsQuiet() {
    List<Throwable> failures = new ArrayList<>();
    try (Scheduler scheduler = Schedulers.multi(2)) {
      for (int i = 0; i < 50; i++) {
        Computation<Object> c = scheduler.start(() -> Blocking.call(() -> {
          Thread.sleep(10_000);
          return null;
        }));
        scheduler.run(() -> {
          Fiber.sleep(Duration.ofMillis(1));
          return null;
        });
        c.tryCancel(new IllegalStateException("stop " + i));
        try {
          c.await();
        } catch (IllegalStateException expected) {
          continue;
        } catch (Throwable t) {
          failures.add(t);
        }
      }
    }
    assertTrue(failures.isEmpty(), failures.toString());
    assertTrue(REPORTED.isEmpty(), "no report: " + REPORTED);
  }
}
