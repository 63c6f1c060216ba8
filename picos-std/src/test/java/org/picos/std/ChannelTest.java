package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.ChannelClosedException;

class ChannelTest {
  @Test
  void misuseIsAClearError() {
    IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> Channel.bounded(0));
    assertTrue(zero.getMessage().contains("rendezvous()"), zero.getMessage());
    assertThrows(NullPointerException.class, () -> Channel.rendezvous().trySend(null));
  }

  /** Several producers and consumers: every element arrives once, each producer's in order. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void exactlyOnceInOrderDelivery(Env env) {
    for (int capacity : new int[] {0, 3}) {
      env.exec(() -> {
        Channel<Integer> channel = capacity == 0 ? Channel.rendezvous() : Channel.bounded(capacity);
        int producers = 3;
        int perProducer = 200;
        List<Computation<Void>> senders = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
          int base = p * perProducer;
          senders.add(Fiber.spawn(() -> {
            for (int i = 0; i < perProducer; i++) {
              channel.send(base + i);
            }
            return null;
          }));
        }
        List<Computation<List<Integer>>> receivers = new ArrayList<>();
        for (int c = 0; c < 3; c++) {
          receivers.add(Fiber.spawn(() -> {
            List<Integer> got = new ArrayList<>();
            for (int item : channel) {
              got.add(item);
            }
            return got;
          }));
        }
        for (Computation<Void> s : senders) {
          s.await();
        }
        channel.close();
        List<Integer> all = new ArrayList<>();
        for (Computation<List<Integer>> r : receivers) {
          List<Integer> got = r.await();
          for (int p = 0; p < producers; p++) {
            int lo = p * perProducer;
            List<Integer> mine = got.stream().filter(x -> x >= lo && x < lo + perProducer).toList();
            assertEquals(mine.stream().sorted().toList(), mine, "producer " + p + " order");
          }
          all.addAll(got);
        }
        Collections.sort(all);
        assertEquals(IntStream.range(0, producers * perProducer).boxed().toList(), all);
      });
    }
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void boundedBuffersWithoutWaiting(Env env) {
    env.exec(() -> {
      Channel<String> channel = Channel.bounded(2);
      assertTrue(channel.trySend("a"));
      channel.send("b");
      assertFalse(channel.trySend("c"));
      assertEquals(2, channel.size());
      Computation<Void> blocked = Fiber.spawn(() -> {
        channel.send("c");
        return null;
      });
      until("sender waits", () -> channel.waitingSenders() == 1);
      assertEquals("a", channel.receive());
      blocked.await();
      assertEquals(Optional.of("b"), channel.tryReceive());
      assertEquals("c", channel.receive());
      assertEquals(Optional.empty(), channel.tryReceive());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void closeDrainsTheBufferThenFails(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.bounded(4);
      Channel<Integer> rendezvous = Channel.rendezvous();
      channel.send(1);
      channel.send(2);
      Computation<Integer> waitingReceiver = Fiber.spawn(rendezvous::receive);
      Computation<Void> waitingSender = Fiber.spawn(() -> {
        Channel<Integer> full = channel;
        full.send(3);
        full.send(4);
        full.send(5);
        return null;
      });
      until("a sender waits", () -> channel.waitingSenders() == 1);
      until("a receiver waits", () -> rendezvous.waitingReceivers() == 1);
      assertTrue(channel.close());
      assertFalse(channel.close());
      assertTrue(rendezvous.close());
      ChannelClosedException sendFailure = assertThrows(ChannelClosedException.class, waitingSender::await);
      assertTrue(sendFailure.getMessage().contains("closed"), sendFailure.getMessage());
      ChannelClosedException receiveFailure = assertThrows(ChannelClosedException.class, waitingReceiver::await);
      assertTrue(receiveFailure.getMessage().contains("drained"), receiveFailure.getMessage());
      assertThrows(ChannelClosedException.class, () -> channel.send(9));
      assertThrows(ChannelClosedException.class, () -> channel.trySend(9));
      List<Integer> rest = new ArrayList<>();
      channel.forEach(rest::add);
      assertEquals(List.of(1, 2, 3, 4), rest, "the buffer is drained after close");
      assertThrows(ChannelClosedException.class, channel::receive);
      assertThrows(ChannelClosedException.class, channel::tryReceive);
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledSenderDeliversNothing(Env env) {
    env.exec(() -> {
      for (Channel<String> channel : List.of(Channel.<String>rendezvous(), Channel.<String>bounded(1))) {
        if (channel.capacity() > 0) {
          channel.send("buffered");
        }
        Env.Task<Void> sender = Env.fork(() -> {
          channel.send("cancelled");
          return null;
        });
        until("sender waits", () -> channel.waitingSenders() == 1);
        CancellationException cause = new CancellationException("test cancel");
        sender.cancel(cause);
        assertSame(cause, assertThrows(CancellationException.class, sender::join));
        assertEquals(0, channel.waitingSenders());
        if (channel.capacity() > 0) {
          assertEquals("buffered", channel.receive());
        }
        assertEquals(Optional.empty(), channel.tryReceive(), "the cancelled element was not delivered");
      }
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledReceiverTakesNothing(Env env) {
    env.exec(() -> {
      Channel<String> channel = Channel.bounded(1);
      Env.Task<String> receiver = Env.fork(channel::receive);
      until("receiver waits", () -> channel.waitingReceivers() == 1);
      CancellationException cause = new CancellationException("test cancel");
      receiver.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, receiver::join));
      assertEquals(0, channel.waitingReceivers());
      channel.send("kept");
      assertEquals("kept", channel.receive());
    });
  }

  /** Cancellation racing a hand-off: the element is either received or still there, never lost. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelRacingSendLosesNoElement(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.rendezvous();
      for (int round = 0; round < 40; round++) {
        Env.Task<Integer> receiver = Env.fork(channel::receive);
        until("receiver waits", () -> channel.waitingReceivers() == 1);
        CancellationException cause = new CancellationException("race " + round);
        boolean sent;
        if (round % 2 == 0) {
          channel.send(round);
          sent = true;
          receiver.cancel(cause);
        } else {
          receiver.cancel(cause);
          sent = channel.trySend(round);
        }
        until("receiver done", receiver::isDone);
        if (sent) {
          assertEquals(round, receiver.join(), "a sent element reaches the receiver even if it was cancelled");
        } else {
          assertSame(cause, receiver.failure());
        }
        assertEquals(0, channel.waitingReceivers());
      }
    });
  }
}
