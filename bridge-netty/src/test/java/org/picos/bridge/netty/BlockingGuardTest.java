package org.picos.bridge.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.BlockingOperationException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Trigger;
import org.picos.sched.Schedulers;

/**
 * The Netty guard refuses every blocking Picos wait outside a fiber on a loop, on entry, even
 * when the result is already there; and it is found by ServiceLoader without PicosNetty.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BlockingGuardTest {
  static final int ATTEMPTS = 200;

  private EventLoopGroup group;

  @BeforeEach
  void start() {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  }

  @AfterEach
  void stop() throws InterruptedException {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
  }

  /** Runs each fast-path wait ATTEMPTS times in plain loop tasks; returns what passed. */
  static List<String> passes(EventLoop loop, Map<String, Callable<?>> waits) throws Exception {
    List<String> passed = new ArrayList<>();
    for (int i = 0; i < ATTEMPTS; i++) {
      for (Map.Entry<String, Callable<?>> wait : waits.entrySet()) {
        Throwable e = loop.submit(wait.getValue()).await().cause();
        if (!(e instanceof BlockingOperationException)) {
          passed.add(wait.getKey() + " #" + i + ": " + e);
        } else if (!e.getMessage().contains("Netty event-loop thread")
            || !e.getMessage().contains("Await inside a fiber on the loop instead")) {
          passed.add(wait.getKey() + " #" + i + " with the wrong advice: " + e.getMessage());
        }
      }
    }
    return passed;
  }

  @Test
  void everyFastPathWaitOnALoopIsRefused() throws Exception {
    EventLoop loop = group.next();
    Computation<Integer> done = Computation.create();
    done.tryReturn(1);
    Map<String, Callable<?>> waits = Map.of(
        "completed Computation.await", done::await,
        "signalled Trigger.await", () -> {
          Trigger t = Trigger.create();
          t.signal();
          return t.await();
        },
        "PicosNetty.await of a succeeded future", () -> PicosNetty.await(loop.newSucceededFuture(1)),
        "PicosNetty.await of a failed future",
            () -> PicosNetty.await(loop.newFailedFuture(new IllegalArgumentException("x"))));
    List<String> passed = passes(loop, waits);
    assertTrue(passed.isEmpty(), passed.size() + " waits passed, first: " + passed);
  }

  @Test
  void aFiberOnTheLoopMayStillWait() throws Exception {
    EventLoop loop = group.next();
    Computation<Integer> done = Computation.create();
    done.tryReturn(7);
    assertEquals(7 + 1, PicosNetty.scheduler(loop).start(
        () -> done.await() + PicosNetty.await(loop.newSucceededFuture(1))).await());
  }

  /** Run in a child JVM: a core scheduler on a Netty loop, without PicosNetty ever used. */
  public static final class WithoutTheBridgeClass {
    public static void main(String[] args) throws Exception {
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
      try {
        EventLoop loop = group.next();
        var scheduler = Schedulers.onExecutor(loop);
        Computation<Integer> done = Computation.create();
        done.tryReturn(1);
        int refused = 0;
        for (int i = 0; i < ATTEMPTS; i++) {
          Throwable fast = loop.submit(done::await).await().cause();
          // unguarded, this one would deadlock the loop: the fiber it waits for needs the loop
          var slow = loop.submit(() -> scheduler.start(() -> 2).await());
          if (!slow.await(5, TimeUnit.SECONDS)) {
            System.out.println("the loop deadlocked at attempt " + i);
            System.exit(1);
          }
          if (fast instanceof BlockingOperationException && slow.cause() instanceof BlockingOperationException) {
            refused++;
          }
        }
        System.out.println("refused " + refused + " of " + ATTEMPTS);
        scheduler.close();
      } finally {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void theGuardWorksInAJvmThatNeverLoadedPicosNetty() throws Exception {
    String java = ProcessHandle.current().info().command().orElseThrow();
    Process p = new ProcessBuilder(java, "--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED",
        "-Xlog:class+load=info", "-cp", System.getProperty("java.class.path"),
        WithoutTheBridgeClass.class.getName()).redirectErrorStream(true).start();
    String out;
    try {
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(50, TimeUnit.SECONDS), out);
    } finally {
      p.destroyForcibly();
    }
    assertTrue(out.contains("refused " + ATTEMPTS + " of " + ATTEMPTS), out);
    assertTrue(out.contains("org.picos.bridge.netty.NettyBlockingGuard "), "guard not loaded: " + out);
    assertFalse(out.contains("org.picos.bridge.netty.PicosNetty "), "PicosNetty was loaded");
  }
}
