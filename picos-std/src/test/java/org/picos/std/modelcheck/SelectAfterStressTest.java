package org.picos.std.modelcheck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Event;

/**
 * {@link Event#after} racing a receive, on plain threads. The model checker cannot drive this
 * one: the timer is a shared daemon thread that outlives every scenario, so Lincheck waits for
 * it forever. {@code EventSelectLincheckTest} model-checks the same commit path through
 * {@link Event#fromComputation} (an {@code after} is a timer cancelling a computation); this
 * stress test runs the real timer, with a zero delay so that it fires while the sender and the
 * canceller are still racing.
 */
class SelectAfterStressTest {
  private static final int ROUNDS = 2_000;

  @Test
  void selectOverReceiveAndAfterLosesNoElement() throws InterruptedException {
    int received = 0;
    int timedOut = 0;
    for (int round = 0; round < ROUNDS; round++) {
      Channel<Integer> channel = Channel.rendezvous();
      Thread sender = Thread.ofPlatform().start(() -> channel.send(1));
      Object outcome = Event.select(channel.receiveEvent(), Event.after(Duration.ZERO).map(v -> "timeout"));
      if ("timeout".equals(outcome)) {
        timedOut++;
        assertEquals(1, channel.receive(), "the element was lost");
      } else {
        received++;
        assertEquals(1, outcome);
      }
      sender.join(10_000);
      assertTrue(!sender.isAlive(), "sender still blocked");
      assertEquals(0, channel.waitingReceivers(), "the select left its offer queued");
      assertEquals(0, channel.waitingSenders(), "a send offer was left queued");
    }
    assertEquals(ROUNDS, received + timedOut);
  }

  /**
   * Receives the sender's element if it is still waiting; returns false if the sender finished
   * without the element being received here (it was delivered to someone else).
   */
  private static boolean receiveUnlessSenderFinished(Channel<Integer> channel, Thread sender) {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (System.nanoTime() < deadline) {
      boolean finished = !sender.isAlive();
      if (channel.tryReceive().isPresent()) {
        return true;
      }
      if (finished) {
        return false;
      }
      Thread.onSpinWait();
    }
    throw new AssertionError("sender neither finished nor offered its element within 10 s");
  }

  /**
   * The selecting thread's cancellation races a sender and the timer. Fails today: when the
   * sender commits the select's receive offer and the cancellation lands before
   * {@code Event.after} is offered, {@code after} throws the cause while offering (it arms
   * its timer through {@code Computation.cancelAfter}, which refuses a cancelled fiber), and
   * {@code sync} rethrows it although the receive had committed: the element is lost.
   * {@link #aCancellationBetweenACommittedReceiveAndAfterLosesTheElement} is the same
   * interleaving, deterministic.
   */
  @Test
  void cancelledSelectOverReceiveAndAfterLosesNoElement() throws InterruptedException {
    RuntimeException cause = new RuntimeException("cancelled");
    for (int round = 0; round < ROUNDS; round++) {
      Channel<Integer> channel = Channel.rendezvous();
      Computation<Void> victim = Computation.create();
      Object[] outcome = new Object[1];
      Thread selector = Thread.ofPlatform().start(() -> {
        Fiber.current().setComputation(victim);
        try {
          outcome[0] = Event.select(channel.receiveEvent(), Event.after(Duration.ZERO).map(v -> "timeout"));
        } catch (RuntimeException e) {
          outcome[0] = e;
        }
      });
      Thread sender = Thread.ofPlatform().start(() -> channel.send(1));
      victim.tryCancel(cause);
      selector.join(10_000);
      assertTrue(!selector.isAlive(), "selector still blocked");
      if (!Integer.valueOf(1).equals(outcome[0])) {
        assertTrue(outcome[0] == cause || "timeout".equals(outcome[0]), "select ended with " + outcome[0]);
        assertTrue(receiveUnlessSenderFinished(channel, sender),
            "round " + round + ": the send completed, but select ended with " + outcome[0]
                + " instead of the element: the element was lost");
      }
      sender.join(10_000);
      assertTrue(!sender.isAlive(), "sender still blocked");
      assertEquals(0, channel.waitingReceivers(), "the select left its offer queued");
    }
  }

  /**
   * The interleaving of the stress test above, made deterministic on one thread: a guard
   * offered after the receive plays the sender (its trySend commits the select's receive
   * offer) and the canceller, then yields the {@code after}. The send reports the element
   * delivered, so the select must return it. Fails today: the select throws the cancellation
   * cause, and the element is gone.
   */
  @Test
  void aCancellationBetweenACommittedReceiveAndAfterLosesTheElement() {
    RuntimeException cause = new RuntimeException("cancelled");
    Channel<Integer> channel = Channel.rendezvous();
    Computation<Void> victim = Computation.create();
    Fiber me = Fiber.current();
    Computation<?> previous = me.setComputation(victim);
    boolean[] delivered = new boolean[1];
    Object outcome;
    try {
      outcome = Event.select(channel.receiveEvent(), Event.guard(() -> {
        delivered[0] = channel.trySend(1);
        victim.tryCancel(cause);
        return Event.after(Duration.ofHours(1)).map(v -> "timeout");
      }));
    } catch (RuntimeException e) {
      outcome = e;
    } finally {
      me.setComputation(previous);
    }
    assertTrue(delivered[0], "trySend found no receive offer of the select");
    assertEquals(1, outcome, "trySend delivered the element to the select, which then ended with");
  }
}
