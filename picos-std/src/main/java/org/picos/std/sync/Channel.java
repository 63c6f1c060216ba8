package org.picos.std.sync;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Support;

/**
 * A channel between fibers: a {@linkplain #rendezvous() rendezvous} channel, where each
 * {@link #send} waits for a {@link #receive} and hands its element over directly, or a
 * {@linkplain #bounded(int) bounded} one, where senders wait only while the buffer is full.
 * Works on every scheduler, across schedulers, and on plain and virtual threads; operations can
 * be combined with others in {@link Event#select} through {@link #sendEvent} and
 * {@link #receiveEvent}.
 *
 * <h2>Guarantees</h2>
 * Every element sent is received exactly once, and elements are received in the order their
 * sends completed (FIFO: waiting senders and waiting receivers are served oldest first). Null
 * elements are refused.
 *
 * <h2>Design</h2>
 * The buffer and two queues of offers (waiting senders, waiting receivers) are guarded by the
 * channel's monitor, held for a few field writes; nobody suspends or signals inside it. Each
 * waiting operation is an offer of a {@link Pick}; matching an offer commits its pick (and, for
 * an operation that is itself part of a select, the active side's pick as well, both at once).
 * Invariants: receivers wait only while the buffer is empty; senders wait only while it is full
 * (for a rendezvous channel, always until matched). Offers of picks that another event already
 * completed are skipped and dropped when met.
 *
 * <h2>Cancellation</h2>
 * {@code send} and {@code receive} check cancellation on entry and while waiting. A cancelled
 * waiter withdraws its offer: its element is not delivered (send) or nothing is taken
 * (receive), and the operation throws the cause. If a partner committed the exchange just as
 * the cancellation came, the operation completes normally instead (the element is delivered,
 * or returned), so an element is never lost or duplicated; the cancellation is then seen at
 * the fiber's next cancellation point.
 *
 * <h2>Closing</h2>
 * {@link #close()} is final: waiting senders and later sends throw
 * {@link ChannelClosedException}; receivers first drain the buffer, then throw it (waiting
 * receivers at once, as the buffer is then empty). Iteration ends at close.
 *
 * @param <T> the element type
 */
public final class Channel<T> implements Iterable<T> {
  /** A waiting operation: a sender's element or a receiver's slot, and its pick. */
  static final class Offer extends WaitQueue.Node<Offer> {
    final Pick pick;
    /** The element of a sender; null for a receiver. */
    final Object item;
    /** The select's continuation, or null for a plain operation. */
    final Function<Object, Object> finish;

    Offer(Pick pick, Object item, Function<Object, Object> finish) {
      this.pick = pick;
      this.item = item;
      this.finish = finish;
    }
  }

  private final int capacity;
  /** The buffered elements; null for a rendezvous channel. */
  private final ArrayDeque<Object> buffer;
  private final WaitQueue<Offer> senders = new WaitQueue<>();
  private final WaitQueue<Offer> receivers = new WaitQueue<>();
  private final Object sendWait = Support.waitDescription("Channel.send", this);
  private final Object receiveWait = Support.waitDescription("Channel.receive", this);
  private boolean closed;

  private Channel(int capacity) {
    this.capacity = capacity;
    this.buffer = capacity == 0 ? null : new ArrayDeque<>(Math.min(capacity, 1024));
  }

  /** A channel without buffer: each send waits until a receiver takes its element. */
  public static <T> Channel<T> rendezvous() {
    return new Channel<>(0);
  }

  /**
   * A channel buffering up to {@code capacity} elements: sends wait only while it is full.
   *
   * @throws IllegalArgumentException if {@code capacity} is not positive (use
   *     {@link #rendezvous()} for an unbuffered channel)
   */
  public static <T> Channel<T> bounded(int capacity) {
    if (capacity <= 0) {
      throw new IllegalArgumentException(
          "Channel.bounded: capacity must be positive, was " + capacity
              + "; use Channel.rendezvous() for a channel without buffer");
    }
    return new Channel<>(capacity);
  }

