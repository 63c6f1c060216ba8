package org.picos.bridge.netty;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.BlockingOperationException;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.ThreadExecutorMap;
import org.picos.spi.BlockingGuard;

/**
 * Refuses a Picos wait outside a fiber on a Netty event-loop thread, which would deadlock the
 * loop that must itself run what the wait is for. Registered as a service, so it guards every
 * loop as soon as this jar is on the class path, whether or not {@link PicosNetty} is used.
 */
public final class NettyBlockingGuard implements BlockingGuard {
  /** Made by {@link java.util.ServiceLoader}. */
  public NettyBlockingGuard() {}

  /**
   * Throws on a Netty event-loop thread, returns otherwise.
   *
   * <p>Threading: called on the thread about to wait; never blocks.
   *
   * @throws BlockingOperationException on a Netty event-loop thread, saying to await in a fiber
   */
  @Override
  public void check() {
    EventExecutor current = ThreadExecutorMap.currentExecutor();
    if (current instanceof EventLoop && current.inEventLoop()) {
      throw new BlockingOperationException("A blocking wait on the Netty event-loop thread "
          + Thread.currentThread().getName() + " outside a fiber would deadlock the loop, which"
          + " must itself run what the wait is for. Await inside a fiber on the loop instead:"
          + " start one with PicosNetty.scheduler(eventLoop).start(...), or handle the channel"
          + " with PicosNetty.fiberPerChannel(...); or await from a thread that is not an event"
          + " loop.");
    }
  }

  /**
   * {@inheritDoc}
   *
   * @return {@code 100}: below the hosts built on Netty (Vert.x, Reactor Netty)
   */
  @Override
  public int precedence() {
    return 100;
  }
}
