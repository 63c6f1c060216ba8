package org.picos.tck;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.picos.Scheduler;
import org.picos.tck.interop.Host;

/**
 * Runs both kits, {@link SchedulerTck} and {@link StdTck}, on one kind of host: a subclass only
 * says how to start the host. Each test starts a fresh one and stops it afterwards.
 */
public abstract class KitRuns {
  /** Starts a fresh host: its scheduler and how a fiber checks that it runs there. */
  protected abstract Host.Running start();

  @Nested
  class Core extends SchedulerTck {
    private Host.Running host;

    @Override
    protected Scheduler newScheduler() {
      host = start();
      return host.scheduler();
    }

    @Override
    protected void checkHost() {
      host.checkHost();
    }

    @AfterEach
    void stopHost() {
      host.close();
    }
  }

  @Nested
  class Std extends StdTck {
    private Host.Running host;

    @Override
    protected Scheduler newScheduler() {
      host = start();
      return host.scheduler();
    }

    @Override
    protected void checkHost() {
      host.checkHost();
    }

    @AfterEach
    void stopHost() {
      host.close();
    }
  }
}
