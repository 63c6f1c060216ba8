package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.ChannelClosedException;
import org.picos.std.sync.Event;

class EventTest {
  @ParameterizedTest
  @EnumSource(Env.class)
  void alwaysBeatsANeverCompletingComputationAndMaps(Env env) {
    env.exec(() -> {
      Computation<Integer> never = Computation.create();
      int v = Event.select(Event.fromComputation(never), Event.always(20).map(x -> x + 1), Event.always(99));
      assertEquals(21, v);
      assertEquals("1", Event.choose(Event.never(), Event.always(1)).map(String::valueOf).sync());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void computationEventsAndGuards(Env env) {
    env.exec(() -> {
      Computation<Integer> timedOut = Computation.create();
      IllegalStateException cause = new IllegalStateException("timed out");
      timedOut.cancelAfter(Duration.ofMillis(5), cause);
      assertSame(cause, assertThrows(IllegalStateException.class,
          () -> Event.select(Event.fromComputation(timedOut), Event.never())));
      ArithmeticException guardFailure = new ArithmeticException("guard");
      Channel<Integer> channel = Channel.rendezvous();
      assertSame(guardFailure, assertThrows(ArithmeticException.class,
          () -> Event.select(channel.receiveEvent(), Event.guard(() -> {
            throw guardFailure;
          }))));
      assertEquals(0, channel.waitingReceivers(), "the offer made before the failure was withdrawn");
      Computation<String> later = Fiber.spawn(() -> {
        Fiber.yield();
        return "later";
      });
      assertEquals("later", Event.guard(() -> Event.fromComputation(later)).sync());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void timeoutFiresAndWithdrawsTheOtherOffers(Env env) {
    env.exec(() -> {
      Channel<String> a = Channel.rendezvous();
      Channel<String> b = Channel.bounded(1);
      String got = Event.select(a.receiveEvent(), b.receiveEvent(),
          Event.after(Duration.ofMillis(10)).map(x -> "timeout"));
      assertEquals("timeout", got);
      assertEquals(0, a.waitingReceivers());
      assertEquals(0, b.waitingReceivers());
      IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
          () -> Event.after(Duration.ofMillis(-1)));
      assertTrue(negative.getMessage().contains("negative"));
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void selectReceivesFromTheReadyChannel(Env env) {
    env.exec(() -> {
      Channel<String> a = Channel.rendezvous();
      Channel<String> b = Channel.rendezvous();
      Computation<Void> sender = Fiber.spawn(() -> {
        b.send("from b");
        return null;
      });
      String got = Event.select(a.receiveEvent().map(x -> "a:" + x), b.receiveEvent().map(x -> "b:" + x));
      assertEquals("b:from b", got);
      sender.await();
      assertEquals(0, a.waitingReceivers());
      Channel<String> closed = Channel.rendezvous();
      closed.close();
      assertThrows(ChannelClosedException.class, () -> Event.select(a.receiveEvent(), closed.receiveEvent()));
      assertThrows(ChannelClosedException.class, () -> closed.sendEvent("x").sync());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledSelectWithdrawsItsOffers(Env env) {
    env.exec(() -> {
      Channel<String> a = Channel.rendezvous();
      Channel<String> b = Channel.rendezvous();
      Env.Task<String> selecting = Env.fork(() -> Event.select(a.receiveEvent(), b.sendEvent("x").map(v -> "sent")));
      until("offers made", () -> a.waitingReceivers() == 1 && b.waitingSenders() == 1);
      CancellationException cause = new CancellationException("test cancel");
      selecting.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, selecting::join));
      assertEquals(0, a.waitingReceivers());
      assertEquals(0, b.waitingSenders());
      assertFalse(a.trySend("nobody"));
    });
  }

  /** A commit racing the selecting fiber's cancellation: the element is returned, never lost. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelRacingCommitLosesNoElement(Env env) {
    env.exec(() -> {
      Channel<Integer> a = Channel.rendezvous();
      Channel<Integer> b = Channel.rendezvous();
      for (int round = 0; round < 40; round++) {
        Env.Task<Integer> selecting = Env.fork(() -> Event.select(a.receiveEvent(), b.receiveEvent()));
        until("offers made", () -> a.waitingReceivers() == 1 && b.waitingReceivers() == 1);
        CancellationException cause = new CancellationException("race " + round);
        boolean sent;
        if (round % 2 == 0) {
          b.send(round);
          sent = true;
          selecting.cancel(cause);
        } else {
          selecting.cancel(cause);
          sent = a.trySend(round);
        }
        until("select ended", selecting::isDone);
        if (sent) {
          assertEquals(round, selecting.join(), "a committed element is returned despite the cancellation");
        } else {
          assertSame(cause, selecting.failure());
        }
        assertEquals(0, a.waitingReceivers() + b.waitingReceivers(), "every offer withdrawn");
      }
    });
  }

  /** Selecting senders meet selecting receivers: each element still goes exactly once. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void selectOnBothSidesDeliversExactlyOnce(Env env) {
    env.exec(() -> {
      Channel<Integer> a = Channel.rendezvous();
      Channel<Integer> b = Channel.bounded(2);
      int n = 300;
      List<Computation<Void>> senders = new ArrayList<>();
      for (int p = 0; p < 2; p++) {
        int base = p * n;
        senders.add(Fiber.spawn(() -> {
          for (int i = 0; i < n; i++) {
            Event.select(a.sendEvent(base + i), b.sendEvent(base + i));
          }
          return null;
        }));
      }
      List<Computation<List<Integer>>> receivers = new ArrayList<>();
      for (int c = 0; c < 2; c++) {
        receivers.add(Fiber.spawn(() -> {
          List<Integer> got = new ArrayList<>();
          for (;;) {
            Integer item = Event.select(a.receiveEvent(), b.receiveEvent(),
                Event.after(Duration.ofMillis(200)).map(x -> null));
            if (item == null) {
              if (senders.stream().noneMatch(Computation::isRunning) && b.size() == 0) {
                return got;
              }
            } else {
              got.add(item);
            }
          }
        }));
      }
      List<Integer> all = new ArrayList<>();
      for (Computation<List<Integer>> r : receivers) {
        all.addAll(r.await());
      }
      Collections.sort(all);
      assertEquals(IntStream.range(0, 2 * n).boxed().toList(), all);
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void selectingSenderAndReceiverOnTheSameChannelDoNotMatchThemselves(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.rendezvous();
      Computation<String> both = Fiber.spawn(() -> Event.select(
          channel.sendEvent(1).map(x -> "sent"), channel.receiveEvent().map(x -> "received " + x)));
      until("both offers made", () -> channel.waitingSenders() == 1 && channel.waitingReceivers() == 1);
      assertEquals(1, channel.receive());
      assertEquals("sent", both.await());
      assertEquals(0, channel.waitingReceivers());
    });
  }
}
