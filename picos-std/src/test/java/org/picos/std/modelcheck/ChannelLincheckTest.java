package org.picos.std.modelcheck;

import static org.picos.modelcheck.ModelCheck.expect;

import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.ChannelClosedException;
import org.picos.modelcheck.ModelCheck;

/**
 * {@link Channel} on plain threads under the model checker, rendezvous and bounded, with the
 * cancellation of a waiting sender or receiver (the {@code victim}) and closing as racing
 * operations. Every element sent is received exactly once: a cancelled operation either
 * completes (the element is delivered, or returned) or leaves no trace (nothing delivered,
 * nothing taken, no offer left queued).
 */
@Tag("lincheck")
class ChannelLincheckTest {
  static final class State {
    final Channel<Integer> channel;
    final Computation<Void> victim = Computation.create();
    final RuntimeException cause = new RuntimeException("cancelled");
    volatile Object victimOutcome = "not finished";
    volatile Object otherOutcome = "not finished";

    State(Channel<Integer> channel) {
      this.channel = channel;
    }
  }

  /** Runs {@code body} as the victim: its fiber's cancellation token is {@code s.victim}. */
  private static void asVictim(State s, java.util.function.Supplier<Object> body) {
    Fiber.current().setComputation(s.victim);
    try {
      s.victimOutcome = body.get();
    } catch (RuntimeException e) {
      s.victimOutcome = e;
    }
  }

  private static void expectNoWaiters(State s) {
    expect(s.channel.waitingSenders() == 0 && s.channel.waitingReceivers() == 0, "an offer was left queued");
  }

  /**
   * Rendezvous: a sender, a victim receiver and its canceller. The victim gets the element or
   * throws its cause; in the second case the element is still there for the next receiver.
   */
  @Test
  void aCancelledRendezvousReceiverTakesNothingOrTheElement() {
    ModelCheck.check(150, () -> {
      State s = ModelCheck.share(new State(Channel.rendezvous()));
      Thread sender = ModelCheck.fork(() -> {
        s.channel.send(1);
        s.otherOutcome = "sent";
      });
      ModelCheck.runAll(() -> asVictim(s, s.channel::receive), () -> s.victim.tryCancel(s.cause));
      if (s.victimOutcome == s.cause) {
        expect(s.channel.receive() == 1, "the element was lost");
      } else {
        expect(Integer.valueOf(1).equals(s.victimOutcome), "the victim neither received nor threw its cause");
      }
      ModelCheck.join(sender);
      expect("sent".equals(s.otherOutcome), "send did not complete");
      expectNoWaiters(s);
    });
  }

  /**
   * Rendezvous: a victim sender, its canceller and a receiver. The receiver gets the victim's
   * element iff the victim's send completed; otherwise a later send reaches it.
   */
  @Test
  void aCancelledRendezvousSenderDeliversOrLeavesNoTrace() {
    ModelCheck.check(150, () -> {
      State s = ModelCheck.share(new State(Channel.rendezvous()));
      Thread receiver = ModelCheck.fork(() -> s.otherOutcome = s.channel.receive());
      ModelCheck.runAll(
          () -> asVictim(s, () -> {
            s.channel.send(1);
            return "sent";
          }),
          () -> s.victim.tryCancel(s.cause));
      boolean sent = "sent".equals(s.victimOutcome);
      expect(sent || s.victimOutcome == s.cause, "the victim neither sent nor threw its cause");
      if (!sent) {
        s.channel.send(2);
      }
      ModelCheck.join(receiver);
      expect(Integer.valueOf(sent ? 1 : 2).equals(s.otherOutcome), "receiver got the wrong element");
      expectNoWaiters(s);
    });
  }

  /**
   * Bounded(1), full: a victim sender waits for room, a receiver takes the buffered element
   * (and moves a waiting sender's element in), the victim is cancelled. The victim's element is
   * in the buffer iff its send completed.
   */
  @Test
  void aCancelledSenderToAFullBufferDeliversOrLeavesNoTrace() {
    ModelCheck.check(150, () -> {
      State s = ModelCheck.share(new State(Channel.bounded(1)));
      expect(s.channel.trySend(0), "could not fill the buffer");
      ModelCheck.runAll(
          () -> asVictim(s, () -> {
            s.channel.send(1);
            return "sent";
          }),
          () -> s.victim.tryCancel(s.cause),
          () -> s.otherOutcome = s.channel.receive());
      boolean sent = "sent".equals(s.victimOutcome);
      expect(sent || s.victimOutcome == s.cause, "the victim neither sent nor threw its cause");
      expect(Integer.valueOf(0).equals(s.otherOutcome), "receiver did not get the buffered element first");
      Optional<Integer> left = s.channel.tryReceive();
      expect(sent ? left.isPresent() && left.get() == 1 : left.isEmpty(), "buffer does not match the send's outcome");
      expectNoWaiters(s);
    });
  }

  /**
   * Bounded(1), empty: a victim receiver, its canceller and a sender (which never waits: the
   * buffer has room). The element is either the victim's result or left in the buffer.
   */
  @Test
  void aCancelledReceiverFromABufferTakesNothingOrTheElement() {
    ModelCheck.check(150, () -> {
      State s = ModelCheck.share(new State(Channel.bounded(1)));
      ModelCheck.runAll(
          () -> asVictim(s, s.channel::receive),
          () -> s.victim.tryCancel(s.cause),
          () -> {
            s.channel.send(5);
            s.otherOutcome = "sent";
          });
      expect("sent".equals(s.otherOutcome), "send to a buffer with room did not complete");
      Optional<Integer> left = s.channel.tryReceive();
      if (s.victimOutcome == s.cause) {
        expect(left.isPresent() && left.get() == 5, "the element was lost");
      } else {
        expect(Integer.valueOf(5).equals(s.victimOutcome) && left.isEmpty(), "the element was not received exactly once");
      }
      expectNoWaiters(s);
    });
  }

  /**
   * Rendezvous: a sender, a receiver and close. Both always finish; the send completes iff the
   * receiver got its element, and otherwise both see the channel closed.
   */
  @Test
  void closeRacingASendAndAReceiveWakesBoth() {
    ModelCheck.check(150, () -> {
      State s = ModelCheck.share(new State(Channel.rendezvous()));
      ModelCheck.runAll(
          () -> {
            try {
              s.channel.send(1);
              s.otherOutcome = "sent";
            } catch (ChannelClosedException e) {
              s.otherOutcome = e;
            }
          },
          () -> {
            try {
              s.victimOutcome = s.channel.receive();
            } catch (ChannelClosedException e) {
              s.victimOutcome = e;
            }
          },
          s.channel::close);
      boolean sent = "sent".equals(s.otherOutcome);
      expect(sent || s.otherOutcome instanceof ChannelClosedException, "send ended otherwise");
      expect(sent ? Integer.valueOf(1).equals(s.victimOutcome) : s.victimOutcome instanceof ChannelClosedException,
          "send completed iff received: violated");
      expect(s.channel.isClosed(), "channel not closed");
      expectNoWaiters(s);
    });
  }
}
