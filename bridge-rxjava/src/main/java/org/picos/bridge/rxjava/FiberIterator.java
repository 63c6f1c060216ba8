package org.picos.bridge.rxjava;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.picos.Computation;
import org.picos.Trigger;
import io.reactivex.rxjava3.core.FlowableSubscriber;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import org.reactivestreams.Subscription;

/**
 * An iterator over a {@code Flowable}'s items for one fiber, from {@link PicosRx#iterate}:
 * {@link #hasNext()} suspends the fiber (or blocks a plain thread) until an item, the end or a
 * failure arrives. It is an {@link Iterator} and, for the enhanced {@code for} loop, an
 * {@link Iterable} whose {@link #iterator()} returns itself (once).
 *
 * <pre>{@code
 * try (FiberIterator<Order> orders = PicosRx.iterate(orderFlowable, 32)) {
 *   for (Order order : orders) {
 *     handle(order); // may await, too
 *   }
 * }
 * }</pre>
 *
 * <h2>Demand</h2>
 * The subscription first requests {@code prefetch} items; each time the consumer has taken
 * {@code limit = prefetch - prefetch / 4} of them (at least 1) it requests {@code limit} more,
 * so the buffer never holds more than {@code prefetch} items and the upstream is rarely idle.
 *
 * <h2>Threading</h2>
 * One consumer (fiber or thread) calls {@code hasNext} and {@code next}; the upstream may
 * signal from any thread, and {@link #close()} may be called from any thread at any time.
 *
 * <h2>Closing and cancellation</h2>
 * {@link #close()} cancels the subscription and wakes a consumer waiting in {@code hasNext()},
 * which then returns {@code false}; from then on {@code hasNext()} returns {@code false} and
 * {@code next()} throws {@link NoSuchElementException}. An item {@code hasNext()} has already
 * answered {@code true} for is still returned by the following {@code next()}. Items left in
 * the buffer, and those the upstream still sends, are dropped (RxJava has no hook for items).
 * If the fiber is cancelled while waiting in {@code hasNext()}, the iterator is closed and
 * {@code hasNext()} throws the fiber's cancellation cause.
 *
 * <h2>Errors</h2>
 * A failed Flowable makes {@code hasNext()} throw its failure (checked ones wrapped in a
 * {@link java.util.concurrent.CompletionException}), after the items that came before it,
 * once; the iterator is then closed. A failure the consumer never receives, because it arrived
 * after {@code close()} or arrived before it but was never reached, goes to
 * {@link RxJavaPlugins#onError}, exactly once.
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
 * upstream adds to the buffer before changing {@code state}, so no item sent before the end is
 * missed.
 *
 * <p>Waiting without a lost wake-up: the consumer publishes a fresh trigger in {@code waiter}
 * and then re-checks the buffer and {@code state}; the upstream and {@code close()} write the
 * buffer or {@code state} and then take the waiter ({@code getAndSet(null)}) and signal it.
 * All of it is volatile, so one side sees the other. Items arriving after the close are
 * dropped by {@code onNext} itself, which checks {@code state} after adding to the buffer,
 * while {@code close()} drains the buffer after setting {@code state}.
 *
 * @param <T> the type of the items
 */
public final class FiberIterator<T> implements Iterator<T>, Iterable<T>, AutoCloseable {
  private static final int OPEN = 0;
  private static final int COMPLETED = 1;
  private static final int FAILED = 2;
  private static final int CLOSED = 3;
  private static final VarHandle STATE;
  private static final VarHandle WAITER;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      STATE = l.findVarHandle(FiberIterator.class, "state", int.class);
      WAITER = l.findVarHandle(FiberIterator.class, "waiter", Trigger.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final Subscription CANCELLED = new Subscription() {
    @Override
    public void request(long n) {}

    @Override
    public void cancel() {}
  };

  private final int prefetch;
  private final int limit;
  private final Queue<T> buffer = new ConcurrentLinkedQueue<>();
  private final AtomicReference<Subscription> upstream = new AtomicReference<>();
  private volatile int state;
  /** The Flowable's failure; written before the CAS to FAILED, read by whoever moves it on. */
  private Throwable error;
  private volatile Trigger waiter;
  /** Consumer only: the item hasNext() found, taken since the last request, iterator(). */
  private T next;
  private int consumed;
  private boolean iterated;

  FiberIterator(int prefetch) {
    this.prefetch = prefetch;
    this.limit = Math.max(1, prefetch - (prefetch >> 2));
  }

  /** The subscriber to give the Flowable. */
  FlowableSubscriber<T> subscriber() {
    return new FlowableSubscriber<>() {
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
        if (!STATE.compareAndSet(FiberIterator.this, OPEN, FAILED)) {
          dropped(e);
          return;
        }
        wake();
      }

      @Override
      public void onComplete() {
        STATE.compareAndSet(FiberIterator.this, OPEN, COMPLETED);
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
    RxJavaPlugins.onError(e);
  }

  /** Drops the buffered items (Reactor's twin hands them to its discard hook). */
  private void discardBuffered() {
    buffer.clear();
  }

  /**
   * Returns this iterator, for the enhanced {@code for} loop.
   *
   * @throws IllegalStateException on a second call: the items can be iterated once
   */
  @Override
  public Iterator<T> iterator() {
    if (iterated) {
      throw new IllegalStateException(
          "FiberIterator can be iterated once; call PicosRx.iterate again to resubscribe");
    }
    iterated = true;
    return this;
  }

  /**
   * Whether another item is available, waiting for one if needed: suspends the calling fiber
   * (a plain thread blocks) until an item arrives, the Flowable ends or the iterator is closed.
   * Returns {@code false} once the Flowable has completed and every item was taken, or once the
   * iterator is closed (also by a {@link #close()} from another thread while it waits).
   *
   * @throws RuntimeException the Flowable's error (checked ones wrapped in a
   *     {@link java.util.concurrent.CompletionException}), once; or the fiber's cancellation
   *     cause, after closing the iterator
   * @throws IllegalStateException if the fiber is pinned or the plain thread may not block
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
   * The next item, waiting for it as {@link #hasNext()} does; requests more from the Flowable
   * each time {@code limit} items have been taken.
   *
   * @throws NoSuchElementException if there is none: the Flowable has ended or the iterator was
   *     closed
   * @throws RuntimeException as {@link #hasNext()}
   */
  @Override
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException("FiberIterator.next: no more items (the Flowable completed"
          + " or the iterator was closed); check hasNext() first");
    }
    T item = next;
    next = null;
    return item;
  }

  /**
   * Cancels the subscription (if the Flowable has not ended), drops buffered items and wakes
   * a consumer waiting in {@link #hasNext()}, which then returns {@code false}; an error that
   * arrived and was not yet thrown goes to {@code RxJavaPlugins.onError}. Idempotent; safe from
   * any thread; does not wait.
   */
  @Override
  public void close() {
    int previous = (int) STATE.getAndSet(this, CLOSED);
    Subscription s = upstream.getAndSet(CANCELLED);
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
    return "FiberIterator[" + (s == OPEN ? "open" : s == CLOSED ? "closed" : "ended") + "]";
  }
}
