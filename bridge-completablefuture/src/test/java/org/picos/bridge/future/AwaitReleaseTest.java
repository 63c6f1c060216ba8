package org.picos.bridge.future;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;

/**
 * {@link PicosFutures#await(CompletionStage, java.util.function.Consumer)}: a value that a
 * cancelled wait leaves behind goes to the release action exactly once; what the fiber returns
 * is never released.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class AwaitReleaseTest {
  private final ExecutorService carrier = Executors.newSingleThreadExecutor(
      r -> Thread.ofPlatform().daemon().name("cf-release-carrier").unstarted(r));
  private final Scheduler scheduler = PicosFutures.newScheduler(carrier);
  private final ConcurrentLinkedQueue<String> released = new ConcurrentLinkedQueue<>();

  @AfterEach
  void stop() throws InterruptedException {
    scheduler.close();
    carrier.shutdown();
    assertTrue(carrier.awaitTermination(10, TimeUnit.SECONDS));
  }

  /** Waits until the fiber has registered its callback on {@code source}. */
  private static void awaitDependent(CompletableFuture<?> source) throws InterruptedException {
    for (int i = 0; i < 10_000 && source.getNumberOfDependents() == 0; i++) {
      Thread.sleep(1);
    }
    assertTrue(source.getNumberOfDependents() > 0, "nobody awaited the stage");
  }

  @Test
  void aValueAStageThatCannotBeCancelledDeliversAfterTheCancellationIsReleasedExactlyOnce()
      throws Exception {
    CompletableFuture<String> source = new CompletableFuture<>();
    CompletionStage<String> readOnly = source.minimalCompletionStage();
    Computation<String> fiber = scheduler.start(() -> PicosFutures.await(readOnly, released::add));
    awaitDependent(source);
    CancellationException cause = new CancellationException("the caller gave up");
    fiber.tryCancel(cause);
    assertSame(cause, assertThrows(CancellationException.class, fiber::await));
    scheduler.run(() -> null); // the cancelled fiber has unwound on the one carrier before this ran
    assertTrue(released.isEmpty(), "released before it arrived: " + released);
    assertTrue(source.complete("lease-1"), "the source was cancelled, though read-only");
    assertEquals(List.of("lease-1"), List.copyOf(released));
  }

  @Test
  void aCancelledCompletableFutureDeliversNothingToRelease() throws Exception {
    CompletableFuture<String> future = new CompletableFuture<>();
    Computation<String> fiber = scheduler.start(() -> PicosFutures.await(future, released::add));
    awaitDependent(future);
    fiber.tryCancel(new CancellationException("stop"));
    assertThrows(CancellationException.class, fiber::await);
    scheduler.run(() -> null);
    assertTrue(future.isCancelled());
    assertFalse(future.complete("too late"), "the producer is told its value was not taken");
    assertTrue(released.isEmpty(), "released " + released);
  }

  @Test
  void aValueArrivingBeforeIsReturnedAndNeverReleased() {
    CompletableFuture<String> later = CompletableFuture.supplyAsync(() -> "lease-2",
        CompletableFuture.delayedExecutor(5, TimeUnit.MILLISECONDS));
    assertEquals("lease-2", scheduler.run(() -> PicosFutures.await(later.minimalCompletionStage(), released::add)));
    assertEquals("done", scheduler.run(() -> PicosFutures.await(CompletableFuture.completedFuture("done"), released::add)));
    assertTrue(released.isEmpty(), "released " + released);
  }

  @Test
  void aValueThatArrivedAsTheFiberWasCancelledIsReleasedByTheFiber() throws Exception {
    CompletableFuture<String> source = new CompletableFuture<>();
    Computation<String> fiber = scheduler.start(() -> PicosFutures.await(source.minimalCompletionStage(), released::add));
    awaitDependent(source);
    CancellationException cause = new CancellationException("cancelled as it arrived");
    // One task of the fiber's only carrier does both, so the fiber resumes after both: the
    // cancellation wins, as in every Picos wait, and the value must not be lost.
    carrier.execute(() -> {
      source.complete("lease-3");
      fiber.tryCancel(cause);
    });
    assertSame(cause, assertThrows(CancellationException.class, fiber::await));
    scheduler.run(() -> null);
    assertEquals(List.of("lease-3"), List.copyOf(released));
  }

  @Test
  void aReleaseThatThrowsIsReportedOnTheThreadThatRanIt() throws Exception {
    CompletableFuture<Throwable> reported = new CompletableFuture<>();
    IllegalStateException broken = new IllegalStateException("close failed");
    CompletableFuture<String> source = new CompletableFuture<>();
    Computation<String> fiber = scheduler.start(() -> PicosFutures.await(source.minimalCompletionStage(), value -> {
      throw broken;
    }));
    awaitDependent(source);
    fiber.tryCancel(new CancellationException("stop"));
    assertThrows(CancellationException.class, fiber::await);
    scheduler.run(() -> null);
    Thread completer = Thread.ofPlatform().name("cf-completer").unstarted(() -> source.complete("lease-4"));
    completer.setUncaughtExceptionHandler((thread, e) -> reported.complete(e));
    completer.start();
    assertSame(broken, reported.get(10, TimeUnit.SECONDS));
  }

  /**
   * The fiber's cancellation raced the value's arrival, thousands of times, on a stage that
   * cannot be cancelled: each value is returned by the fiber or released, exactly once.
   */
  @Test
  void cancellationRacingTheValueGivesEachValueExactlyOneOwner() {
    for (int round = 0; round < 2000; round++) {
      String value = "lease-" + round;
      CompletableFuture<String> source = new CompletableFuture<>();
      Computation<Void> token = Computation.create();
      Computation<String> result = Computation.create();
      scheduler.spawn(Fiber.create(false, token),
          () -> result.tryCapture(() -> PicosFutures.await(source.minimalCompletionStage(), released::add)));
      CancellationException cause = new CancellationException("round " + round);
      Runnable complete = () -> source.complete(value);
      Runnable cancel = () -> token.tryCancel(cause);
      boolean completeFirst = ThreadLocalRandom.current().nextBoolean();
      busy(ThreadLocalRandom.current().nextInt(30_000));
      (completeFirst ? complete : cancel).run();
      busy(ThreadLocalRandom.current().nextInt(30_000));
      (completeFirst ? cancel : complete).run();
      int expectedReleases;
      try {
        assertEquals(value, result.await());
        expectedReleases = 0;
      } catch (CancellationException e) {
        assertSame(cause, e);
        expectedReleases = 1;
      }
      assertEquals(expectedReleases, released.stream().filter(value::equals).count(), value + ": released " + released);
      released.clear();
    }
  }

  private static void busy(long nanos) {
    for (long end = System.nanoTime() + nanos; System.nanoTime() - end < 0; ) {
      Thread.onSpinWait();
    }
  }

  @Test
  void nullsAreRefusedWithMessagesNamingTheArgument() {
    assertEquals("PicosFutures.await: stage must not be null",
        assertThrows(NullPointerException.class, () -> PicosFutures.await(null, value -> {})).getMessage());
    assertEquals("PicosFutures.await: release must not be null",
        assertThrows(NullPointerException.class,
            () -> PicosFutures.await(CompletableFuture.completedFuture("x"), null)).getMessage());
  }
}
