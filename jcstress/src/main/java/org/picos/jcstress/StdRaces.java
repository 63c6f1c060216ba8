package org.picos.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;
import static org.picos.jcstress.ComputationRaces.CAUSE;

import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.function.IntSupplier;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.ChannelClosedException;
import org.picos.std.sync.Mutex;

/**
 * Races on the std library's {@link Mutex} and {@link Channel}: mutual exclusion, a cancelled
 * locker never strands the mutex, and every element sent is received exactly once whatever
 * {@code close} or a receiver's cancellation does meanwhile.
 *
 * <p>Actors are plain threads, so the blocking operations ({@code lock}, {@code receive}) block
 * the thread through the core's plain-thread await; every such test makes the other actor end
 * the wait for sure (unlock, close or cancel), so a lost wake-up would hang the fork, which
 * jcstress reports as an error. To cancel an actor, it runs its operation with a fresh
 * computation installed as its thread's fiber computation ({@link #withToken}).
 */
public final class StdRaces {
  private StdRaces() {}

  /** The element sent through the channels. */
  static final Integer ELEMENT = 1;
  /** Receive code: the element. */
  static final int GOT = 1;
  /** Receive code: nothing available now ({@code tryReceive} answered empty). */
  static final int EMPTY = 0;
  /** Receive or send code: {@link ChannelClosedException}. */
  static final int CLOSED = -1;
  /** Code: the operation threw the cancellation cause. */
  static final int CANCELED = -2;
  /** Receive code: an element other than the one sent, or another failure. */
  static final int WRONG = 9;

  /**
   * Runs {@code body} on the calling thread with {@code token} as its fiber's computation, so
   * that cancelling {@code token} cancels what {@code body} waits for; restores the thread's own
   * computation afterwards.
   */
  static int withToken(Computation<?> token, IntSupplier body) {
    Fiber me = Fiber.current();
    Computation<?> own = me.setComputation(token);
    try {
      return body.getAsInt();
    } finally {
      me.setComputation(own);
    }
  }

  /** {@code tryReceive} as a receive code. */
  static int tryReceiveCode(Channel<Integer> channel) {
    try {
      Optional<Integer> item = channel.tryReceive();
      return item.isEmpty() ? EMPTY : item.get() == ELEMENT ? GOT : WRONG;
    } catch (ChannelClosedException closed) {
      return CLOSED;
    }
  }

  /** {@code receive} as a receive code. */
  static int receiveCode(Channel<Integer> channel) {
    try {
      return channel.receive() == ELEMENT ? GOT : WRONG;
    } catch (ChannelClosedException closed) {
      return CLOSED;
    } catch (CancellationException canceled) {
      return canceled == CAUSE ? CANCELED : WRONG;
    }
  }

  /** r1, r2: what each actor saw inside the mutex (0 tryLock failed); r3: locked at the end. */
  @JCStressTest
  @Description("Mutex.tryLock/unlock from two actors, each incrementing a plain counter inside: "
      + "mutual exclusion (never both inside, no lost update), and the mutex ends unlocked.")
  @Outcome(id = {"1, 0, 0", "0, 1, 0"}, expect = ACCEPTABLE,
      desc = "One actor held the mutex while the other's tryLock failed.")
  @Outcome(id = {"1, 2, 0", "2, 1, 0"}, expect = ACCEPTABLE,
      desc = "One actor locked and unlocked before the other locked.")
  @Outcome(expect = FORBIDDEN,
      desc = "Both inside at once (a lost update), both refused with nobody holding it, or the "
          + "mutex left locked.")
  @State
  public static class MutexTryLock {
    private final Mutex mutex = new Mutex();
    private int counter;

    private int enter() {
      if (!mutex.tryLock()) {
        return 0;
      }
      try {
        return ++counter;
      } finally {
        mutex.unlock();
      }
    }

    @Actor
    public void actor1(III_Result r) {
      r.r1 = enter();
    }