  // ---------------------------------------------------------------------------------------
  // Matching, under the monitor. 'mine' is the active side's pick when it is part of a select
  // (committed together with the partner's), null for a plain operation.

  /**
   * Gives {@code item} to the oldest live waiting receiver, if any, and returns its offer (its
   * pick to be signalled after unlocking). Returns null if there is none, or if {@code mine}
   * got completed by someone else meanwhile.
   */
  private Offer matchReceiver(Pick mine, Function<Object, Object> finish, Object item) {
    Offer r = receivers.peek();
    while (r != null) {
      Offer next = r.next;
      if (r.pick != mine) {
        boolean claimed = mine == null ? r.pick.claim() : Pick.claimBoth(mine, r.pick);
        if (claimed) {
          receivers.remove(r);
          r.pick.publish(r.finish, item);
          if (mine != null) {
            mine.publish(finish, null);
          }
          return r;
        }
        if (mine != null && mine.isDone()) {
          return null;
        }
        receivers.remove(r);
      }
      r = next;
    }
    return null;
  }

  /**
   * Takes the element of the oldest live waiting sender, if any, completing its send, and
   * returns its offer. Returns null if there is none, or if {@code mine} got completed.
   */
  private Offer matchSender(Pick mine, Function<Object, Object> finish) {
    Offer s = senders.peek();
    while (s != null) {
      Offer next = s.next;
      if (s.pick != mine) {
        boolean claimed = mine == null ? s.pick.claim() : Pick.claimBoth(mine, s.pick);
        if (claimed) {
          senders.remove(s);
          s.pick.publish(s.finish, null);
          if (mine != null) {
            mine.publish(finish, s.item);
          }
          return s;
        }
        if (mine != null && mine.isDone()) {
          return null;
        }
        senders.remove(s);
      }
      s = next;
    }
    return null;
  }

