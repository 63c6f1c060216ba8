package org.picos.spi;

import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;

/**
 * The view of a host's shared scheduler that bridges hand out (for example from
 * {@code PicosReactor.scheduler(reactorScheduler)}): it starts fibers on the scheduler behind it
 * and says whether that one is closed, but refuses {@link #close()}, since everyone using the host
 * shares it; the host's own shutdown closes it. Keep one per host in a {@link HostCache}.
 *
 * <p>Threading: safe from any thread, as the scheduler behind it is.
 */
public final class SharedScheduler implements Scheduler {
  private final Scheduler fibers;
  private final String refusal;

  /**
   * A shared view of {@code fibers}.
   *
   * @param fibers the scheduler that runs the fibers, closed by the host's shutdown
   * @param refusal the message of the {@link UnsupportedOperationException} that {@link #close()}
   *     throws: it should say who closes the scheduler and how to get one of your own
   * @throws NullPointerException if an argument is null
   */
  public SharedScheduler(Scheduler fibers, String refusal) {
    this.fibers = Objects.requireNonNull(fibers, "fibers");
    this.refusal = Objects.requireNonNull(refusal, "refusal");
  }

  @Override
  public <T> Computation<T> start(Callable<T> main) {
    return fibers.start(main);
  }

  @Override
  public void spawn(Fiber fiber, Runnable main) {
    fibers.spawn(fiber, main);
  }

  /**
   * Refused: the scheduler is shared.
   *
   * @throws UnsupportedOperationException always, with the refusal given at construction
   */
  @Override
  public void close() {
    throw new UnsupportedOperationException(refusal);
  }

  @Override
  public boolean isClosed() {
    return fibers.isClosed();
  }

  @Override
  public String toString() {
    return fibers.toString();
  }
}
