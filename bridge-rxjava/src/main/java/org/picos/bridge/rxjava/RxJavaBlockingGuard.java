package org.picos.bridge.rxjava;

import io.reactivex.rxjava3.internal.schedulers.NonBlockingThread;
import org.picos.spi.BlockingGuard;

/**
 * Refuses a Picos wait outside a fiber on the threads RxJava marks as non-blocking (those of
 * {@code Schedulers.computation()} and {@code Schedulers.single()}, which implement RxJava's
 * {@code NonBlockingThread} marker): a blocked computation thread stalls every task queued
 * behind it, and a blocked {@code single()} thread deadlocks whatever the wait needs from it.
 * Registered as a service, so having this jar on the class path is enough.
 */
public final class RxJavaBlockingGuard implements BlockingGuard {
  /** Made by {@link java.util.ServiceLoader}. */
  public RxJavaBlockingGuard() {}

  /**
   * Throws on an RxJava non-blocking thread, returns otherwise.
   *
   * <p>Threading: called on the thread about to wait; never blocks.
   *
   * @throws IllegalStateException on an RxJava computation or single thread, saying to use a
   *     fiber or an I/O thread
   */
  @Override
  public void check() {
    if (Thread.currentThread() instanceof NonBlockingThread) {
      throw new IllegalStateException("A Picos wait outside a fiber would block "
          + Thread.currentThread().getName() + ", an RxJava non-blocking thread (computation or"
          + " single scheduler): call it from a fiber (for example in PicosRx.single(...)), move"
          + " the blocking step to Schedulers.io() with subscribeOn/observeOn, or compose the"
          + " result with operators instead of waiting");
    }
  }

  /**
   * {@inheritDoc}
   *
   * @return {@code 200}, like Reactor's guard
   */
  @Override
  public int precedence() {
    return 200;
  }
}