  private static void wake(Offer o) {
    if (o != null) {
      o.pick.trigger.signal();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Plain operations

  /**
   * Sends {@code item}: hands it to a waiting receiver, or buffers it, or waits until one of
   * those is possible.
   *
   * @throws ChannelClosedException if the channel is closed before the element was taken
   * @throws RuntimeException the caller's cancellation cause if it is cancelled on entry or
   *     while waiting (the element was then not sent)
   * @throws IllegalStateException if the caller cannot suspend here (see
   *     {@link org.picos.Trigger#await()})
   * @throws NullPointerException if {@code item} is null
   */
  public void send(T item) {
    Objects.requireNonNull(item, "item");
    BlockingGuards.check();
    Fiber.check();
    Offer matched;
    Offer waiting = null;
    synchronized (this) {
      if (closed) {
        throw closedForSend("send");
      }
      matched = matchReceiver(null, null, item);
      if (matched == null) {
        if (buffer != null && buffer.size() < capacity) {
          buffer.add(item);
          return;
        }
        waiting = new Offer(new Pick(sendWait), item, null);
        senders.add(waiting);
      }
    }
    if (matched != null) {
      wake(matched);
      return;
    }
    awaitOffer(waiting, senders);
  }

  /**
   * Sends {@code item} only if that needs no waiting: a receiver is waiting or the buffer has
   * room.
   *
   * @return whether the element was sent
   * @throws ChannelClosedException if the channel is closed
   * @throws NullPointerException if {@code item} is null
   */
  public boolean trySend(T item) {
    Objects.requireNonNull(item, "item");
    Offer matched;
    synchronized (this) {
      if (closed) {
        throw closedForSend("trySend");
      }
      matched = matchReceiver(null, null, item);
      if (matched == null) {
        if (buffer != null && buffer.size() < capacity) {
          buffer.add(item);
          return true;
        }
        return false;
      }
    }
    wake(matched);
    return true;
  }

  /**
   * Receives the next element, waiting until there is one.
   *
   * @throws ChannelClosedException if the channel is closed and drained
   * @throws RuntimeException the caller's cancellation cause if it is cancelled on entry or
   *     while waiting (nothing was then taken)
   * @throws IllegalStateException if the caller cannot suspend here (see
   *     {@link org.picos.Trigger#await()})
   */
  @SuppressWarnings("unchecked")
  public T receive() {
    BlockingGuards.check();
    Fiber.check();
    Object item = null;
    Offer matched;
    Offer waiting = null;
    synchronized (this) {
      if (buffer != null && !buffer.isEmpty()) {
        item = buffer.poll();
        matched = refill();
      } else if ((matched = matchSender(null, null)) != null) {
        item = matched.item;
      } else if (closed) {
        throw closedForReceive("receive");
      } else {
        waiting = new Offer(new Pick(receiveWait), null, null);
        receivers.add(waiting);
      }
    }
    if (waiting != null) {
      return (T) awaitOffer(waiting, receivers);
    }
    wake(matched);
    return (T) item;
  }

  /**
   * Receives an element only if that needs no waiting.
   *
   * @return the element, or empty if none is available now
   * @throws ChannelClosedException if the channel is closed and drained
   */
  @SuppressWarnings("unchecked")
  public Optional<T> tryReceive() {
    Object item;
    Offer matched;
    synchronized (this) {
      if (buffer != null && !buffer.isEmpty()) {
        item = buffer.poll();
        matched = refill();
      } else if ((matched = matchSender(null, null)) != null) {
        item = matched.item;
      } else if (closed) {
        throw closedForReceive("tryReceive");
      } else {
        return Optional.empty();
      }
    }
    wake(matched);
    return Optional.of((T) item);
  }

  /** After taking from a full buffer: moves the oldest waiting sender's element in. */
  private Offer refill() {
    Offer s = matchSender(null, null);
    if (s != null) {
      buffer.add(s.item);
    }
    return s;
  }

  /** Waits for a queued plain offer to be matched; withdraws it if the caller is cancelled. */
  private Object awaitOffer(Offer offer, WaitQueue<Offer> queue) {
    Pick pick = offer.pick;
    pick.trigger.awaitOrWithdraw(() -> {
      if (!pick.claim()) {
        return false; // matched meanwhile: the element handed over stands
      }
      pick.publish(null, null);
      synchronized (this) {
        queue.remove(offer);
      }
      return true;
    });
    return pick.result();
  }

  // ---------------------------------------------------------------------------------------
  // Events

  /**
   * An event that sends {@code item} when it commits (its value is {@code null}); see
   * {@link Event}. If the channel is closed, syncing on it throws {@link ChannelClosedException}.
   *
   * @throws NullPointerException if {@code item} is null
   */
  public Event<Void> sendEvent(T item) {
    Objects.requireNonNull(item, "item");
    return new Event<>() {
      @Override
      void issue(Event.Sync sync, Function<Object, Object> finish) {
        offerSend(sync, finish, item);
      }
    };
  }

  /**
   * An event that receives an element when it commits; see {@link Event}. If the channel is
   * closed and drained, syncing on it throws {@link ChannelClosedException}.
   */
  public Event<T> receiveEvent() {
    return new Event<>() {
      @Override
      void issue(Event.Sync sync, Function<Object, Object> finish) {
        offerReceive(sync, finish);
      }
    };
  }

  private void offerSend(Event.Sync sync, Function<Object, Object> finish, Object item) {
    Pick mine = sync.pick;
    Offer matched;
    synchronized (this) {
      if (closed) {
        if (mine.claim()) {
          mine.publish(null, new Pick.Failure(closedForSend("sendEvent")));
        }
        return;
      }
      matched = matchReceiver(mine, finish, item);
      if (matched == null) {
        if (mine.isDone()) {
          return;
        }
        if (buffer != null && buffer.size() < capacity) {
          if (mine.claim()) {
            buffer.add(item);
            mine.publish(finish, null);
          }
          return;
        }
        Offer offer = new Offer(mine, item, finish);
        senders.add(offer);
        sync.onWithdraw(() -> withdraw(offer, senders));
      }
    }
    wake(matched);
  }

  private void offerReceive(Event.Sync sync, Function<Object, Object> finish) {
    Pick mine = sync.pick;
    Offer matched;
    synchronized (this) {
      if (buffer != null && !buffer.isEmpty()) {
        if (!mine.claim()) {
          return;
        }
        mine.publish(finish, buffer.poll());
        matched = refill();
      } else {
        matched = matchSender(mine, finish);
        if (matched == null) {
          if (mine.isDone()) {
            return;
          }
          if (closed) {
            if (mine.claim()) {
              mine.publish(null, new Pick.Failure(closedForReceive("receiveEvent")));
            }
            return;
          }
          Offer offer = new Offer(mine, null, finish);
          receivers.add(offer);
          sync.onWithdraw(() -> withdraw(offer, receivers));
        }
      }
    }
    wake(matched);
  }

  private synchronized void withdraw(Offer offer, WaitQueue<Offer> queue) {
    queue.remove(offer);
  }

  // ---------------------------------------------------------------------------------------
  // Closing, iteration, introspection

  /**
   * Closes the channel: later sends throw {@link ChannelClosedException}, and so do the sends
   * waiting now (their elements are not delivered); receivers drain the buffer, then throw it.
   * Never suspends; not a cancellation point. Idempotent.
   *
   * @return whether this call closed the channel
   */
  public boolean close() {
    Offer woken = null;
    Offer last = null;
    synchronized (this) {
      if (closed) {
        return false;
      }
      closed = true;
      for (WaitQueue<Offer> q : List.of(senders, receivers)) {
        for (Offer o = q.poll(); o != null; o = q.poll()) {
          if (o.pick.claim()) {
            o.pick.publish(null, new Pick.Failure(q == senders
                ? closedForSend("send") : closedForReceive("receive")));
            // Chain the committed offers through 'next' to signal them after unlocking.
            if (last == null) {
              woken = o;
            } else {
              last.next = o;
            }
            last = o;
          }
        }
      }
    }
    while (woken != null) {
      Offer next = woken.next;
      woken.next = null;
      wake(woken);
      woken = next;
    }
    return true;
  }

  /** Whether {@link #close()} was called. */
  public synchronized boolean isClosed() {
    return closed;
  }

  /** The number of buffered elements; a snapshot. */
  public synchronized int size() {
    return buffer == null ? 0 : buffer.size();
  }

  /** The buffer capacity; 0 for a rendezvous channel. */
  public int capacity() {
    return capacity;
  }

  /** The number of operations waiting to send (plain or in a select); a snapshot. */
  public synchronized int waitingSenders() {
    return senders.size();
  }

  /** The number of operations waiting to receive (plain or in a select); a snapshot. */
  public synchronized int waitingReceivers() {
    return receivers.size();
  }

  /**
   * Iterates over the elements as they are received: {@code hasNext()} {@linkplain #receive()
   * receives} (so it waits and is a cancellation point) and answers false once the channel is
   * closed and drained. Several iterators (in several fibers) share the elements.
   */
  @Override
  public Iterator<T> iterator() {
    return new Iterator<>() {
      private T next;

      @Override
      public boolean hasNext() {
        if (next == null) {
          try {
            next = receive();
          } catch (ChannelClosedException e) {
            return false;
          }
        }
        return true;
      }

      @Override
      public T next() {
        if (!hasNext()) {
          throw new NoSuchElementException("Channel iterator: the channel is closed and drained");
        }
        T item = next;
        next = null;
        return item;
      }
    };
  }

  private static ChannelClosedException closedForSend(String op) {
    return new ChannelClosedException("Channel." + op + ": the channel is closed; nothing can be sent");
  }

  private static ChannelClosedException closedForReceive(String op) {
    return new ChannelClosedException(
        "Channel." + op + ": the channel is closed and its buffer is drained");
  }

  @Override
  public synchronized String toString() {
    return "Channel[" + (capacity == 0 ? "rendezvous" : size() + "/" + capacity)
        + (closed ? ", closed" : "") + "]";
  }
}
