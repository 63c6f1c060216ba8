package org.picos.tck.bridges;

import io.reactivex.rxjava3.schedulers.Schedulers;
import org.junit.jupiter.api.Nested;
import org.picos.Scheduler;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.tck.SchedulerTck;

/**
 * The compatibility kit on RxJava's global schedulers seen as Picos schedulers. The kit closes
 * its scheduler after every test; closing a {@code PicosRx.scheduler(...)} cancels its fibers
 * and waits for them but never shuts down the Rx scheduler underneath, so RxJava's global
 * {@code single()} and {@code computation()} keep running for the other tests (and the rest of
 * the JVM).
 */
class RxJavaKitTest {
  /** {@code Schedulers.single()}: one thread, so every fiber stays on it. */
  @Nested
  class OnRxSingle extends SchedulerTck {
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
  class OnRxComputation extends SchedulerTck {
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
