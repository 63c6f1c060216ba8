package org.picos.bridge.reactor;

import org.picos.spi.BlockingGuard;

/**
 * Refuses a Picos wait outside a fiber on a Reactor non-blocking thread (those of
 * {@code Schedulers.parallel()} and {@code single()}, any thread marked
 * {@code reactor.core.scheduler.NonBlocking}), as Reactor's own {@code block()} refuses. Any
 * Picos wait is refused there, not only this bridge's: a mutex, a channel, a
 * {@code Computation.await} from an operator. Registered as a service, so having this jar on the
 * class path is enough.
 */
public final class ReactorBlockingGuard implements BlockingGuard {
  /** Made by {@link java.util.ServiceLoader}. */
  public ReactorBlockingGuard() {}

  /**
   * Throws on a Reactor non-blocking thread, returns otherwise.
   *
   * <p>Threading: called on the thread about to wait; never blocks.
   *
   * @throws IllegalStateException on a Reactor non-blocking thread, saying to use a fiber or to
   *     subscribe instead
   */
  @Override
  public void check() {
    PicosReactor.checkMayBlock("A Picos wait outside a fiber");
  }

  /**
   * {@inheritDoc}
   *
   * @return {@code 200}: above Netty's guard, since Reactor Netty's loops are both
   */
  @Override
  public int precedence() {
    return 200;
  }
}
