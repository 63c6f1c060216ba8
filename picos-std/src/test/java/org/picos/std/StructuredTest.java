package org.picos.std;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.std.Env.until;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.std.structured.Bundle;
import org.picos.std.structured.Control;
import org.picos.std.structured.Flock;
import org.picos.std.structured.Promise;
import org.picos.std.structured.Run;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Condition;
import org.picos.std.sync.Event;
import org.picos.std.sync.Mutex;

class StructuredTest {
  @ParameterizedTest
  @EnumSource(Env.class)
  void flockWaitsForEveryChild(Env env) {
    env.exec(() -> {
      ConcurrentLinkedQueue<Integer> done = new ConcurrentLinkedQueue<>();
      Computation<?> outside = Fiber.current().computation();
      int sum = Flock.joinAfter(() -> {
        assertNotSame(outside, Fiber.current().computation(), "the body runs under the flock's token");
        for (int i = 0; i < 5; i++) {
          int id = i;
          Flock.fork(() -> {
            Fiber.yield();
            Flock.fork(() -> done.add(100 + id));
            done.add(id);
          });
        }
        Promise<Integer> p = Flock.forkAsPromise(() -> 40);
        return p.await() + 2;
      });
      assertSame(outside, Fiber.current().computation(), "the fiber's computation is restored");
      assertEquals(42, sum);
      assertEquals(10, done.size(), "joinAfter returned only after all children, nested ones too");
      assertFalse(Flock.inFlock());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void childFailureTerminatesSiblingsAndIsRethrown(Env env) {
    env.exec(() -> {
      Mutex mutex = new Mutex();
      Condition never = new Condition();
      Channel<Integer> empty = Channel.rendezvous();
      AtomicInteger terminated = new AtomicInteger();
      IllegalArgumentException failure = new IllegalArgumentException("child failed");
      IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () -> Flock.joinAfter(() -> {
        Flock.fork(() -> {
          try {
            mutex.protect(() -> {
              never.await(mutex);
              return null;
            });
          } catch (Control.Terminate t) {
            terminated.incrementAndGet();
            throw t;
          }
        });
        Flock.fork(() -> {
          try {
            empty.receive();
          } catch (Control.Terminate t) {
            terminated.incrementAndGet();
            throw t;
          }
        });
        until("siblings wait", () -> never.queueLength() == 1 && empty.waitingReceivers() == 1);
        Flock.fork(() -> {
          throw failure;
        });
        return Control.block();
      }));
      assertSame(failure, thrown);
      assertEquals(2, terminated.get());
      assertFalse(mutex.isLocked());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void severalFailuresAreReportedInOrder(Env env) {
    env.exec(() -> {
      IllegalStateException first = new IllegalStateException("first");
      IllegalArgumentException second = new IllegalArgumentException("second");
      Control.Errors errors = assertThrows(Control.Errors.class, () -> Bundle.joinAfter(bundle -> {
        bundle.fork(() -> {
          try {
            Control.block();
          } catch (Control.Terminate t) {
            throw second;
          }
        });
        Fiber.yield();
        bundle.fork(() -> {
          throw first;
        });
        return null;
      }));
      assertEquals(List.of(first, second), errors.errors());
      assertTrue(errors.getMessage().contains("2 failures"), errors.getMessage());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void forkRules(Env env) {
    env.exec(() -> {
      Bundle[] escaped = new Bundle[1];
      Bundle.joinAfter(bundle -> escaped[0] = bundle);
      IllegalStateException late = assertThrows(IllegalStateException.class, () -> escaped[0].fork(() -> {}));
      assertTrue(late.getMessage().contains("has completed"), late.getMessage());
      AtomicBoolean ran = new AtomicBoolean();
      assertThrows(Control.Terminate.class, () -> Flock.joinAfter(() -> {
        Flock.terminate();
        Flock.fork(() -> ran.set(true));
        return null;
      }));
      assertFalse(ran.get(), "nothing is forked into a terminated flock");
      IllegalStateException outside = assertThrows(IllegalStateException.class, () -> Flock.fork(() -> {}));
      assertTrue(outside.getMessage().contains("not inside a flock"), outside.getMessage());
      assertThrows(IllegalStateException.class, Flock::terminate);
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void parentCancellationReachesTheChildren(Env env) {
    env.exec(() -> {
      AtomicInteger cleanedUp = new AtomicInteger();
      AtomicInteger started = new AtomicInteger();
      Env.Task<Void> parent = Env.fork(() -> Flock.joinAfter(() -> {
        for (int i = 0; i < 3; i++) {
          Flock.fork(() -> {
            try {
              started.incrementAndGet();
              Control.block();
            } finally {
              Control.protect(() -> {
                Control.sleep(Duration.ofMillis(5));
                return cleanedUp.incrementAndGet();
              });
            }
          });
        }
        return Control.block();
      }));
      until("children started", () -> started.get() == 3);
      CancellationException cause = new CancellationException("parent cancelled");
      parent.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, parent::join));
      assertEquals(3, cleanedUp.get(), "the join waited for the children's protected cleanup");
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void promisesTerminateSilentlyButFailLoudly(Env env) {
    env.exec(() -> {
      Flock.joinAfter(() -> {
        Promise<Integer> blocked = Flock.forkAsPromise(() -> (Integer) (Object) Control.block());
        assertTrue(blocked.isRunning());
        blocked.terminate();
        assertThrows(Control.Terminate.class, blocked::await);
        assertFalse(blocked.tryTerminate());
        Promise<Integer> slow = Flock.forkAsPromise(() -> {
          Control.sleep(Duration.ofMillis(5));
          return 7;
        });
        assertEquals(7, Event.select(slow.completed(), Event.never()));
        return null;
      });
      IllegalStateException failure = new IllegalStateException("never awaited");
      assertSame(failure, assertThrows(IllegalStateException.class, () -> Flock.joinAfter(() -> {
        Flock.forkAsPromise(() -> {
          throw failure;
        });
        return null;
      })));
      assertEquals(5, Promise.of(5).await());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void runAllAndAny(Env env) {
    env.exec(() -> {
      AtomicInteger ran = new AtomicInteger();
      Run.all(ran::incrementAndGet, ran::incrementAndGet, ran::incrementAndGet);
      assertEquals(3, ran.get());
      IllegalStateException failure = new IllegalStateException("one failed");
      assertSame(failure, assertThrows(IllegalStateException.class,
          () -> Run.all(Control::block, () -> {
            throw failure;
          })));
      AtomicBoolean winner = new AtomicBoolean();
      Run.any(Control::block, () -> winner.set(true), Control::block);
      assertTrue(winner.get());
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void terminateAfterTimesOut(Env env) {
    env.exec(() -> {
      Computation<?> before = Fiber.current().computation();
      Control.Timeout timeout = assertThrows(Control.Timeout.class,
          () -> Control.terminateAfter(Duration.ofMillis(10), Control::block));
      assertTrue(timeout.getMessage().contains("did not finish within"), timeout.getMessage());
      assertInstanceOf(Control.Terminate.class, timeout);
      assertSame(before, Fiber.current().computation());
      assertEquals(3, Control.terminateAfter(Duration.ofSeconds(30), () -> 3));
      assertSame(before, Fiber.current().computation());
      Fiber.check();
    });
  }

  @ParameterizedTest
  @EnumSource(Env.class)
  void controlBlockAndSleep(Env env) {
    env.exec(() -> {
      IllegalStateException forbidden = assertThrows(IllegalStateException.class,
          () -> Control.protect(Control::block));
      assertTrue(forbidden.getMessage().contains("cancellation is forbidden"), forbidden.getMessage());
      Env.Task<Void> sleeper = Env.fork(() -> {
        Control.sleep(Duration.ofHours(1));
        return null;
      });
      CancellationException cause = new CancellationException("wake up");
      Fiber.yield();
      sleeper.cancel(cause);
      assertSame(cause, assertThrows(CancellationException.class, sleeper::join));
      Control.sleep(Duration.ofMillis(1));
      Computation<Void> returned = Computation.returned(null);
      Fiber fiber = Fiber.current();
      Computation<?> own = fiber.setComputation(returned);
      try {
        IllegalStateException finished = assertThrows(IllegalStateException.class, Control::block);
        assertTrue(finished.getMessage().contains("finished without being cancelled"), finished.getMessage());
      } finally {
        fiber.setComputation(own);
      }
    });
  }

  @Test
  void terminateIsCheap() {
    Control.Terminate t = new Control.Terminate();
    assertEquals(0, t.getStackTrace().length);
  }
}
