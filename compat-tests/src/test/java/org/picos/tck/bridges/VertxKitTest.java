package org.picos.tck.bridges;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.picos.FiberLocal;
import org.picos.Scheduler;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.tck.SchedulerTck;

/** Runs the compatibility kit on the Vert.x bridge's schedulers, on one real Vert.x instance. */
class VertxKitTest {
  private static Vertx vertx;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
  }

  @AfterAll
  static void closeVertx() throws Exception {
    vertx.close().await(30, TimeUnit.SECONDS);
  }

  /** Every fiber on one event-loop context: its thread, with it as the current context. */
  @Nested
  class OnEventLoopContext extends SchedulerTck {
    private Context context;
    private volatile Thread loop;

    @Override
    protected Scheduler newScheduler() {
      context = vertx.getOrCreateContext();
      context.runOnContext(v -> loop = Thread.currentThread());
      return PicosVertx.scheduler(context);
    }

    @Override
    protected void checkHost() {
      if (Vertx.currentContext() != context) {
        throw new AssertionError("fiber left its context: current context is " + Vertx.currentContext());
      }
      if (Thread.currentThread() != loop) {
        throw new AssertionError("fiber left its event loop " + loop + ": on " + Thread.currentThread());
      }
    }
  }

  /** Each fiber on a fresh event-loop context of its own, for life. */
  @Nested
  class OnVertx extends SchedulerTck {
    private final FiberLocal<Context> home = FiberLocal.create();

    @Override
    protected Scheduler newScheduler() {
      return PicosVertx.scheduler(vertx);
    }

    @Override
    protected void checkHost() {
      Context current = Vertx.currentContext();
      if (current == null || !current.isEventLoopContext() || !Context.isOnEventLoopThread()) {
        throw new AssertionError("fiber is not on an event-loop context: " + current + " on " + Thread.currentThread());
      }
      Context first = home.get();
      if (first == null) {
        home.set(current);
      } else if (first != current) {
        throw new AssertionError("fiber moved from context " + first + " to " + current);
      }
    }
  }
}
