package org.picos;

import java.util.concurrent.CancellationException;

/**
 * The cancellation cause given to fibers whose scheduler or host (executor, event loop, Vert.x
 * instance) shut down while they were alive, and the error for starting work on a closed
 * scheduler. Its message names the scheduler.
 */
public class SchedulerClosedException extends CancellationException {
  private static final long serialVersionUID = 1L;

  public SchedulerClosedException(String message) {
    super(message);
  }
}