    @Actor
    public void actor2(III_Result r) {
      r.r2 = enter();
    }

    @Arbiter
    public void arbiter(III_Result r) {
      r.r3 = mutex.isLocked() ? 1 : 0;
    }
  }

  /**
   * r1: the cancellable locker (1 locked and unlocked, -2 cancelled); r2: the other actor's
   * tryLock; r3: 1 if the mutex ends locked or with waiters.
   */
  @JCStressTest
  @Description("lock() (blocking, cancellable) vs (tryLock(); cancel the locker; unlock()): the "
      + "locker either gets the mutex or throws the cause, and the mutex ends unlocked with no "
      + "waiter, even when ownership is handed to a waiter just as it is cancelled.")
  @Outcome(id = "1, 0, 0", expect = ACCEPTABLE,
      desc = "The locker held the mutex when the other actor's tryLock failed.")
  @Outcome(id = "1, 1, 0", expect = ACCEPTABLE,
      desc = "The two critical sections did not overlap; the locker got the mutex.")
  @Outcome(id = "-2, 1, 0", expect = ACCEPTABLE_INTERESTING,
      desc = "The locker was cancelled on entry or while waiting, and threw the cause.")
  @Outcome(expect = FORBIDDEN,
      desc = "A cancelled locker without anybody holding the mutex against it, or a mutex left "
          + "locked or with a stranded waiter.")
  @State
  public static class MutexLockVsCancel {
    private final Mutex mutex = new Mutex();
    private final Computation<Void> token = Computation.create();

    @Actor
    public void lock(III_Result r) {
      r.r1 = withToken(token, () -> {
        try {
          mutex.lock();
        } catch (CancellationException canceled) {
          return canceled == CAUSE ? CANCELED : WRONG;
        }
        mutex.unlock();
        return 1;
      });
    }

    @Actor
    public void holdAndCancel(III_Result r) {
      boolean got = mutex.tryLock();
      r.r2 = got ? 1 : 0;
      token.tryCancel(CAUSE);
      if (got) {
        mutex.unlock();
      }
    }

    @Arbiter
    public void arbiter(III_Result r) {
      r.r3 = mutex.isLocked() || mutex.queueLength() > 0 ? 1 : 0;
    }
  }

  /** r1: trySend (1 sent); r2: the receiver's tryReceive; r3: what is left to receive after. */
  @JCStressTest
  @Description("Channel.bounded(1): (trySend(x); close()) vs tryReceive(): close never drops a "
      + "buffered element, and receivers drain it before they see the channel closed.")
  @Outcome(id = "1, 1, -1", expect = ACCEPTABLE,
      desc = "The receiver took the element (before or after close); then the channel was "
          + "closed and drained.")
  @Outcome(id = "1, 0, 1", expect = ACCEPTABLE,
      desc = "The receiver came before the send; the element stayed buffered through close and "
          + "was drained afterwards.")
  @Outcome(expect = FORBIDDEN,
      desc = "The element lost or received twice, a receive seeing 'closed' while the element was "
          + "buffered, or a send refused with room in the buffer.")
  @State
  public static class ChannelSendCloseVsReceive {
    private final Channel<Integer> channel = Channel.bounded(1);

    @Actor
    public void sendThenClose(III_Result r) {
      r.r1 = channel.trySend(ELEMENT) ? 1 : 0;
      channel.close();
    }

    @Actor
    public void receive(III_Result r) {
      r.r2 = tryReceiveCode(channel);
    }

    @Arbiter
    public void arbiter(III_Result r) {
      r.r3 = tryReceiveCode(channel);
    }
  }

