package org.picos.reactive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * The shared layer's contract on a real Picos scheduler, with its own fiber publisher and a
 * hand-driven publisher as sources: the iterator's demand, close and cancellation, the await
 * family, and the emitter's demand, fiber check, yield and cancellation.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ReactiveTest {
  private final Scheduler multi = Schedulers.multi(2);
  private final Scheduler fifo = Schedulers.fifo();
  private final List<Throwable> dropped = new CopyOnWriteArrayList<>();
  private final List<Object> discarded = new CopyOnWriteArrayList<>();
  private final Reactive reactive = Reactive.using(new ReactiveHooks() {
    @Override
    public void dropped(Throwable error, Subscriber<?> subscriber) {
      dropped.add(error);
    }

    @Override
    public void discarded(Object element, Subscriber<?> subscriber) {
      discarded.add(element);
    }
  });

  @AfterEach
  void close() {
    multi.close();
    fifo.close();
  }

  private Publisher<Integer> range(int n) {
    return reactive.publisher(null, emitter -> {
      for (int i = 0; i < n; i++) {
        emitter.next(i);
      }
    });
  }

  /** A publisher driven by hand: records requests and cancels, sends what the test says. */
  static final class Manual implements Publisher<Integer> {
    volatile Subscriber<? super Integer> subscriber;
    final AtomicLong requested = new AtomicLong();
    final AtomicInteger cancels = new AtomicInteger();

    @Override
    public void subscribe(Subscriber<? super Integer> s) {
      subscriber = s;
      s.onSubscribe(new Subscription() {
        @Override
        public void request(long n) {
          requested.addAndGet(n);
        }

        @Override
        public void cancel() {
          cancels.incrementAndGet();
        }
      });
    }
  }

  // ---------------------------------------------------------------------------------------
  // Iterator

  @Test
  void iteratesEveryElementInOrderWithBoundedDemand() {
    Manual m = new Manual();
    try (PublisherIterator<Integer> it = reactive.iterate(m, 8)) {
      assertEquals(8, m.requested.get(), "first request is the prefetch");
      for (int i = 0; i < 8; i++) {
        m.subscriber.onNext(i);
      }
      for (int i = 0; i < 5; i++) {
        assertEquals(i, it.next());
      }
      assertEquals(8, m.requested.get(), "no request before a batch of 6 is taken");
      assertEquals(5, it.next());
      assertEquals(14, m.requested.get(), "a batch of prefetch - prefetch/4 = 6 more");
      m.subscriber.onComplete();
      List<Integer> rest = new ArrayList<>();
      it.forEachRemaining(rest::add);
      assertEquals(List.of(6, 7), rest);
      assertFalse(it.hasNext());
    }
  }

  @Test
  void secondIteratorCallThrows() {
    try (PublisherIterator<Integer> it = reactive.iterate(range(3), 2)) {
      assertSame(it, it.iterator());
      IllegalStateException e = assertThrows(IllegalStateException.class, it::iterator);
      assertTrue(e.getMessage().contains("iterated once"), e.getMessage());
    }
  }

  @Test
  void fiberPublisherIteratedInAFiberEndsWithEveryElement() {
    List<Integer> seen = multi.run(() -> {
      List<Integer> out = new ArrayList<>();
      try (PublisherIterator<Integer> it = reactive.iterate(range(1000), 16)) {
        for (int i : it) {
          out.add(i);
        }
      }
      return out;
    });
    assertEquals(1000, seen.size());
    for (int i = 0; i < 1000; i++) {
      assertEquals(i, seen.get(i));
    }
  }

  @Test
  void closeFromAnotherThreadWakesTheWaitingFiber() throws Exception {
    Manual m = new Manual();
    PublisherIterator<Integer> it = reactive.iterate(m, 4);
    Computation<Boolean> answer = Schedulers.start(multi, it::hasNext);
    Thread.sleep(50);
    assertTrue(answer.isRunning());
    it.close();
    assertFalse(answer.await());
    assertEquals(1, m.cancels.get());
    it.close();
    assertEquals(1, m.cancels.get(), "close is idempotent");
    m.subscriber.onNext(9);
    assertEquals(List.of(9), discarded, "an element after the close goes to the discard hook");
    assertThrows(NoSuchElementException.class, it::next);
  }

  @Test
  void cancellingTheIteratingFiberCancelsTheSubscription() throws Exception {
    Manual m = new Manual();
    PublisherIterator<Integer> it = reactive.iterate(m, 4);
    Computation<Boolean> answer = Schedulers.start(multi, it::hasNext);
    Thread.sleep(50);
    CancellationException cause = new CancellationException("stop iterating");
    answer.tryCancel(cause);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (m.cancels.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertEquals(1, m.cancels.get());
    assertFalse(it.hasNext());
  }

  @Test
  void errorIsThrownOnceAfterTheElementsBeforeItAndAnUnreachedOneIsDropped() {
    Manual m = new Manual();
    PublisherIterator<Integer> it = reactive.iterate(m, 4);
    m.subscriber.onNext(1);
    IllegalStateException boom = new IllegalStateException("boom");
    m.subscriber.onError(boom);
    assertEquals(1, it.next());
    assertSame(boom, assertThrows(IllegalStateException.class, it::hasNext));
    assertFalse(it.hasNext());
    assertTrue(dropped.isEmpty());

    Manual m2 = new Manual();
    PublisherIterator<Integer> it2 = reactive.iterate(m2, 4);
    IllegalStateException unreached = new IllegalStateException("unreached");
    m2.subscriber.onError(unreached);
    it2.close();
    assertEquals(List.of(unreached), dropped);
  }

  // ---------------------------------------------------------------------------------------
  // Await family

  @Test
  void awaitFamilyOnElements() {
    assertEquals(0, (int) multi.run(() -> reactive.awaitFirst(range(5))));
    assertEquals(4, (int) multi.run(() -> reactive.awaitLast(range(5))));
    assertEquals(0, (int) multi.run(() -> reactive.awaitSingle(range(1))));
    assertEquals(0, (int) reactive.awaitFirstOrNull(range(5)), "a plain thread blocks");
    assertEquals(4, (int) reactive.awaitLastOrDefault(range(5), -1));
    assertEquals(0, (int) reactive.awaitSingleOrNull(range(1)));
  }

  @Test
  void awaitFamilyOnEmpty() {
    Publisher<Integer> empty = range(0);
    for (String verb : List.of("awaitFirst", "awaitLast", "awaitSingle")) {
      NoSuchElementException e = assertThrows(NoSuchElementException.class, () -> multi.run(() ->
          verb.equals("awaitFirst") ? reactive.awaitFirst(empty)
              : verb.equals("awaitLast") ? reactive.awaitLast(empty) : reactive.awaitSingle(empty)));
      assertTrue(e.getMessage().startsWith(verb), e.getMessage());
    }
    assertNull(reactive.awaitFirstOrNull(empty));
    assertNull(reactive.awaitLastOrNull(empty));
    assertNull(reactive.awaitSingleOrNull(empty));
    assertEquals(7, reactive.awaitFirstOrDefault(empty, 7));
    assertEquals(7, reactive.awaitLastOrDefault(empty, 7));
    assertEquals(7, reactive.awaitSingleOrDefault(empty, 7));
  }

  @Test
  void awaitSingleOnTwoElementsFailsAndCancels() {
    Manual m = new Manual();
    Computation<Integer> c = Schedulers.start(multi, () -> reactive.awaitSingleOrNull(m));
    while (m.requested.get() == 0) {
      Thread.onSpinWait();
    }
    m.subscriber.onNext(1);
    m.subscriber.onNext(2);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, c::await);
    assertTrue(e.getMessage().contains("more than one element"), e.getMessage());
    assertEquals(1, m.cancels.get());
    m.subscriber.onComplete(); // ignored
  }

  @Test
  void awaitFirstCancelsAfterTheFirstAndRequestsOne() {
    Manual m = new Manual();
    Computation<Integer> c = Schedulers.start(multi, () -> reactive.awaitFirst(m));
    while (m.requested.get() == 0) {
      Thread.onSpinWait();
    }
    assertEquals(1, m.requested.get());
    m.subscriber.onNext(5);
    assertEquals(5, c.await());
    assertEquals(1, m.cancels.get());
  }

  @Test
  void cancellingTheAwaitingFiberCancelsTheSubscriptionAndLaterSignalsAreIgnored()
      throws Exception {
    Manual m = new Manual();
    Computation<Integer> c = Schedulers.start(multi, () -> reactive.awaitLast(m));
    while (m.requested.get() == 0) {
      Thread.onSpinWait();
    }
    CancellationException cause = new CancellationException("give up");
    c.tryCancel(cause);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (m.cancels.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertEquals(1, m.cancels.get());
    m.subscriber.onNext(1);
    m.subscriber.onComplete();
    assertSame(cause, assertThrows(CancellationException.class, c::await));
    IllegalStateException late = new IllegalStateException("late");
    m.subscriber.onError(late);
    assertEquals(List.of(late), dropped, "a late error is reported, never lost");
  }

  // ---------------------------------------------------------------------------------------
  // Emitter

  /** A subscriber that requests by hand and records what it gets. */
  static class Recorder implements Subscriber<Integer> {
    volatile Subscription subscription;
    final List<Integer> items = new CopyOnWriteArrayList<>();
    final Computation<Void> done = Computation.create();

    @Override
    public void onSubscribe(Subscription s) {
      subscription = s;
    }

    @Override
    public void onNext(Integer item) {
      items.add(item);
    }

    @Override
    public void onError(Throwable error) {
      done.tryCancel(error);
    }

    @Override
    public void onComplete() {
      done.tryReturn(null);
    }
  }

  @Test
  void nextSuspendsWithoutDemandAndTheBodyReturningCompletes() throws Exception {
    AtomicInteger sent = new AtomicInteger();
    Publisher<Integer> p = reactive.publisher(multi, emitter -> {
      for (int i = 0; i < 5; i++) {
        emitter.next(i);
        sent.incrementAndGet();
      }
    });
    Recorder r = new Recorder();
    p.subscribe(r);
    r.subscription.request(2);
    Thread.sleep(100);
    assertEquals(List.of(0, 1), r.items);
    assertEquals(2, sent.get(), "the third next waits for demand");
    r.subscription.request(10);
    r.done.await();
    assertEquals(List.of(0, 1, 2, 3, 4), r.items);
  }

  @Test
  void aThrowErrorsTheStreamWithTheSameException() {
    Exception failure = new Exception("checked");
    Recorder r = new Recorder();
    reactive.<Integer>publisher(multi, emitter -> {
      emitter.next(1);
      throw failure;
    }).subscribe(r);
    r.subscription.request(1);
    Exception e = assertThrows(Exception.class, r.done::await);
    assertSame(failure, e.getCause());
    assertEquals(List.of(1), r.items);
  }

  @Test
  void downstreamCancelCancelsTheFiberAndTheItemIsDiscarded() {
    Computation<Throwable> seen = Computation.create();
    Recorder r = new Recorder();
    reactive.<Integer>publisher(multi, emitter -> {
      try {
        emitter.next(1);
        emitter.next(2);
      } catch (CancellationException e) {
        seen.tryReturn(e);
        assertTrue(emitter.isCancelled());
        throw e;
      }
    }).subscribe(r);
    r.subscription.request(1);
    while (r.items.isEmpty()) {
      Thread.onSpinWait();
    }
    r.subscription.cancel();
    Throwable e = seen.await();
    assertTrue(e.getMessage().contains("cancelled its subscription"), e.getMessage());
    assertEquals(List.of(2), discarded);
    assertTrue(dropped.isEmpty(), "the cancellation unwinding is no error");
    assertTrue(r.done.isRunning(), "no terminal signal after a cancel");
  }

  @Test
  void badRequestCancelsTheBodyAndErrorsWithIllegalArgument() {
    Computation<Throwable> bodySaw = Computation.create();
    Recorder r = new Recorder();
    reactive.<Integer>publisher(multi, emitter -> {
      try {
        emitter.next(1);
      } catch (CancellationException e) {
        bodySaw.tryReturn(e);
        throw e;
      }
    }).subscribe(r);
    r.subscription.request(0);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r.done::await);
    assertTrue(e.getMessage().contains("rule 3.9"), e.getMessage());
    assertTrue(bodySaw.await().getMessage().contains("rule 3.9"));
  }

  @Test
  void nextFromAnotherFiberIsRefused() {
    Computation<Emitter<Integer>> escaped = Computation.create();
    Computation<Void> release = Computation.create();
    Recorder r = new Recorder();
    reactive.<Integer>publisher(multi, emitter -> {
      escaped.tryReturn(emitter);
      release.await();
    }).subscribe(r);
    Emitter<Integer> e = escaped.await();
    IllegalStateException fromThread = assertThrows(IllegalStateException.class, () -> e.next(1));
    assertTrue(fromThread.getMessage().contains("fiber running the body"));
    assertThrows(IllegalStateException.class, () -> multi.run(() -> {
      e.next(1);
      return null;
    }));
    release.tryReturn(null);
    r.done.await();
    assertTrue(r.items.isEmpty());
  }

  @Test
  void aLongStreamYieldsToOtherFibersEvery128Items() {
    List<String> order = fifo.run(() -> {
      List<String> log = new CopyOnWriteArrayList<>();
      Recorder r = new Recorder() {
        @Override
        public void onNext(Integer item) {
          super.onNext(item);
          log.add("item " + item);
        }
      };
      reactive.<Integer>publisher(null, emitter -> {
        for (int i = 0; i < 300; i++) {
          emitter.next(i);
        }
      }).subscribe(r);
      r.subscription.request(Long.MAX_VALUE);
      Fiber.spawn(() -> log.add("other fiber"));
      r.done.await();
      return log;
    });
    int other = order.indexOf("other fiber");
    assertTrue(other > 0 && other <= 128 + 1, "the other fiber ran by the first yield: " + other);
    assertEquals(301, order.size());
  }
}
