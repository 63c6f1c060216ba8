package org.picos;

import org.picos.spi.BlockingGuards;
import org.picos.spi.Handler;

/**
 * Answers the operations of a thread that is not running any scheduler's fiber: await blocks
 * the thread (after the {@linkplain BlockingGuards blocking guards} agree), yield is
 * {@link Thread#yield()}, spawn starts a virtual thread.
 */
final class PlainThreads extends Handler {
  static final PlainThreads INSTANCE = new PlainThreads();

  private PlainThreads() {}

  @Override
  public Throwable await(Fiber fiber, Trigger trigger) {
    BlockingGuards.check();
    return awaitBlocking(fiber, trigger);
  }

  /** A plain thread (or the virtual thread of a spawned fiber) may block. */
  @Override
  public boolean mayBlockCarrier() {
    return true;
  }

  @Override
  public void yield(Fiber fiber) {
    Thread.yield();
  }

  @Override
  public void spawn(Fiber parent, Fiber child, Runnable main) {
    bind(child);
    Thread.ofVirtual().name("picos-fiber").start(() -> {
      mount(child);
      Object[] carrier = swapInContexts(child);
      runMain(child, main);
      swapOutContexts(child, carrier);
    });
  }

  @Override
  public String toString() {
    return "plain thread";
  }
}
