package org.picos.bridge.vertx;

import io.vertx.core.streams.ReadStream;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.picos.Computation;
import org.picos.Trigger;

/**
 * A Vert.x {@link ReadStream} consumed in straight-line style from a fiber, with backpressure:
 * made by {@link PicosVertx#iterate(ReadStream, int)}. It is an {@link Iterator}, an
 * {@link Iterable} over that one iterator (for one for-each loop) and {@link AutoCloseable}.
 *
 * <pre>{@code
 * try (ReadStreamIterator<Buffer> body = PicosVertx.iterate(request)) {
 *   for (Buffer chunk : body) {
 *     process(chunk);                // may await anything: the stream stays paused meanwhile
 *   }
 * }
 * }</pre>
 *
 * <h2>Make it before the stream flows</h2>
 * A Vert.x stream emits as soon as data arrives unless it is paused, and data emitted with no
 * handler is lost. A fiber started from a handler (with {@link PicosVertx#future} or
 * {@link FiberVerticle#fiberHandler}) runs only after that handler returns, so either make the
 * iterator in the handler itself and hand it to the fiber (only {@link #hasNext()} needs the
 * fiber), or {@linkplain ReadStream#pause() pause} the stream in the handler and make the
 * iterator in the fiber.
 *
 * <h2>Backpressure</h2>
 * The stream is {@linkplain ReadStream#pause() paused} when the iterator is made. Whenever the
 * consumer wants an item and none is buffered or on its way, the iterator asks the stream for
 * {@code prefetch} more with {@link ReadStream#fetch(long)}, so at most {@code prefetch} items (plus
 * any the stream delivers beyond its demand) wait in the iterator; the stream stays paused in
 * between, which for a socket or an HTTP body stops reading from the network.
 *
 * <h2>State</h2>
 * The stream's handlers (on the stream's context) and the consuming fiber (on any thread) meet
 * under this object's monitor, held only for a few field updates, never across an await:
 * <pre>
 *   items     delivered, not yet consumed      demand   fetched, not yet delivered
 *   ended / failure   end or error seen        waiter   the consumer's trigger, or null
 *   closed    the consumer stopped; later deliveries are dropped
 * </pre>
 * A delivery adds an item (or sets ended/failure), takes the waiter and signals it outside the
 * monitor; the consumer fetches only when {@code items} is empty and {@code demand} is zero.
 *
 * <h2>End, failure, cancellation, close</h2>
 * {@link #hasNext()} answers {@code false} at the end of the stream (after the buffered items)
 * and throws the stream's exception after the items delivered before it: unchecked as it is,
 * checked wrapped in a {@link java.util.concurrent.CompletionException}, on every later call too.
 * If the consuming fiber is cancelled while it waits, the iterator {@linkplain #close() closes}
 * and {@code hasNext()} throws the cancellation cause. {@link #close()} stops the consumption:
 * nothing more is fetched, so the stream stays paused with the data not yet fetched left in it;
 * items already fetched are dropped. A {@code ReadStream} has no close of its own: close the
 * resource behind it (socket, request) yourself when you abandon it, or set new handlers on the
 * stream to hand it to other code.
 *
 * <h2>Threads</h2>
 * One consumer at a time. {@code hasNext} suspends a fiber (of any scheduler) and blocks a plain
 * thread, except a Vert.x event-loop thread, where it throws an {@link IllegalStateException}
 * instead of blocking the loop. The consumer calls {@code fetch} on its own thread: run it on
 * the stream's context (a fiber of {@link PicosVertx#future} or {@link FiberVerticle}) unless
 * the stream may be driven from any thread.
 *
 * @param <T> the type of the items
 */
public final class ReadStreamIterator<T> implements Iterator<T>, Iterable<T>, AutoCloseable {
  private final ReadStream<T> stream;
  private final int prefetch;
  private final ArrayDeque<T> items = new ArrayDeque<>();
  private long demand;
  private boolean ended;
  private Throwable failure;
  private boolean closed;
  private Trigger waiter;
  /** Whether {@link #iterator()} has been called; guarded by this. */
  private boolean iterated;

  ReadStreamIterator(ReadStream<T> stream, int prefetch) {
    this.stream = stream;
    this.prefetch = prefetch;
    stream.pause();
    stream.exceptionHandler(this::onFailure);
    stream.endHandler(ignored -> onEnd());
    stream.handler(this::onItem);
  }

