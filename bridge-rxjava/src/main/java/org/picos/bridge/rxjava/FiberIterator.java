package org.picos.bridge.rxjava;

import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.core.FlowableSubscriber;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.picos.Computation;
import org.picos.Trigger;
import org.reactivestreams.Subscription;

/**
 * An iterator over a {@link Flowable}'s items for one fiber, from {@link PicosRx#iterate}:
 * {@link #hasNext()} suspends the fiber (or blocks a plain thread) until an item, the end or a
 * failure arrives.
 *
 * <h2>Demand</h2>
 * {@code prefetch} items are requested on subscription; after every {@code limit} items taken
 * ({@code limit} is three quarters of {@code prefetch}, at least 1) that many more are
 * requested, so at most {@code prefetch} items are ever waiting in the buffer and the upstream
 * is rarely idle.
 *
 * <h2>Cancellation</h2>
 * {@link #close()} cancels the subscription and drops the buffer; use try-with-resources when
 * the loop may stop early. If the fiber is cancelled while waiting in {@code hasNext()}, the
 * subscription is cancelled and {@code hasNext()} throws the fiber's cancellation cause. A
 * failed Flowable makes {@code hasNext()} throw its failure (checked ones wrapped in a
 * {@link java.util.concurrent.CompletionException}), after the items that came before it.
 *
 * <h2>Use</h2>
 * <pre>{@code
 * try (FiberIterator<Order> orders = PicosRx.iterate(orderFlowable, 32)) {
 *   for (Order order : orders) {
 *     handle(order); // may await, too
 *   }
 * }
 * }</pre>
 * It is {@link Iterable} only for the for-each loop: {@link #iterator()} returns the iterator
 * itself, so it can be walked once.
 *
 * <h2>Threading</h2>
 * {@code hasNext}, {@code next} and {@code close} are for one fiber (or thread) at a time; the
 * upstream may signal from any thread.
 *
 * <h2>Waiting without a lost wake-up</h2>
 * The consumer publishes a fresh trigger in {@code parked} and then re-checks the buffer and
 * {@code done}; the upstream adds to the buffer (or sets {@code done}) and then signals
 * {@code parked}. Both sides write before they read, on volatiles, so one of them sees the
 * other.
 *
 * @param <T> the type of the items
 */
public final class FiberIterator<T> implements Iterator<T>, Iterable<T>, AutoCloseable {
  private static final Subscription CANCELLED = new Subscription() {
    @Override
    public void request(long n) {}

    @Override
    public void cancel() {}
  };

  private final int limit;
  private final ConcurrentLinkedQueue<T> buffer = new ConcurrentLinkedQueue<>();
  private final AtomicReference<Subscription> upstream = new AtomicReference<>();
  private volatile boolean done;
  /** Written before {@code done}; null when the Flowable completed. */
  private Throwable failure;
  private volatile Trigger parked;
  /** Consumer only: items taken since the last request, the item hasNext found, closed. */
  private int taken;
  private T next;
  private boolean closed;

  FiberIterator(Flowable<? extends T> flowable, int prefetch) {
    this.limit = Math.max(1, prefetch - (prefetch >> 2));
    flowable.subscribe(new FlowableSubscriber<T>() {
      @Override
      public void onSubscribe(Subscription s) {
        if (upstream.compareAndSet(null, s)) {
          s.request(prefetch);
        } else {
          s.cancel();
        }
      }

      @Override
      public void onNext(T item) {
        buffer.offer(item);
        wake();
      }

      @Override
      public void onError(Throwable t) {
        failure = t;
        done = true;
        wake();
      }

      @Override
      public void onComplete() {
        done = true;
        wake();
      }
    });
  }

  private void wake() {
    Trigger t = parked;
    if (t != null) {
      t.signal();
    }
  }

  /**
   * Whether another item is available, waiting for one if needed: the fiber suspends, a plain
   * thread blocks. Returns {@code false} once the Flowable has completed and every item was
   * taken, or after {@link #close()}.
   *
   * @throws RuntimeException the Flowable's failure (checked ones wrapped in a
   *     {@link java.util.concurrent.CompletionException}), or the waiting fiber's cancellation
   *     cause (the subscription is then cancelled)
   * @throws IllegalStateException if the fiber is pinned or the plain thread may not block
   */
  @Override
  public boolean hasNext() {
    if (next != null) {
      return true;
    }
    for (;;) {
      if (closed) {
        return false;
      }
      boolean ended = done;
      T item = buffer.poll();
      if (item != null) {
        next = item;
        if (++taken == limit) {
          taken = 0;
          upstream.get().request(limit);
        }
        return true;
      }
      if (ended) {
        closed = true;
        Throwable f = failure;
        if (f != null) {
          throw Computation.unchecked(f);
        }
        return false;
      }
      awaitSignal();
    }
  }

  private void awaitSignal() {
    Trigger t = Trigger.create();
    parked = t;
    Throwable cancel;
    try {
      if (!buffer.isEmpty() || done) {
        return;
      }
      cancel = t.await();
    } catch (RuntimeException | Error cannotWait) {
      close();
      throw cannotWait;
    } finally {
      parked = null;
    }
    if (cancel != null) {
      close();
      throw Computation.unchecked(cancel);
    }
  }

  /**
   * Returns the next item, waiting for it like {@link #hasNext()}.
   *
   * @throws NoSuchElementException if there is none (the Flowable completed, or the iterator was
   *     closed)
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

  /** Returns this iterator, for a for-each loop; the items can be walked only once. */
  @Override
  public Iterator<T> iterator() {
    return this;
  }

  /**
   * Cancels the subscription (if the Flowable has not ended) and drops buffered items; later
   * {@code hasNext()} calls answer {@code false}. Idempotent; does not wait.
   */
  @Override
  public void close() {
    closed = true;
    next = null;
    Subscription s = upstream.getAndSet(CANCELLED);
    if (s != null) {
      s.cancel();
    }
    buffer.clear();
  }

  @Override
  public String toString() {
    return "FiberIterator[" + (closed ? "closed" : done ? "ended" : "open") + "]";
  }
}
