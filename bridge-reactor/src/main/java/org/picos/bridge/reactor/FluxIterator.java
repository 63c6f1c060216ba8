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
 * {@code limit = prefetch - prefetch / 4} of them (at least 1) it requests {@code limit} more,
 * so the buffer never holds more than {@code prefetch} elements and the producer is kept busy.
 *
 * <h2>Threading</h2>
 * One consumer (fiber or thread) calls {@code hasNext} and {@code next}; the publisher's
 * signals may come from any thread, and {@link #close()} from any thread at any time.
 * {@link #hasNext()} suspends the consumer fiber (a plain thread blocks) until an element or
 * the end arrives.
 *
 * <h2>Closing and cancellation</h2>
 * {@link #close()} cancels the subscription and wakes a consumer waiting in {@code hasNext()},
 * which then returns {@code false}; from then on {@code hasNext()} returns {@code false} and
 * {@code next()} throws {@link NoSuchElementException}. An element {@code hasNext()} has
 * already answered {@code true} for is still returned by the following {@code next()}. The
 * elements left in the buffer, and those the publisher still sends, go to Reactor's discard
 * hook ({@link Operators#onDiscard}, with the iterator's context). If the consumer fiber is
 * cancelled while waiting, the iterator is closed and {@code hasNext()} throws the
 * cancellation cause.
 *
 * <h2>Errors</h2>
 * The Flux's error is thrown by {@code hasNext()} once the elements before it are taken, once;
 * the iterator is then closed. An error the consumer never receives, because it arrived after
 * {@code close()} or arrived before it but was never reached, goes to
 * {@code Hooks.onErrorDropped} ({@link Operators#onErrorDropped}), exactly once.
 *
 * <h2>State machine</h2>
 * {@code state}, changed by CAS or getAndSet:
 * <pre>
 *   OPEN      --onComplete------------------&gt; COMPLETED
 *   OPEN      --onError(e)------------------&gt; FAILED     (error written before the CAS)
 *   OPEN, COMPLETED --close()---------------&gt; CLOSED
 *   FAILED    --close()---------------------&gt; CLOSED     close() reports the error to the hook
 *   FAILED    --hasNext() finds the buffer empty--&gt; CLOSED, and hasNext() throws the error
 *   COMPLETED, FAILED, CLOSED --onError(e)--&gt; unchanged, e reported to the hook
 * </pre>
 * Only the one that moves FAILED on (the consumer throwing, or close() reporting) owns the
 * error, so it is delivered once. The consumer reads {@code state} before the buffer, and the
 * publisher adds to the buffer before changing {@code state}, so no element sent before the
 * end is missed.
 *
 * <p>Waiting without a lost wake-up: the consumer publishes a fresh trigger in {@code waiter}
 * and then re-checks the buffer and {@code state}; the publisher and {@code close()} write the
 * buffer or {@code state} and then take the waiter ({@code getAndSet(null)}) and signal it.
 * All of it is volatile, so one side sees the other. Elements arriving after the close are
 * discarded by {@code onNext} itself, which checks {@code state} after adding to the buffer,
 * while {@code close()} drains the buffer after setting {@code state}; each element is taken
 * by one poll, so it is discarded (or returned) once.
 *
 * @param <T> the element type
 */
public final class FluxIterator<T> implements Iterator<T>, Iterable<T>, AutoCloseable {
  private static final int OPEN = 0;
  private static final int COMPLETED = 1;
  private static final int FAILED = 2;
  private static final int CLOSED = 3;
  private static final VarHandle STATE;
  private static final VarHandle WAITER;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      STATE = l.findVarHandle(FluxIterator.class, "state", int.class);
      WAITER = l.findVarHandle(FluxIterator.class, "waiter", Trigger.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final int prefetch;
  private final int limit;
  private final Context context;
  private final Queue<T> buffer = new ConcurrentLinkedQueue<>();
  private final AtomicReference<Subscription> upstream = new AtomicReference<>();
  private volatile int state;
  /** The Flux's error; written before the CAS to FAILED, read by the one that moves it on. */
  private Throwable error;
  private volatile Trigger waiter;
  /** Consumer only: the element hasNext() found, taken since the last request, iterator(). */
  private T next;
  private int consumed;
  private boolean iterated;

  FluxIterator(int prefetch, Context context) {
    this.prefetch = prefetch;
    this.limit = Math.max(1, prefetch - (prefetch >> 2));
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
        if (state == CLOSED) {
          discardBuffered();
        }
        wake();
      }

      @Override
      public void onError(Throwable e) {
        if (state != OPEN) {
          dropped(e); // after close(), or a second terminal signal
          return;
        }
        error = e; // signals are serial: no other onError writes it meanwhile
        if (!STATE.compareAndSet(FluxIterator.this, OPEN, FAILED)) {
          dropped(e);
          return;
        }
        wake();
      }

      @Override
      public void onComplete() {
        STATE.compareAndSet(FluxIterator.this, OPEN, COMPLETED);
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

  private void dropped(Throwable e) {
    Operators.onErrorDropped(e, context);
  }

  private void discardBuffered() {
    for (T item; (item = buffer.poll()) != null; ) {
      Operators.onDiscard(item, context);
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
   * (a plain thread blocks) until an element arrives, the Flux ends or the iterator is closed.
   * Returns {@code false} once the Flux has completed and every element was taken, or once the
   * iterator is closed (also by a {@link #close()} from another thread while it waits).
   *
   * @throws RuntimeException the Flux's error (checked ones wrapped in a
   *     {@link java.util.concurrent.CompletionException}), once; or the fiber's cancellation
   *     cause, after closing the iterator
   * @throws IllegalStateException if it would block a Reactor non-blocking thread outside a fiber
   */
  @Override
  public boolean hasNext() {
    if (next != null) {
      return true;
    }
    for (;;) {
      int s = state;
      if (s == CLOSED) {
        return false;
      }
      T item = buffer.poll();
      if (item != null) {
        next = item;
        if (++consumed == limit) {
          consumed = 0;
          Subscription up = upstream.get();
          if (up != null) {
            up.request(limit);
          }
        }
        return true;
      }
      if (s == COMPLETED) {
        return false;
      }
      if (s == FAILED) {
        if (STATE.compareAndSet(this, FAILED, CLOSED)) {
          throw Computation.unchecked(error);
        }
        continue; // close() took the error
      }
      awaitSignal();
    }
  }

  private void awaitSignal() {
    Trigger t = Trigger.create();
    waiter = t;
    if (!buffer.isEmpty() || state != OPEN) {
      WAITER.compareAndSet(this, t, null);
      return;
    }
    Throwable cause;
    try {
      PicosReactor.checkMayBlock("FluxIterator.hasNext()");
      cause = t.await();
    } catch (RuntimeException | Error cannotWait) {
      WAITER.compareAndSet(this, t, null);
      close();
      throw cannotWait;
    }
    WAITER.compareAndSet(this, t, null);
    if (cause != null) {
      close();
      throw Computation.unchecked(cause);
    }
  }

  /**
   * The next element, waiting for it as {@link #hasNext()} does; requests more from the Flux
   * each time {@code limit} elements have been taken.
   *
   * @throws NoSuchElementException if there is none: the Flux has ended or the iterator was
   *     closed
   * @throws RuntimeException as {@link #hasNext()}
   */
  @Override
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException("FluxIterator.next: no more elements (the Flux has ended"
          + " or the iterator was closed); check hasNext() first");
    }
    T item = next;
    next = null;
    return item;
  }

  /**
   * Cancels the subscription (if the Flux has not ended), discards buffered elements and wakes
   * a consumer waiting in {@link #hasNext()}, which then returns {@code false}; an error that
   * arrived and was not yet thrown goes to {@code Hooks.onErrorDropped}. Idempotent; safe from
   * any thread; does not wait.
   */
  @Override
  public void close() {
    int previous = (int) STATE.getAndSet(this, CLOSED);
    Subscription s = upstream.getAndSet(Operators.cancelledSubscription());
    if (s != null) {
      s.cancel();
    }
    discardBuffered();
    if (previous == FAILED) {
      dropped(error);
    }
    wake();
  }

  @Override
  public String toString() {
    int s = state;
    return "FluxIterator[" + (s == OPEN ? "open" : s == CLOSED ? "closed" : "ended") + "]";
  }
}