  /**
   * Whether another item is available, waiting for one if needed: fetches the next
   * {@code prefetch} items when everything fetched has been consumed, then suspends the calling
   * fiber until an item, the end or a failure arrives. Returns {@code false} at the end of the
   * stream or after {@link #close()}.
   *
   * <p>Threading: one consumer at a time; in a fiber (of any scheduler) it suspends, on a plain
   * thread it blocks, except on a Vert.x event-loop thread, where it throws; the fetch is made on
   * the calling thread.
   *
   * <p>Cancellation: a cancellation point while it waits: the calling fiber's cancellation
   * closes this iterator and is thrown.
   *
   * @return whether {@link #next()} has an item to return
   * @throws RuntimeException the stream's failure (see the class comment), or the fiber's
   *     cancellation cause
   * @throws IllegalStateException if called outside a fiber on a Vert.x event-loop thread, by a
   *     fiber that cannot suspend, or while another consumer waits in it (the message says which)
   */
  @Override
  public boolean hasNext() {
    for (;;) {
      Trigger wait;
      boolean fetch = false;
      synchronized (this) {
        if (!items.isEmpty()) {
          return true;
        }
        if (closed) {
          return false;
        }
        if (failure != null) {
          throw Computation.unchecked(failure);
        }
        if (ended) {
          return false;
        }
        if (waiter != null) {
          throw new IllegalStateException("ReadStreamIterator: another fiber or thread is already"
              + " waiting in hasNext(); an iterator has one consumer at a time (hand items on"
              + " through a channel to share them)");
        }
        if (demand == 0) {
          demand = prefetch;
          fetch = true;
        }
        wait = waiter = Trigger.create(this); // a fiber dump shows this iterator's toString
      }
      if (fetch) {
        stream.fetch(prefetch);
      }
      Throwable cancel;
      try {
        cancel = wait.await();
      } catch (RuntimeException | Error cannotWait) {
        forget(wait);
        throw cannotWait;
      }
      if (cancel != null) {
        close();
        throw Computation.unchecked(cancel);
      }
    }
  }

  /**
   * Returns the next item, waiting for it as {@link #hasNext()} does.
   *
   * <p>Threading and cancellation: as {@link #hasNext()}.
   *
   * @return the next item of the stream
   * @throws NoSuchElementException at the end of the stream or after {@link #close()}
   * @throws RuntimeException as {@link #hasNext()}
   * @throws IllegalStateException as {@link #hasNext()}
   */
  @Override
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException(closed()
          ? "ReadStreamIterator is closed" : "The stream has ended: check hasNext() first");
    }
    synchronized (this) {
      return items.poll();
    }
  }

  /**
   * This iterator itself, for one for-each loop over the stream ({@code for (T item : it)}); a
   * second call is refused, since the stream is consumed once.
   *
   * <p>Threading: safe from any thread. Cancellation: none here; see {@link #hasNext()}.
   *
   * @return this iterator
   * @throws IllegalStateException if called more than once
   */
  @Override
  public Iterator<T> iterator() {
    synchronized (this) {
      if (iterated) {
        throw new IllegalStateException("ReadStreamIterator.iterator() may be called once: a"
            + " stream is consumed once; keep iterating the first iterator, or make a new"
            + " ReadStreamIterator with PicosVertx.iterate for another stream");
      }
      iterated = true;
    }
    return this;
  }

  /**
   * Stops consuming: nothing more is fetched, buffered items are dropped, and later
   * {@link #hasNext()} calls answer {@code false}. The stream's own resource is left open (see
   * the class comment). Idempotent.
   *
   * <p>Threading: safe from any thread; a consumer waiting in {@code hasNext()} is woken and
   * answers {@code false}.
   *
   * <p>Cancellation: closing is how a consumer gives up; it cancels nothing and never blocks.
   */
  @Override
  public void close() {
    Trigger wake;
    synchronized (this) {
      closed = true;
      items.clear();
      wake = waiter;
      waiter = null;
    }
    if (wake != null) {
      wake.signal();
    }
  }

  private synchronized boolean closed() {
    return closed;
  }

  private synchronized void forget(Trigger wait) {
    if (waiter == wait) {
      waiter = null;
    }
  }

  private void onItem(T item) {
    Trigger wake;
    synchronized (this) {
      if (closed) {
        return;
      }
      items.add(item);
      if (demand > 0) {
        demand--;
      }
      wake = waiter;
      waiter = null;
    }
    if (wake != null) {
      wake.signal();
    }
  }

  private void onEnd() {
    Trigger wake;
    synchronized (this) {
      ended = true;
      wake = waiter;
      waiter = null;
    }
    if (wake != null) {
      wake.signal();
    }
  }

  private void onFailure(Throwable cause) {
    Trigger wake;
    synchronized (this) {
      if (failure == null) {
        failure = cause;
      }
      wake = waiter;
      waiter = null;
    }
    if (wake != null) {
      wake.signal();
    }
  }

  @Override
  public synchronized String toString() {
    return "ReadStreamIterator[" + items.size() + " buffered, demand " + demand + " of " + prefetch
        + (ended ? ", ended" : "") + (failure != null ? ", failed" : "") + (closed ? ", closed" : "") + "]";
  }
}
