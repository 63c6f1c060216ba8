package org.picos.bridge.vertx;

import io.vertx.core.Context;
import org.picos.spi.BlockingGuard;

/**
 * Refuses a Picos wait outside a fiber on a Vert.x event-loop thread, which would stall every
 * handler of the loop. Registered as a service, so it guards every loop as soon as this jar is on
 * the class path, whether or not {@link PicosVertx} is used. A Vert.x loop is also a Netty loop:
 * this guard's higher precedence gives Vert.x's advice there.
 */
public final class VertxBlockingGuard implements BlockingGuard {
  /** Made by {@link java.util.ServiceLoader}. */
  public VertxBlockingGuard() {}

  /**
   * Throws on a Vert.x event-loop thread, returns otherwise.
   *
   * <p>Threading: called on the thread about to wait; never blocks.
   *
   * @throws IllegalStateException on a Vert.x event-loop thread, saying to run the code in a
   *     fiber on the context
   */
  @Override
  public void check() {
    if (Context.isOnEventLoopThread()) {
      throw new IllegalStateException("A Picos wait was called outside a fiber on the Vert.x event-loop"
          + " thread " + Thread.currentThread().getName() + ": blocking it would stall every handler of"
          + " the loop (and deadlock if the awaited result needs this loop). Run this code in a fiber"
          + " on the context: PicosVertx.future(Vertx.currentContext(), () -> ...), a scheduler from"
          + " PicosVertx.scheduler(context), or a FiberVerticle; there the wait suspends the fiber"
          + " instead.");
    }
  }

  /**
   * {@inheritDoc}
   *
   * @return {@code 300}: above Netty's guard, since every Vert.x loop is a Netty loop
   */
  @Override
  public int precedence() {
    return 300;
  }
}