  /** r1: trySend (1 sent, -1 closed); r2: tryReceive; r3: what is left to receive after. */
  @JCStressTest
  @Description("Channel.bounded(1): trySend(x) vs (tryReceive(); close()): a send either "
      + "completes, and its element is received exactly once, or fails as closed, and nothing "
      + "is received.")
  @Outcome(id = "1, 1, -1", expect = ACCEPTABLE,
      desc = "Sent, then received, then the channel closed.")
  @Outcome(id = "1, 0, 1", expect = ACCEPTABLE_INTERESTING,
      desc = "Sent between the empty tryReceive and close: the element was drained after close.")
  @Outcome(id = "-1, 0, -1", expect = ACCEPTABLE,
      desc = "The channel was closed before the send, which failed with ChannelClosedException.")
  @Outcome(expect = FORBIDDEN,
      desc = "An element lost, duplicated or received though its send failed.")
  @State
  public static class ChannelSendVsReceiveClose {
    private final Channel<Integer> channel = Channel.bounded(1);

    @Actor
    public void send(III_Result r) {
      try {
        r.r1 = channel.trySend(ELEMENT) ? 1 : 0;
      } catch (ChannelClosedException closed) {
        r.r1 = CLOSED;
      }
    }

    @Actor
    public void receiveThenClose(III_Result r) {
      r.r2 = tryReceiveCode(channel);
      channel.close();
    }

    @Arbiter
    public void arbiter(III_Result r) {
      r.r3 = tryReceiveCode(channel);
    }
  }

  /** r1: the blocking receive; r2: trySend (1 handed over, 0 no receiver waiting); r3: 0. */
  @JCStressTest
  @Description("Channel.rendezvous(): receive() (blocking) vs (trySend(x); close()): a handed-"
      + "over element is returned by the receive, never lost to the close; otherwise the close "
      + "ends the receive with ChannelClosedException.")
  @Outcome(id = "1, 1, 0", expect = ACCEPTABLE,
      desc = "The receiver was waiting; trySend handed the element over.")
  @Outcome(id = "-1, 0, 0", expect = ACCEPTABLE,
      desc = "No receiver was waiting at the send; the close ended the receive (waiting or not).")
  @Outcome(expect = FORBIDDEN,
      desc = "An element handed over but not received, a receive of an element never handed over, "
          + "or a receiver left waiting.")
  @State
  public static class ChannelReceiveVsSendClose {
    private final Channel<Integer> channel = Channel.rendezvous();

    @Actor
    public void receive(III_Result r) {
      r.r1 = receiveCode(channel);
    }

    @Actor
    public void sendThenClose(III_Result r) {
      r.r2 = channel.trySend(ELEMENT) ? 1 : 0;
      channel.close();
    }

    @Arbiter
    public void arbiter(III_Result r) {
      r.r3 = channel.waitingReceivers();
    }
  }

  /** r1: the cancellable receive; r2: trySend; r3: receivers still queued at the end. */
  @JCStressTest
  @Description("Channel.rendezvous(): receive() (blocking, cancellable) vs (trySend(x); cancel "
      + "the receiver): an element handed over is returned even though the cancellation follows; "
      + "a cancelled receiver takes nothing and withdraws its offer.")
  @Outcome(id = "1, 1, 0", expect = ACCEPTABLE,
      desc = "The receiver was waiting; the element was handed over before the cancellation.")
  @Outcome(id = "-2, 0, 0", expect = ACCEPTABLE,
      desc = "No receiver was waiting at the send; the receiver was then cancelled and threw.")
  @Outcome(expect = FORBIDDEN,
      desc = "An element handed over to a receiver that reported the cancellation (lost), an "
          + "element from nowhere, or a withdrawn receiver left in the queue.")
  @State
  public static class ChannelReceiveVsSendCancel {
    private final Channel<Integer> channel = Channel.rendezvous();
    private final Computation<Void> token = Computation.create();

    @Actor
    public void receive(III_Result r) {
      r.r1 = withToken(token, () -> receiveCode(channel));
    }

    @Actor
    public void sendThenCancel(III_Result r) {
      r.r2 = channel.trySend(ELEMENT) ? 1 : 0;
      token.tryCancel(CAUSE);
    }

    @Arbiter
    public void arbiter(III_Result r) {
      r.r3 = channel.waitingReceivers();
    }
  }
}
