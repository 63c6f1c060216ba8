package org.picos.tck.bridges;

import org.junit.jupiter.api.Nested;
import org.picos.Scheduler;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.tck.SchedulerTck;

/**
 * Runs the compatibility kit on Reactor's own schedulers through
 * {@link PicosReactor#scheduler(reactor.core.scheduler.Scheduler)}.
 *
 * <p>These are Reactor's shared global {@code single()} and {@code parallel()} schedulers, as a
 * Reactor application would use them. That is safe here: closing the Picos scheduler (the kit
 * does after every test) cancels and waits for its fibers but never disposes the Reactor
 * scheduler, which belongs to its owner, so later tests and the rest of the JVM keep using it.
 */
class ReactorKitTest {
  /** Fails unless the calling fiber runs on a thread of the named Reactor scheduler. */
  private static void checkOn(String threadPrefix) {
    String name = Thread.currentThread().getName();
    if (!name.startsWith(threadPrefix)) {
      throw new AssertionError("fiber left its Reactor scheduler (" + threadPrefix + "*): on " + name);
    }
  }

  @Nested
  class OnSingle extends SchedulerTck {
    @Override
    protected Scheduler newScheduler() {
      return PicosReactor.scheduler(reactor.core.scheduler.Schedulers.single());
    }

    @Override
    protected void checkHost() {
      checkOn("single-");
    }
  }

  @Nested
  class OnParallel extends SchedulerTck {
    @Override
    protected Scheduler newScheduler() {
      return PicosReactor.scheduler(reactor.core.scheduler.Schedulers.parallel());
    }

    @Override
    protected void checkHost() {
      checkOn("parallel-");
    }
  }
}
