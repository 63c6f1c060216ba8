package org.picos.tck;

import org.junit.jupiter.api.AfterEach;
import org.picos.Scheduler;
import org.picos.tck.interop.Host;

/**
 * The kits run on one host of {@link org.picos.tck.interop.Hosts}: a subclass names the host,
 * and each test starts a fresh one and stops it afterwards.
 */
final class KitOn {
  private KitOn() {}

  /** {@link SchedulerTck} on a host. */
  abstract static class Core extends SchedulerTck {
    private Host.Running running;

    abstract Host host();

    @Override
    protected Scheduler newScheduler() {
      running = host().create().get();
      return running.scheduler();
    }

    @Override
    protected void checkHost() {
      running.checkHost();
    }

    @Override
    protected boolean carrierReportsVisible() {
      return running.carrierReportsVisible();
    }

    @AfterEach
    void stopHost() {
      running.close();
    }
  }

  /** {@link StdTck} on a host. */
  abstract static class Std extends StdTck {
    private Host.Running running;

    abstract Host host();

    @Override
    protected Scheduler newScheduler() {
      running = host().create().get();
      return running.scheduler();
    }

    @Override
    protected void checkHost() {
      running.checkHost();
    }

    @AfterEach
    void stopHost() {
      running.close();
    }
  }
}
