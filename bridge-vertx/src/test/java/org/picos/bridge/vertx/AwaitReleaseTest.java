package org.picos.bridge.vertx;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;

/**
 * {@link PicosVertx#await(Future, java.util.function.Consumer)}: what a cancelled wait on a
 * Vert.x future leaves behind goes to the release action, exactly once, and nothing the fiber
 * returns is released.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class AwaitReleaseTest {
  private Vertx vertx;
  private Context context;
  private Scheduler scheduler;
  private final ConcurrentLinkedQueue<String> released = new ConcurrentLinkedQueue<>();

  @BeforeEach
  void startVertx() {
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    context = vertx.getOrCreateContext();
    scheduler = PicosVertx.newScheduler(context);
  }

  @AfterEach
  void closeVertx() throws Exception {
    scheduler.close();
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /**
   * Starts a fiber on the context awaiting {@code future} with {@code release}, and returns once
   * it is suspended in that await: it sets a flag in the same slice of the loop as it starts
   * waiting, so a task queued on the loop after the flag was seen runs once that slice ended.
   */
  private Computation<String> suspendedIn(Future<String> future, Consumer<String> release) throws Exception {
    AtomicBoolean waiting = new AtomicBoolean();
    Computation<String> fiber = scheduler.start(() -> {
      waiting.set(true);
      return PicosVertx.await(future, release);
    });
    PicosVertxTest.until(waiting::get);
    CompletableFuture<Void> barrier = new CompletableFuture<>();
    context.runOnContext(ignored -> barrier.complete(null));
    barrier.get(10, TimeUnit.SECONDS);
    return fiber;
  }

  /** A fiber suspended in {@code await(future, release)}, then cancelled: it ends with the cause. */
  private void cancelledWhileAwaiting(Future<String> future, Consumer<String> release) throws Exception {
    Computation<String> fiber = suspendedIn(future, release);
    CancellationException cause = new CancellationException("the request timed out");
    fiber.tryCancel(cause);
    assertSame(cause, assertThrows(CancellationException.class, fiber::await));
  }

  @Test
  void aValueArrivingAfterTheFiberWasCancelledIsReleasedExactlyOnce() throws Exception {
    Promise<String> connection = Promise.promise();
    cancelledWhileAwaiting(connection.future(), released::add);
    assertTrue(released.isEmpty(), "released before it arrived");
    connection.complete("connection-1");
    PicosVertxTest.until(() -> !released.isEmpty());
    assertEquals(List.of("connection-1"), List.copyOf(released));
    // Still released once when the fiber is long gone and the scheduler goes on.
    assertEquals("next", scheduler.run(() -> PicosVertx.await(PicosVertxTest.completeElsewhere("next"), released::add)));
    assertEquals(List.of("connection-1"), List.copyOf(released));
  }

  @Test
  void aValueArrivingBeforeIsReturnedAndNeverReleased() throws Exception {
    assertEquals("connection-2", scheduler.run(() ->
        PicosVertx.await(PicosVertxTest.completeElsewhere("connection-2"), released::add)));
    assertEquals("at once", scheduler.run(() -> PicosVertx.await(Future.succeededFuture("at once"), released::add)));
    assertTrue(released.isEmpty(), "released " + released);
  }

  @Test
  void aValueThatArrivedAsTheFiberWasCancelledIsReleasedByTheFiber() throws Exception {
    Promise<String> connection = Promise.promise();
    Computation<String> fiber = suspendedIn(connection.future(), released::add);
    CancellationException cause = new CancellationException("cancelled as it arrived");
    // One event-loop task does both, so the fiber (on that loop) resumes only after both: the
    // cancellation wins, as in every Picos wait, and the value must not be lost.
    context.runOnContext(ignored -> {
      connection.complete("connection-3");
      fiber.tryCancel(cause);
    });
    assertSame(cause, assertThrows(CancellationException.class, fiber::await));
    PicosVertxTest.until(() -> !released.isEmpty());
    assertEquals(List.of("connection-3"), List.copyOf(released));
  }

  @Test
  void aFailureAfterTheCancellationReleasesNothing() throws Exception {
    Promise<String> connection = Promise.promise();
    cancelledWhileAwaiting(connection.future(), released::add);
    connection.fail(new IllegalStateException("no connection"));
    assertTrue(released.isEmpty(), "released " + released);
  }

  @Test
  void aReleaseThatThrowsIsReportedToTheFibersContext() throws Exception {
    CompletableFuture<Throwable> reported = new CompletableFuture<>();
    context.exceptionHandler(reported::complete);
    IllegalStateException broken = new IllegalStateException("close failed");
    Promise<String> connection = Promise.promise();
    cancelledWhileAwaiting(connection.future(), value -> {
      throw broken;
    });
    connection.complete("connection-4");
    assertSame(broken, reported.get(10, TimeUnit.SECONDS));
  }

  /**
   * The fiber's cancellation and the value's arrival raced, thousands of times: every value is
   * either returned by the fiber or released, never both, never neither, never twice.
   */
  @Test
  void cancellationRacingTheValueHandsEachValueToExactlyOneOwner() throws Exception {
    int rounds = 2000;
    for (int round = 0; round < rounds; round++) {
      String value = "value-" + round;
      Promise<String> promise = Promise.promise();
      Computation<Void> token = Computation.create();
      Computation<String> result = Computation.create();
      scheduler.spawn(Fiber.create(false, token),
          () -> result.tryCapture(() -> PicosVertx.await(promise.future(), released::add)));
      CancellationException cause = new CancellationException("round " + round);
      boolean cancelFirst = ThreadLocalRandom.current().nextBoolean();
      spin(ThreadLocalRandom.current().nextInt(30_000));
      if (cancelFirst) {
        token.tryCancel(cause);
      } else {
        promise.complete(value);
      }
      spin(ThreadLocalRandom.current().nextInt(30_000));
      if (cancelFirst) {
        promise.complete(value);
      } else {
        token.tryCancel(cause);
      }
      long releases;
      try {
        assertEquals(value, result.await());
        releases = 0;
      } catch (CancellationException e) {
        assertSame(cause, e);
        releases = 1;
      }
      assertEquals(releases, released.stream().filter(value::equals).count(), value + " released " + released);
      released.clear();
    }
  }

  private static void spin(long nanos) {
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      Thread.onSpinWait();
    }
  }

  @Test
  void nullsAreRefused() {
    assertEquals("future", assertThrows(NullPointerException.class, () -> PicosVertx.await(null, value -> {})).getMessage());
    assertEquals("release", assertThrows(NullPointerException.class,
        () -> PicosVertx.await(Future.succeededFuture("x"), null)).getMessage());
  }
}
