package org.picos.examples;

import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.subscribers.DisposableSubscriber;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.reactive.PublisherIterator;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.sched.Schedulers;

/**
 * RxJava and Picos, both ways, printing what happens at each step:
 * <ol>
 *   <li>a Picos computation consumed as a {@code Single};</li>
 *   <li>a Picos computation consumed as a backpressured {@code Flowable}: the fiber that produces
 *       the items waits whenever the subscriber has asked for nothing more;</li>
 *   <li>cancellation both ways: {@code take(3)} cancels the producing fiber, and cancelling a
 *       fiber disposes the Rx source it awaits;</li>
 *   <li>Rx sources awaited in a fiber, and fibers on RxJava's own {@code single()} scheduler.</li>
 * </ol>
 * Run it with
 * {@code mvn -q -B -DskipTests -Dtour -Dtour.main=org.picos.examples.RxJavaExample -pl examples -am package}
 * (or any {@code java} with the flag {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}).
 */
public final class RxJavaExample {
  private RxJavaExample() {}

  public static void main(String[] args) throws Exception {
    try (Scheduler picos = Schedulers.multi(2)) {
      singleFromAFiber(picos);
      backpressuredFlowable(picos);
      cancellationBothWays(picos);
      awaitingRxInAFiber();
    }
    System.out.println("done");
  }

  private static void singleFromAFiber(Scheduler picos) {
    System.out.println("== 1. A Picos computation as a Single");
    Single<String> greeting = PicosRx.single(picos, () -> {
      // Runs in a fiber; awaiting suspends the fiber, not a thread.
      Computation<String> child = Fiber.spawn(() -> "hello from a child fiber");
      return child.await() + " (computed on " + Thread.currentThread().getName() + ")";
    });
    System.out.println("   nothing ran yet: a Single from PicosRx is cold");
    System.out.println("   blockingGet -> " + greeting.blockingGet());
  }

  private static void backpressuredFlowable(Scheduler picos) throws InterruptedException {
    System.out.println("== 2. A Picos computation as a backpressured Flowable");
    Flowable<Integer> squares = PicosRx.flowable(picos, emitter -> {
      for (int i = 1; i <= 6; i++) {
        System.out.println("   fiber: emitting " + i * i + " (waits here while there is no demand)");
        emitter.next(i * i);
      }
      System.out.println("   fiber: done, the Flowable completes");
    });
    CountDownLatch finished = new CountDownLatch(1);
    squares.subscribe(new DisposableSubscriber<Integer>() {
      private int received;

      @Override
      protected void onStart() {
        System.out.println("   subscriber: request(2)");
        request(2);
      }

      @Override
      public void onNext(Integer item) {
        System.out.println("   subscriber: received " + item);
        if (++received % 2 == 0) {
          System.out.println("   subscriber: request(2)");
          request(2);
        }
      }

      @Override
      public void onError(Throwable t) {
        System.out.println("   subscriber: failed " + t);
        finished.countDown();
      }

      @Override
      public void onComplete() {
        System.out.println("   subscriber: completed");
        finished.countDown();
      }
    });
    if (!finished.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the Flowable did not complete");
    }
  }

  private static void cancellationBothWays(Scheduler picos) throws InterruptedException {
    System.out.println("== 3. Cancellation both ways");
    CountDownLatch producerStopped = new CountDownLatch(1);
    Flowable<Long> endless = PicosRx.flowable(picos, emitter -> {
      try {
        for (long i = 0; ; i++) {
          emitter.next(i);
        }
      } catch (CancellationException e) {
        System.out.println("   fiber: cancelled by the subscriber (" + e.getMessage() + ")");
        producerStopped.countDown();
        throw e;
      }
    });
    System.out.println("   take(3) of an endless fiber Flowable -> "
        + endless.take(3).toList().blockingGet());
    if (!producerStopped.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the producing fiber was not cancelled");
    }

    CountDownLatch disposed = new CountDownLatch(1);
    Computation<Long> waiting = picos.start(() -> PicosRx.await(
        Single.<Long>never().doOnDispose(() -> {
          System.out.println("   rx: the Single the fiber awaited was disposed");
          disposed.countDown();
        })));
    waiting.cancelAfter(Duration.ofMillis(50), new CancellationException("waited long enough"));
    if (!disposed.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the awaited Single was not disposed");
    }
    try {
      waiting.await();
    } catch (CancellationException e) {
      System.out.println("   fiber: ended with its cancellation cause: " + e.getMessage());
    }
  }

  private static void awaitingRxInAFiber() {
    System.out.println("== 4. Rx sources awaited in fibers on RxJava's single() scheduler");
    try (Scheduler onRx = PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.single())) {
      String report = onRx.run(() -> {
        String thread = Thread.currentThread().getName();
        long tick = PicosRx.await(Single.timer(20, TimeUnit.MILLISECONDS));
        int sum = 0;
        try (PublisherIterator<Integer> it = PicosRx.iterate(Flowable.range(1, 100), 16)) {
          while (it.hasNext()) {
            sum += it.next();
          }
        }
        return "fiber on " + thread + " awaited a timer (" + tick + "), iterated 1..100 in batches"
            + " of 16 (sum " + sum + "), and is still on " + Thread.currentThread().getName();
      });
      System.out.println("   " + report);
    }
  }
}
