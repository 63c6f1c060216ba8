package org.picos.tck.bridges;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.picos.FiberLocal;
import org.picos.Scheduler;
import org.picos.bridge.netty.PicosNetty;
import org.picos.tck.SchedulerTck;

/**
 * Runs the compatibility kit on Netty event loops: {@code PicosNetty.scheduler(loop)} and
 * {@code PicosNetty.scheduler(group)} of a {@link MultiThreadIoEventLoopGroup} with NIO. The
 * loops are shared by all tests and stopped at the end; each test's scheduler is closed by the
 * kit, which leaves the loops running.
 */
class NettyKitTest {
  /** The thread a fiber first checked its host on: a group's fiber must stay on that loop. */
  private static final FiberLocal<Thread> HOME = FiberLocal.withInitial(Thread::currentThread);
  private static EventLoopGroup group;

  @BeforeAll
  static void startLoops() {
    group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  }

  @AfterAll
  static void stopLoops() throws InterruptedException {
    if (!group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS)) {
      throw new AssertionError("the event loops did not terminate");
    }
  }

  /** Whether the calling thread is one of the group's event loops. */
  private static boolean onGroupLoop() {
    for (var executor : group) {
      if (executor.inEventLoop()) {
        return true;
      }
    }
    return false;
  }

  @Nested
  class OnOneEventLoop extends SchedulerTck {
    private EventLoop loop;

    @Override
    protected Scheduler newScheduler() {
      loop = group.next();
      return PicosNetty.scheduler(loop);
    }

    @Override
    protected void checkHost() {
      if (!loop.inEventLoop()) {
        throw new AssertionError("fiber left its event loop: on " + Thread.currentThread());
      }
    }
  }

  @Nested
  class OnEventLoopGroup extends SchedulerTck {
    @Override
    protected Scheduler newScheduler() {
      return PicosNetty.scheduler(group);
    }

    @Override
    protected void checkHost() {
      if (!onGroupLoop()) {
        throw new AssertionError("fiber left the group's event loops: on " + Thread.currentThread());
      }
      if (HOME.get() != Thread.currentThread()) {
        throw new AssertionError("fiber moved from its loop " + HOME.get().getName() + " to "
            + Thread.currentThread().getName());
      }
    }
  }
}
