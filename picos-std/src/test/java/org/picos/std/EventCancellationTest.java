package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Fiber;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Event;

/**
 * What a sync does when its fiber is cancelled while it offers, or when an offer fails after
 * another has committed: a committed result is never lost. A guard placed after a channel
 * event plays the part of the other party, so each interleaving is exact.
 */
class EventCancellationTest {
  /**
   * The receive offer commits, then the fiber is cancelled before the timeout is armed: the
   * element is returned (arming the timer is not a cancellation point).
   */
  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledAfterAReceiveCommittedKeepsTheElement(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.rendezvous();
      CancellationException cause = new CancellationException("cancelled while offering");
      Env.Task<Integer> selecting = Env.fork(() -> Event.select(channel.receiveEvent(), Event.guard(() -> {
        assertTrue(channel.trySend(7), "the receive offer was made first");
        Fiber.current().computation().tryCancel(cause);
        return Event.after(Duration.ofSeconds(30)).map(x -> -1);
      })));
      assertEquals(7, selecting.join(), "the element sent to the select was returned");
      assertEquals(0, channel.waitingReceivers());
    });
  }

  /** Same for a send: a send that happened does not throw (else the caller would send again). */
  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledAfterASendCommittedReportsTheSend(Env env) {
    env.exec(() -> {
      Channel<String> channel = Channel.rendezvous();
      CancellationException cause = new CancellationException("cancelled while offering");
      ConcurrentLinkedQueue<String> taken = new ConcurrentLinkedQueue<>();
      Env.Task<String> selecting = Env.fork(() -> Event.select(channel.sendEvent("x").map(v -> "sent"),
          Event.guard(() -> {
            taken.add(channel.tryReceive().orElseThrow());
            Fiber.current().computation().tryCancel(cause);
            return Event.after(Duration.ofSeconds(30)).map(v -> "timeout");
          })));
      assertEquals("sent", selecting.join());
      assertEquals(List.of("x"), List.copyOf(taken));
      assertEquals(0, channel.waitingSenders());
    });
  }

  /**
   * A guard that hits the fiber's cancellation after an earlier offer committed: the committed
   * result is returned, and the cancellation is still there for the next cancellation point.
   */
  @ParameterizedTest
  @EnumSource(Env.class)
  void cancellationThrownByAGuardAfterACommitKeepsTheResult(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.rendezvous();
      CancellationException cause = new CancellationException("seen by the guard");
      Env.Task<Integer> selecting = Env.fork(() -> {
        int got = Event.select(channel.receiveEvent(), Event.guard(() -> {
          assertTrue(channel.trySend(8));
          Fiber.current().computation().tryCancel(cause);
          Fiber.check();
          return Event.never();
        }));
        assertSame(cause, assertThrows(CancellationException.class, Fiber::check), "still cancelled");
        return got;
      });
      assertEquals(8, selecting.join());
    });
  }

  /**
   * A guard failing after an earlier offer committed: the result is returned and the failure,
   * which nobody can receive now, goes to the thread's uncaught-exception handler.
   */
  @ParameterizedTest
  @EnumSource(Env.class)
  void guardFailureAfterACommitKeepsTheResultAndReportsTheFailure(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.rendezvous();
      ArithmeticException bug = new ArithmeticException("guard bug");
      ConcurrentLinkedQueue<Throwable> reported = new ConcurrentLinkedQueue<>();
      Thread.UncaughtExceptionHandler[] saved = new Thread.UncaughtExceptionHandler[1];
      Thread[] thread = new Thread[1];
      int got;
      try {
        got = Event.select(channel.receiveEvent(), Event.guard(() -> {
          assertTrue(channel.trySend(9));
          // The failure is reported on this thread, before sync returns.
          thread[0] = Thread.currentThread();
          saved[0] = thread[0].getUncaughtExceptionHandler();
          thread[0].setUncaughtExceptionHandler((t, e) -> reported.add(e));
          throw bug;
        }));
      } finally {
        if (thread[0] != null) {
          thread[0].setUncaughtExceptionHandler(saved[0]);
        }
      }
      assertEquals(9, got);
      assertEquals(List.of(bug), List.copyOf(reported));
      assertEquals(0, channel.waitingReceivers());
    });
  }

  /** A guard failing before anything committed: the failure escapes and the offers are withdrawn. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void guardFailureBeforeACommitEscapes(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.rendezvous();
      ArithmeticException bug = new ArithmeticException("guard bug");
      assertSame(bug, assertThrows(ArithmeticException.class, () -> Event.select(channel.receiveEvent(),
          Event.after(Duration.ofSeconds(30)), Event.guard(() -> {
            throw bug;
          }))));
      assertEquals(0, channel.waitingReceivers());
    });
  }

  /**
   * A fiber cancelled before it syncs throws its cause before offering anything: an element
   * ready in a buffer stays there.
   */
  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledOnEntryOffersNothing(Env env) {
    env.exec(() -> {
      Channel<Integer> buffered = Channel.bounded(1);
      buffered.send(1);
      Channel<Integer> empty = Channel.rendezvous();
      CancellationException cause = new CancellationException("cancelled before sync");
      Env.Task<Integer> selecting = Env.fork(() -> {
        Fiber.current().computation().tryCancel(cause);
        return Event.select(empty.receiveEvent(), buffered.receiveEvent(),
            Event.after(Duration.ofSeconds(30)).map(x -> -1));
      });
      assertSame(cause, assertThrows(CancellationException.class, selecting::join));
      assertEquals(Optional.of(1), buffered.tryReceive(), "the buffered element was not taken");
      assertEquals(0, empty.waitingReceivers());
    });
  }

  /** Cancellation while waiting, with a timeout armed: the cause, offers and timer withdrawn. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void cancelledWhileWaitingWithATimeout(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.rendezvous();
      Env.Task<Integer> selecting = Env.fork(() -> Event.select(channel.receiveEvent(),
          Event.after(Duration.ofSeconds(30)).map(x -> -1)));
      until("receiver waits", () -> channel.waitingReceivers() == 1);
      CancellationException cause = new CancellationException("cancelled while waiting");
      selecting.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, selecting::join));
      assertEquals(0, channel.waitingReceivers());
      assertFalse(channel.trySend(1));
    });
  }

  /** A timeout too long for the timer is refused when the event is made, not while offering. */
  @Test
  void tooLongTimeoutIsRefusedUpFront() {
    IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
        () -> Event.after(Duration.ofDays(365L * 1000)));
    assertTrue(tooLong.getMessage().contains("Event.after"), tooLong.getMessage());
  }

  /** A forbidden fiber is not interrupted: its sync waits for a commit. */
  @ParameterizedTest
  @EnumSource(Env.class)
  void forbiddenFiberSyncsDespiteCancellation(Env env) {
    env.exec(() -> {
      Channel<Integer> channel = Channel.rendezvous();
      Env.Task<Integer> selecting = Env.fork(() -> Fiber.forbid(() -> {
        Fiber.current().computation().tryCancel(new CancellationException("forbidden"));
        return Event.select(channel.receiveEvent(), Event.after(Duration.ofSeconds(30)).map(x -> -1));
      }));
      until("receiver waits", () -> channel.waitingReceivers() == 1);
      channel.send(5);
      assertEquals(5, selecting.join());
    });
  }
}
