package org.picos.reactive;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.picos.Computation;
import org.picos.Trigger;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * The elements of a {@link org.reactivestreams.Publisher}, pulled by one fiber with bounded
 * prefetch; made by {@link Reactive#iterate} and the bridges' {@code iterate}. It is an
 * {@link Iterator} and, for the enhanced {@code for} loop, an {@link Iterable} whose
 * {@link #iterator()} returns itself, once.
 *
 * <pre>{@code
 * try (PublisherIterator<String> lines = Reactive.iterate(publisher, 32)) {
 *   for (String line : lines) {
 *     handle(line); // may await, too
 *   }
 * }
 * }</pre>
 *
 * <h2>Demand</h2>
 * The subscription first requests {@code prefetch} elements; each time the consumer has taken
 * {@code batch = prefetch - prefetch / 4} of them (at least 1) it requests {@code batch} more.
 * So the buffer never holds more than {@code prefetch} elements, and a quarter of the prefetch
 * is still buffered when the next request goes out, which keeps the producer busy.
 *
 * <h2>Threading</h2>
 * One consumer (fiber or thread) calls {@code iterator}, {@code hasNext} and {@code next}; the
 * publisher's signals may come from any thread, and {@link #close()} from any thread at any
 * time. {@link #hasNext()} suspends the consumer fiber (a plain thread blocks) until an element
 * or the end arrives.
 *
 * <h2>Closing and cancellation</h2>
 * {@link #close()} cancels the subscription and wakes a consumer waiting in {@code hasNext()},
 * which then returns {@code false}; from then on {@code hasNext()} returns {@code false} and
 * {@code next()} throws {@link NoSuchElementException}. An element {@code hasNext()} has already
 * answered {@code true} for is still returned by the following {@code next()}. Elements left in
 * the buffer, and those the publisher still sends, go to the ecosystem's discard hook
 * ({@link ReactiveHooks#discarded}). If the consumer fiber is cancelled while it waits, the
 * iterator is closed and {@code hasNext()} throws the cancellation cause.
 *
 * <h2>Errors</h2>
 * The publisher's error is thrown by {@code hasNext()} once the elements before it are taken,
 * once; the iterator is then closed. An error the consumer never receives, because it arrived
 * after {@code close()} or arrived before it but was never reached, goes to
 * {@link ReactiveHooks#dropped}, exactly once.
 *
 * @param <T> the element type
 */
public final class PublisherIterator<T> implements Iterator<T>, Iterable<T>, AutoCloseable {
  /*
   * State machine of 'state', changed by CAS or getAndSet:
   *
   *   OPEN      --onComplete---------------------> COMPLETED
   *   OPEN      --onError(e)---------------------> FAILED     (error written before the CAS)
   *   OPEN, COMPLETED --close()------------------> CLOSED
   *   FAILED    --close()------------------------> CLOSED     close() reports the error as dropped
   *   FAILED    --hasNext() finds the buffer empty-> CLOSED   and hasNext() throws the error
   *   COMPLETED, FAILED, CLOSED --onError(e)-----> unchanged, e reported as dropped
   *
   * Only the one that moves FAILED on (the consumer throwing, or close() reporting) owns the
   * error, so it is delivered once. The consumer reads 'state' before the buffer, and the
   * publisher adds to the buffer before changing 'state', so no element sent before the end is
   * missed.
   *
   * Waiting without a lost wake-up: the consumer publishes a fresh trigger in 'waiter' and then
   * re-checks the buffer and 'state'; the publisher and close() write the buffer or 'state' and
   * then take the waiter (getAndSet(null)) and signal it. All of it is volatile, so one side sees
   * the other. Elements arriving after the close are discarded by onNext itself, which checks
   * 'state' after adding to the buffer, while close() drains the buffer after setting 'state';
   * each element is taken by one poll, so it is discarded (or returned) once.
   */
  private static final int OPEN = 0;
  private static final int COMPLETED = 1;
  private static final int FAILED = 2;
  private static final int CLOSED = 3;
  private static final VarHandle STATE;
  private static final VarHandle WAITER;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      STATE = l.findVarHandle(PublisherIterator.class, "state", int.class);
      WAITER = l.findVarHandle(PublisherIterator.class, "waiter", Trigger.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final int prefetch;
  private final int batch;
  private final ReactiveHooks hooks;
  private final Subscriber<T> subscriber = new Upstream();
  private final Queue<T> buffer = new ConcurrentLinkedQueue<>();
  private final AtomicReference<Subscription> upstream = new AtomicReference<>();
  private volatile int state;
  /** The publisher's error; written before the CAS to FAILED, read by the one that moves it on. */
  private Throwable error;
  private volatile Trigger waiter;
  /** Consumer only: the element hasNext() found, taken since the last request, iterator(). */
  private T next;
  private int consumed;
  private boolean iterated;

  PublisherIterator(int prefetch, ReactiveHooks hooks) {
    this.prefetch = prefetch;
    this.batch = Math.max(1, prefetch - (prefetch >> 2));
    this.hooks = hooks;
  }

  /** The subscriber to give the publisher. */
  Subscriber<T> subscriber() {
    return subscriber;
  }

  /** The publisher's side; signals are serial (rule 1.3). */
  private final class Upstream implements Subscriber<T> {
    @Override
    public void onSubscribe(Subscription s) {
      if (upstream.compareAndSet(null, s)) {
        s.request(prefetch);
      } else {
        s.cancel(); // rule 2.5; also an iterator closed before the subscription arrived
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
        hooks.dropped(e, this); // after close(), or a second terminal signal
        return;
      }
      error = e;
      if (!STATE.compareAndSet(PublisherIterator.this, OPEN, FAILED)) {
        hooks.dropped(e, this);
        return;
      }
      wake();
    }

    @Override
    public void onComplete() {
      STATE.compareAndSet(PublisherIterator.this, OPEN, COMPLETED);
      wake();
    }
  }

  private void wake() {
    Trigger t = (Trigger) WAITER.getAndSet(this, null);
    if (t != null) {
      t.signal();
    }
  }

  private void discardBuffered() {
    for (T item; (item = buffer.poll()) != null; ) {
      hooks.discarded(item, subscriber);
    }
  }

  /**
   * Returns this iterator, for the enhanced {@code for} loop. Consumer only; never blocks.
   * Cancellation does not apply.
   *
   * @return this iterator
   * @throws IllegalStateException on a second call: the elements can be iterated once
   */
  @Override
  public Iterator<T> iterator() {
    if (iterated) {
      throw new IllegalStateException("PublisherIterator.iterator(): this iterator was already"
          + " iterated, and its elements can be iterated once; call iterate(...) again to"
          + " subscribe anew");
    }
    iterated = true;
    return this;
  }

  /**
   * Whether another element is available, waiting for one if needed: suspends the calling fiber
   * (a plain thread blocks) until an element arrives, the publisher ends or the iterator is
   * closed. Consumer only.
   *
   * <p>Cancellation: if the calling fiber is cancelled while it waits, the iterator is closed
   * (the subscription cancelled) and the cancellation cause is thrown.
   *
   * @return {@code true} if {@link #next()} returns an element without waiting; {@code false}
   *     once the publisher completed and every element was taken, or once the iterator is closed
   *     (also by a {@link #close()} from another thread while it waits)
   * @throws RuntimeException the publisher's error (checked ones wrapped in a
   *     {@link java.util.concurrent.CompletionException}), once; or the fiber's cancellation
   *     cause, or the refusal of a thread that may not block, after closing the iterator
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
        if (++consumed == batch) {
          consumed = 0;
          upstream.get().request(batch);
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
    Trigger t = Trigger.create(this); // a fiber dump shows this iterator's toString
    waiter = t;
    if (buffer.isEmpty() && state == OPEN) {
      t.awaitOrAbandon(() -> {
        WAITER.compareAndSet(this, t, null);
        close();
      });
    }
    WAITER.compareAndSet(this, t, null);
  }

  /**
   * The next element, waiting for it as {@link #hasNext()} does (and cancelled as it is).
   * Consumer only.
   *
   * @return the element {@link #hasNext()} found
   * @throws NoSuchElementException if there is none: the publisher has ended or the iterator was
   *     closed
   * @throws RuntimeException as {@link #hasNext()}
   */
  @Override
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException("PublisherIterator.next(): no more elements (the"
          + " publisher has ended or the iterator was closed); check hasNext() first");
    }
    T item = next;
    next = null;
    return item;
  }

  /**
   * Cancels the subscription (if the publisher has not ended), discards buffered elements and
   * wakes a consumer waiting in {@link #hasNext()}, which then returns {@code false}; an error
   * that arrived and was not yet thrown goes to {@link ReactiveHooks#dropped}. Idempotent; safe
   * from any thread; never blocks. Cancellation does not apply.
   */
  @Override
  public void close() {
    int previous = (int) STATE.getAndSet(this, CLOSED);
    Subscription s = upstream.getAndSet(Reactive.CANCELLED);
    if (s != null) {
      s.cancel();
    }
    discardBuffered();
    if (previous == FAILED) {
      hooks.dropped(error, subscriber);
    }
    wake();
  }

  @Override
  public String toString() {
    int s = state;
    return "PublisherIterator[" + (s == OPEN ? "open" : s == CLOSED ? "closed" : "ended") + "]";
  }
}
