package org.picos.tck.bridges;

import io.reactivex.rxjava3.schedulers.Schedulers;
import org.junit.jupiter.api.Nested;
import org.picos.Scheduler;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.tck.StdTck;

/**
 * The std kit on RxJava's global schedulers seen as Picos schedulers. Closing a
 * {@code PicosRx.scheduler(...)} after each test cancels its fibers but leaves the Rx scheduler
 * underneath running.
 */
class RxJavaStdTckTest {
  /** {@code Schedulers.single()}: one thread, so every fiber stays on it. */
  @Nested
  class OnRxSingle extends StdTck {
    @Override
    protected Scheduler newScheduler() {
      return PicosRx.scheduler(Schedulers.single());
    }

    @Override
    protected void checkHost() {
      String thread = Thread.currentThread().getName();
      if (!thread.startsWith("RxSingleScheduler-")) {
        throw new AssertionError("fiber left Rx single(): on " + thread);
      }
    }
  }

  /** {@code Schedulers.computation()}: a fiber may move between its threads, never elsewhere. */
  @Nested
  class OnRxComputation extends StdTck {
    @Override
    protected Scheduler newScheduler() {
      return PicosRx.scheduler(Schedulers.computation());
    }

    @Override
    protected void checkHost() {
      String thread = Thread.currentThread().getName();
      if (!thread.startsWith("RxComputationThreadPool-")) {
        throw new AssertionError("fiber left Rx computation(): on " + thread);
      }
    }
  }
}
