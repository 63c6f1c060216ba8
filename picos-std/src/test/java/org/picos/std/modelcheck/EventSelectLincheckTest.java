package org.picos.std.modelcheck;

import static org.picos.modelcheck.ModelCheck.expect;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.picos.spi.Handler;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Event;
import org.picos.modelcheck.ModelCheck;

/**
 * {@link Event#select} on plain threads under the model checker: over two channels' receive
 * events, over a receive and a computation or {@link Event#never()} with the selector's
 * cancellation racing, and two selects that can match each other on either of two channels
 * (the two-sided commit). Exactly one event commits; the others leave no offer behind; no
 * element is lost or received twice.
 */
@Tag("lincheck")
class EventSelectLincheckTest {
  static final class State {
    final Channel<Integer> first = Channel.rendezvous();
    final Channel<Integer> second = Channel.rendezvous();
    final Computation<Integer> computation = Computation.create();
    final Computation<Void> victim = Computation.create();
    final RuntimeException cause = new RuntimeException("cancelled");
    volatile Object selected = "not finished";
    volatile Object otherSelected = "not finished";
  }

  private static void expectNoOffers(Channel<Integer> c) {
    expect(c.waitingSenders() == 0 && c.waitingReceivers() == 0, "an offer was left queued");
  }

  /**
   * A select over two channels' receives racing a sender on each: it commits exactly one
   * element (mapped per channel); the other sender's element is still there to receive.
   */
  @Test
  void selectOverTwoReceivesTakesExactlyOneElement() {
    ModelCheck.check(100, () -> {
      State s = ModelCheck.share(new State());
      Thread firstSender = ModelCheck.fork(() -> s.first.send(1));
      Thread secondSender = ModelCheck.fork(() -> s.second.send(2));
      ModelCheck.join(ModelCheck.fork(() -> s.selected =
          Event.select(s.first.receiveEvent(), s.second.receiveEvent().map(v -> v + 10))));
      if (Integer.valueOf(1).equals(s.selected)) {
        expect(s.second.receive() == 2, "second element lost");
      } else {
        expect(Integer.valueOf(12).equals(s.selected), "select returned neither element");
        expect(s.first.receive() == 1, "first element lost");
      }
      ModelCheck.join(firstSender, secondSender);
      expectNoOffers(s.first);
      expectNoOffers(s.second);
    });
  }

  private static void selectAsVictim(State s, Event<Integer> other) {
    Fiber.current().setComputation(s.victim);
    try {
      s.selected = Event.select(s.first.receiveEvent(), other);
    } catch (RuntimeException e) {
      s.selected = e;
    }
  }

  /**
   * A select over a receive and {@link Event#never()}, a sender and the selector's canceller:
   * the selector gets the element or throws its cause, and then the element is still there.
   */
  @Test
  void cancelledSelectOverReceiveAndNeverTakesNothingOrTheElement() {
    ModelCheck.check(100, () -> {
      State s = ModelCheck.share(new State());
      Thread sender = ModelCheck.fork(() -> s.first.send(1));
      ModelCheck.runAll(() -> selectAsVictim(s, Event.never()), () -> s.victim.tryCancel(s.cause));
      if (s.selected == s.cause) {
        expect(s.first.receive() == 1, "the element was lost");
      } else {
        expect(Integer.valueOf(1).equals(s.selected), "select neither received nor threw its cause");
      }
      ModelCheck.join(sender);
      expectNoOffers(s.first);
    });
  }

  /**
   * A select over a receive and a computation's completion (the shape of a timeout: what
   * {@link Event#after} does with its timer's computation), a sender, the completer and the
   * selector's canceller: exactly one outcome, and an element not taken is still there.
   */
  @Test
  void selectOverReceiveAndACompletingComputation() {
    ModelCheck.check(120, () -> {
      State s = ModelCheck.share(new State());
      Thread sender = ModelCheck.fork(() -> s.first.send(1));
      ModelCheck.runAll(
          () -> selectAsVictim(s, Event.fromComputation(s.computation)),
          () -> s.computation.tryReturn(7),
          () -> s.victim.tryCancel(s.cause));
      boolean received = Integer.valueOf(1).equals(s.selected);
      expect(received || Integer.valueOf(7).equals(s.selected) || s.selected == s.cause,
          "select ended with none of its outcomes");
      if (!received) {
        expect(s.first.receive() == 1, "the element was lost");
      }
      ModelCheck.join(sender);
      expectNoOffers(s.first);
      expect(Handler.triggerEntries(s.computation) == 0, "the select left its trigger on the computation");
    });
  }

  /**
   * Two selects that can match each other on either channel: one sends 1 on the first or
   * receives on the second, the other receives on the first or sends 2 on the second. Exactly
   * one exchange happens, seen the same way by both, and no offer is left behind.
   */
  @Test
  void twoSelectsMatchEachOtherExactlyOnce() {
    ModelCheck.check(120, () -> {
      State s = ModelCheck.share(new State());
      ModelCheck.runAll(
          () -> s.selected = Event.select(s.first.sendEvent(1).map(v -> "sent 1"), s.second.receiveEvent()),
          () -> s.otherSelected = Event.select(s.first.receiveEvent(), s.second.sendEvent(2).map(v -> "sent 2")));
      boolean onFirst = "sent 1".equals(s.selected) && Integer.valueOf(1).equals(s.otherSelected);
      boolean onSecond = Integer.valueOf(2).equals(s.selected) && "sent 2".equals(s.otherSelected);
      expect(onFirst || onSecond, "the two selects did not agree on exactly one exchange");
      expectNoOffers(s.first);
      expectNoOffers(s.second);
    });
  }
}
