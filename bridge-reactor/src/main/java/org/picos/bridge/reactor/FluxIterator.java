package org.picos.bridge.reactor;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.picos.Computation;
import org.picos.Trigger;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * The elements of a {@code Flux}, pulled by one fiber with bounded prefetch; made by
 * {@link PicosReactor#iterate}. It is an {@link Iterator} and, for the enhanced {@code for}
 * loop, an {@link Iterable} whose {@link #iterator()} returns itself (once).
 *
 * <pre>{@code
 * try (FluxIterator<String> lines = PicosReactor.iterate(flux, 32)) {
 *   for (String line : lines) {
 *     ...
 *   }
 * }
 * }</pre>
 *
 * <h2>Demand</h2>
 * The subscription first requests {@code prefetch} elements; each time the consumer has taken
 * {@code limit = prefetch - prefetch / 2} of them it requests {@code limit} more, so the buffer
 * never holds more than {@code prefetch} elements and the producer is kept busy.
 *
 * <h2>Threading and cancellation</h2>
 * One consumer (fiber or thread) uses the iterator; the publisher's signals may come from any
 * thread. {@link #hasNext()} suspends the consumer fiber (a plain thread blocks) until an
 * element or the end arrives. The consumer's signalling is the same no-lost-wake-up pattern as
 * the emitter's: it publishes a trigger in {@code waiter}, then re-checks the buffer and
 * {@code done}; the subscriber adds to the buffer or sets {@code done}, then signals the waiter.
 * If the consumer fiber is cancelled while waiting, the subscription is cancelled and
 * {@code hasNext} throws the cancellation cause. {@link #close()} cancels the subscription.
 *
 * @param <T> the element type
 */
public final class FluxIterator<T> implements Iterator<T>, Iterable<T>, AutoCloseable {
  private static final VarHandle WAITER;

  static {
    try {
      WAITER = MethodHandles.lookup().findVarHandle(FluxIterator.class, "waiter", Trigger.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final int limit;
  private final int prefetch;
  private final Context context;
  private final Queue<T> buffer = new ConcurrentLinkedQueue<>();
  private final AtomicReference<Subscription> upstream = new AtomicReference<>();
  private volatile boolean done;
  private volatile Throwable error;
  private volatile Trigger waiter;
  private volatile boolean closed;
  /** Consumer side only. */
  private int consumed;
  private boolean iterated;
  private boolean errorThrown;

  FluxIterator(int prefetch, Context context) {
    this.prefetch = prefetch;
    this.limit = prefetch - (prefetch >> 1);
    this.context = context;
  }

  /** The subscriber to give the Flux. */
  CoreSubscriber<T> subscriber() {
    return new CoreSubscriber<>() {
      @Override
      public Context currentContext() {
        return context;
      }

      @Override
      public void onSubscribe(Subscription s) {
        if (upstream.compareAndSet(null, s)) {
          s.request(prefetch);
        } else {
          s.cancel();
        }
      }

      @Override
      public void onNext(T value) {
        buffer.offer(value);
        wake();
      }

      @Override
      public void onError(Throwable e) {
        if (done || closed) {
          Operators.onErrorDropped(e, context);
          return;
        }
        error = e;
        done = true;
        wake();
      }

      @Override
      public void onComplete() {
        done = true;
        wake();
      }
    };
  }

  private void wake() {
    Trigger t = (Trigger) WAITER.getAndSet(this, null);
    if (t != null) {
      t.signal();
    }
  }

  /**
   * Returns this iterator, for the enhanced {@code for} loop.
   *
   * @throws IllegalStateException on a second call: the elements can be iterated once
   */
  @Override
  public Iterator<T> iterator() {
    if (iterated) {
      throw new IllegalStateException(
          "FluxIterator can be iterated once; call PicosReactor.iterate again to resubscribe");
    }
    iterated = true;
    return this;
  }

  /**
   * Whether another element is available, waiting for one if needed: suspends the calling fiber
   * (a plain thread blocks) until an element arrives or the Flux ends.
   *
   * @throws RuntimeException the Flux's error (checked ones wrapped in a
   *     {@link java.util.concurrent.CompletionException}), once; or the fiber's cancellation
   *     cause, after cancelling the subscription
   * @throws IllegalStateException if it would block a Reactor non-blocking thread outside a fiber
   */
  @Override
  public boolean hasNext() {
    for (;;) {
      if (closed) {
        buffer.clear();
        return false;
      }
      if (!buffer.isEmpty()) {
        return true;
      }
      if (done) {
        return endOfElements();
      }
      Trigger t = Trigger.create();
      waiter = t;
      if (!buffer.isEmpty() || done || closed) {
        WAITER.compareAndSet(this, t, null);
        continue;
      }
      Throwable cause;
      try {
        PicosReactor.checkMayBlock("FluxIterator.hasNext()");
        cause = t.await();
      } catch (RuntimeException | Error e) {
        close();
        throw e;
      }
      if (cause != null) {
        close();
        throw Computation.unchecked(cause);
      }
    }
  }

  private boolean endOfElements() {
    if (!buffer.isEmpty()) {
      return true;
    }
    Throwable e = error;
    if (e != null && !errorThrown) {
      errorThrown = true;
      throw Computation.unchecked(e);
    }
    return false;
  }

  /**
   * The next element, waiting for it as {@link #hasNext()} does; requests more from the Flux
   * each time half of the prefetch has been consumed.
   *
   * @throws NoSuchElementException if the Flux has ended
   */
  @Override
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException("FluxIterator.next: the Flux has no more elements");
    }
    T value = buffer.poll();
    if (++consumed == limit) {
      consumed = 0;
      Subscription s = upstream.get();
      if (s != null) {
        s.request(limit);
      }
    }
    return value;
  }

  /**
   * Cancels the subscription (if the Flux has not ended) and drops buffered elements; from then
   * on {@link #hasNext()} answers {@code false}, and a consumer waiting in it wakes up and does
   * so. Idempotent; safe from any thread.
   */
  @Override
  public void close() {
    closed = true;
    Subscription s = upstream.getAndSet(Operators.cancelledSubscription());
    if (s != null) {
      s.cancel();
    }
    wake();
  }
}
