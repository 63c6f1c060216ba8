package org.picos.bridge.netty;

import static org.junit.jupiter.api.Assertions.*;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;

/**
 * Attacks on what the Netty bridge promises at loop shutdown: Netty cancels the scheduled tasks
 * of a loop that shuts down, so a protected sleep armed on the loop's timer before the shutdown
 * must still end (the scheduler moves the timer to a timer thread that lives on), and the
 * fiber must end too.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class NettyShutdownAdversarialTest {

  @Test
  void aProtectedSleepArmedOnTheLoopBeforeItShutsDownStillEnds() throws Exception {
    for (long quietMillis : new long[] {0, 200}) {
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
      EventLoop loop = group.next();
      Scheduler s = PicosNetty.scheduler(loop);
      Trigger armed = Trigger.create();
      AtomicReference<String> outcome = new AtomicReference<>();
      Computation<Void> fiber = s.start(() -> Fiber.forbid(() -> {
        Computation<Void> nap = Computation.create();
        nap.cancelAfter(Duration.ofMillis(500), new RuntimeException("slept"));
        armed.signal();
        try {
          nap.await();
          outcome.set("woken without the timer");
        } catch (RuntimeException slept) {
          outcome.set(slept.getMessage());
        }
        return null;
      }));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!armed.isSignaled()) {
        assertTrue(System.nanoTime() < end, "the fiber did not arm its timer");
        Thread.sleep(1);
      }
      group.shutdownGracefully(quietMillis, 1000, TimeUnit.MILLISECONDS);
      assertTrue(group.terminationFuture().await(20, TimeUnit.SECONDS), "the group terminated");
      while (fiber.isRunning() || outcome.get() == null) {
        assertTrue(System.nanoTime() < end,
            "quiet " + quietMillis + " ms: the protected sleep never ended (outcome " + outcome.get() + ")");
        Thread.sleep(5);
      }
      assertEquals("slept", outcome.get(), "quiet " + quietMillis + " ms");
      assertThrows(SchedulerClosedException.class, fiber::await);
      assertTrue(s.isClosed(), "the loop's shared scheduler closed itself with the loop");
    }
  }
}
