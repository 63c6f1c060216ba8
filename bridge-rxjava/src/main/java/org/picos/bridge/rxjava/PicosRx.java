package org.picos.bridge.rxjava;

import io.reactivex.rxjava3.core.BackpressureStrategy;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Flowable;
import io.reactivex.rxjava3.core.Maybe;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.functions.Cancellable;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.reactive.Emitter;
import org.picos.reactive.PublisherIterator;
import org.picos.reactive.Reactive;
import org.picos.reactive.ReactiveHooks;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;
import org.picos.spi.HostCache;
import org.picos.spi.SharedScheduler;

/**
 * RxJava 3 and Picos, both ways: the facade of the {@code bridge-rxjava} module.
 *
 * <h2>Picos work as Rx sources</h2>
 * {@link #single}, {@link #maybe}, {@link #completable}, {@link #flowable} and
 * {@link #observable} are <em>cold</em>: each subscription starts one fiber, which runs the
 * callable or body. The fiber runs on the Picos scheduler given, else (subscribed from inside a
 * fiber) on the subscribing fiber's scheduler, else on {@link Schedulers#shared()}. Disposing
 * (cancelling) the subscription cancels the fiber's computation with a
 * {@link CancellationException}: the fiber is woken wherever it awaits and unwinds. A failure
 * reaches the subscriber as the very exception thrown (checked ones too). A failure that
 * nobody can receive any more (the body failed after the subscriber disposed) goes to
 * {@link RxJavaPlugins#onError}, exactly once (never also to the carrier thread's
 * uncaught-exception handler), so it is never lost; the cancellation cause itself (or a failure
 * caused by it), rethrown by the body as it unwinds, is expected and dropped. A subscriber that
 * disposes in {@code onSubscribe} starts no fiber. A value produced after the dispose is
 * dropped, as RxJava's own {@code create()} emitters drop it: RxJava has no hook for values.
 *
 * <h2>Rx sources awaited in a fiber</h2>
 * {@link #await(Single)}, {@link #await(Maybe)}, {@link #await(Completable)},
 * {@link #awaitFirst(Flowable)}, {@link #awaitLast(Flowable)} (and the {@code Observable}
 * forms) and {@link #iterate} subscribe and suspend the calling fiber until the answer arrives,
 * leaving its carrier thread free. Cancelling the fiber disposes the subscription and throws the
 * fiber's cancellation cause. Outside any fiber they block the calling thread, like
 * {@code blockingGet()}, except that interrupts do not end the wait (cancel instead) and a
 * thread that must not block (an event loop with a Picos blocking guard) gets an
 * {@link IllegalStateException}. Failures are rethrown as Picos does: a
 * {@link RuntimeException} or {@link Error} as the same object, a checked exception wrapped in a
 * {@link java.util.concurrent.CompletionException} whose cause is the original.
 *
 * <h2>Schedulers</h2>
 * {@link #scheduler(io.reactivex.rxjava3.core.Scheduler)} runs fibers on an Rx scheduler;
 * {@link #asRxScheduler(Scheduler)} lets Rx operators ({@code observeOn}, {@code subscribeOn},
 * {@code interval}, ...) run their tasks in fibers of a Picos scheduler.
 *
 * <h2>Never from inside a fiber</h2>
 * {@code blockingGet()}, {@code blockingFirst()} and friends block the fiber's carrier thread
 * (and deadlock a single-threaded scheduler whose fiber they wait for): inside a fiber use the
 * {@code await} methods of this class.
 */
public final class PicosRx {
  /**
   * An {@link Emitter} yields its fiber to the scheduler after this many consecutive items
   * emitted without suspending, so that a fast body leaves the scheduler's other fibers their
   * turn.
   */
  public static final int YIELD_EVERY = Reactive.YIELD_EVERY;

  private PicosRx() {}

  // ---------------------------------------------------------------------------------------
  // Picos work as Single, Maybe, Completable

  /**
   * A cold {@link Single}: each subscription calls {@code callable} in a new fiber (on the
   * subscribing fiber's scheduler, or {@link Schedulers#shared()} from a plain thread) and emits
   * its value or the exception it threw. Disposing cancels the fiber.
   *
   * <p>A callable that returns {@code null} fails the Single with a
   * {@link NullPointerException}: use {@link #maybe(Callable)} for a value that may be absent.
   *
   * @param <T> the type of the value
   * @param callable what the fiber computes
   * @return the cold Single
   * @throws NullPointerException if {@code callable} is null
   */
  public static <T> Single<T> single(Callable<? extends T> callable) {
    return singleOn(null, callable);
  }

  /**
   * Like {@link #single(Callable)}, with each subscription's fiber on {@code scheduler}. If the
   * scheduler is closed, the subscriber gets its {@link org.picos.SchedulerClosedException}.
   *
   * @param <T> the type of the value
   * @param scheduler the Picos scheduler the fiber runs on
   * @param callable what the fiber computes
   * @return the cold Single
   * @throws NullPointerException if an argument is null
   */
  public static <T> Single<T> single(Scheduler scheduler, Callable<? extends T> callable) {
    return singleOn(Objects.requireNonNull(scheduler, "scheduler"), callable);
  }

  private static <T> Single<T> singleOn(Scheduler scheduler, Callable<? extends T> callable) {
    Objects.requireNonNull(callable, "callable");
    return Single.create(emitter -> callInFiber(scheduler, "Single", callable,
        emitter::setCancellable,
        value -> {
          if (value == null) {
            emitter.onError(new NullPointerException("PicosRx.single: the callable returned null,"
                + " which a Single cannot emit; use PicosRx.maybe for a value that may be absent"));
          } else {
            emitter.onSuccess(value);
          }
        },
        emitter::tryOnError));
  }

  /**
   * A cold {@link Maybe}: each subscription calls {@code callable} in a new fiber and emits its
   * value, completes empty if it returned {@code null}, or fails with what it threw. Disposing
   * cancels the fiber. Runs where {@link #single(Callable)} runs.
   *
   * @param <T> the type of the value
   * @param callable what the fiber computes; null completes the Maybe empty
   * @return the cold Maybe
   * @throws NullPointerException if {@code callable} is null
   */
  public static <T> Maybe<T> maybe(Callable<? extends T> callable) {
    return maybeOn(null, callable);
  }

  /**
   * Like {@link #maybe(Callable)}, with each subscription's fiber on {@code scheduler}.
   *
   * @param <T> the type of the value
   * @param scheduler the Picos scheduler the fiber runs on
   * @param callable what the fiber computes; null completes the Maybe empty
   * @return the cold Maybe
   * @throws NullPointerException if an argument is null
   */
  public static <T> Maybe<T> maybe(Scheduler scheduler, Callable<? extends T> callable) {
    return maybeOn(Objects.requireNonNull(scheduler, "scheduler"), callable);
  }

  private static <T> Maybe<T> maybeOn(Scheduler scheduler, Callable<? extends T> callable) {
    Objects.requireNonNull(callable, "callable");
    return Maybe.create(emitter -> callInFiber(scheduler, "Maybe", callable,
        emitter::setCancellable,
        value -> {
          if (value == null) {
            emitter.onComplete();
          } else {
            emitter.onSuccess(value);
          }
        },
        emitter::tryOnError));
  }

  /**
   * A cold {@link Completable}: each subscription runs {@code action} in a new fiber and
   * completes when it returns, or fails with what it threw. Disposing cancels the fiber. Runs
   * where {@link #single(Callable)} runs.
   *
   * @param action what the fiber runs
   * @return the cold Completable
   * @throws NullPointerException if {@code action} is null
   */
  public static Completable completable(Runnable action) {
    Objects.requireNonNull(action, "action");
    return completableOn(null, Executors.callable(action));
  }

  /**
   * A cold {@link Completable} from a callable whose value is ignored (so the body may throw
   * checked exceptions, which reach the subscriber as they are).
   *
   * @param callable what the fiber runs; its value is ignored
   * @return the cold Completable
   * @throws NullPointerException if {@code callable} is null
   */
  public static Completable completable(Callable<?> callable) {
    return completableOn(null, callable);
  }

  /**
   * Like {@link #completable(Runnable)}, with each subscription's fiber on {@code scheduler}.
   *
   * @param scheduler the Picos scheduler the fiber runs on
   * @param action what the fiber runs
   * @return the cold Completable
   * @throws NullPointerException if an argument is null
   */
  public static Completable completable(Scheduler scheduler, Runnable action) {
    Objects.requireNonNull(action, "action");
    return completableOn(Objects.requireNonNull(scheduler, "scheduler"), Executors.callable(action));
  }

  /**
   * Like {@link #completable(Callable)}, with each subscription's fiber on {@code scheduler}.
   *
   * @param scheduler the Picos scheduler the fiber runs on
   * @param callable what the fiber runs; its value is ignored
   * @return the cold Completable
   * @throws NullPointerException if an argument is null
   */
  public static Completable completable(Scheduler scheduler, Callable<?> callable) {
    return completableOn(Objects.requireNonNull(scheduler, "scheduler"), callable);
  }

  private static Completable completableOn(Scheduler scheduler, Callable<?> callable) {
    Objects.requireNonNull(callable, "callable");
    return Completable.create(emitter -> callInFiber(scheduler, "Completable", callable,
        emitter::setCancellable, value -> emitter.onComplete(), emitter::tryOnError));
  }

  /**
   * The heart of the one-value sources: called on the subscribing thread after Rx has called
   * {@code onSubscribe}. Creates the fiber's cancellation token, lets disposal cancel it, and
   * starts a fiber that calls {@code callable} and hands its value to {@code onValue} or its
   * failure to {@code tryOnError} (which answers false once the subscriber has disposed).
   */
  private static <T> void callInFiber(Scheduler scheduler, String what, Callable<? extends T> callable,
      Consumer<Cancellable> setCancellable, Consumer<? super T> onValue,
      Predicate<Throwable> tryOnError) {
    Computation<Void> token = Computation.create();
    setCancellable.accept(() -> token.tryCancel(disposed(what)));
    if (token.isCanceled()) {
      return;
    }
    Runnable body = () -> {
      T value;
      try {
        value = callable.call();
      } catch (Throwable failure) {
        fail(token, failure, tryOnError);
        return;
      }
      try {
        onValue.accept(value);
      } catch (Throwable subscriberFailure) {
        RxJavaPlugins.onError(subscriberFailure);
      }
    };
    try {
      launch(scheduler, token, body);
    } catch (Throwable notStarted) {
      fail(token, notStarted, tryOnError);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Picos work as Flowable and Observable

  /**
   * A cold, backpressured {@link Flowable} produced by {@code body} in a fiber, one per
   * subscription (on the subscribing fiber's scheduler, or {@link Schedulers#shared()} from a
   * plain thread). The body emits through a {@link Emitter} whose
   * {@link Emitter#next next} suspends the fiber while the subscriber has no outstanding
   * demand, so no more items are produced than requested and nothing is buffered. The stream
   * completes when the body returns and fails with what it throws. Cancelling the subscription
   * cancels the fiber. Satisfies the Reactive Streams rules (checked by the TCK); a
   * {@code request(n)} with {@code n <= 0} cancels the body and fails the stream with an
   * {@link IllegalArgumentException} (rule 3.9).
   *
   * @param <T> the type of the items
   * @param body what the fiber runs, emitting through its Emitter
   * @return the cold Flowable
   * @throws NullPointerException if {@code body} is null
   */
  public static <T> Flowable<T> flowable(Emitter.Body<T> body) {
    return flowableOn(null, body);
  }

  /**
   * Like {@link #flowable(Emitter.Body)}, with each subscription's fiber on
   * {@code scheduler}.
   *
   * @param <T> the type of the items
   * @param scheduler the Picos scheduler the fiber runs on
   * @param body what the fiber runs, emitting through its Emitter
   * @return the cold Flowable
   * @throws NullPointerException if an argument is null
   */
  public static <T> Flowable<T> flowable(Scheduler scheduler, Emitter.Body<T> body) {
    return flowableOn(Objects.requireNonNull(scheduler, "scheduler"), body);
  }

  /**
   * A cold {@link Observable} produced by {@code body} in a fiber, one per subscription.
   *
   * <p>An Observable has no backpressure: {@link Emitter#next next} never waits for the
   * observer, so a fast body can flood a slow asynchronous consumer (an {@code observeOn}
   * buffers without bound). Use {@link #flowable} when the consumer must set the pace. To keep
   * a long stream bounded in its effect on the scheduler, {@code next} yields the fiber every
   * {@value #YIELD_EVERY} items, letting other fibers run, and checks for disposal
   * on every item, so disposing stops the body at its next {@code next} (or wherever it
   * awaits).
   *
   * @param <T> the type of the items
   * @param body what the fiber runs, emitting through its Emitter
   * @return the cold Observable
   * @throws NullPointerException if {@code body} is null
   */
  public static <T> Observable<T> observable(Emitter.Body<T> body) {
    return observableOn(null, Objects.requireNonNull(body, "body"));
  }

  /**
   * Like {@link #observable(Emitter.Body)}, with each subscription's fiber on
   * {@code scheduler}.
   *
   * @param <T> the type of the items
   * @param scheduler the Picos scheduler the fiber runs on
   * @param body what the fiber runs, emitting through its Emitter
   * @return the cold Observable
   * @throws NullPointerException if an argument is null
   */
  public static <T> Observable<T> observable(Scheduler scheduler, Emitter.Body<T> body) {
    return observableOn(Objects.requireNonNull(scheduler, "scheduler"),
        Objects.requireNonNull(body, "body"));
  }

  private static <T> Flowable<T> flowableOn(Scheduler scheduler, Emitter.Body<T> body) {
    return Flowable.fromPublisher(RX.publisher(scheduler, Objects.requireNonNull(body, "body")));
  }

  private static <T> Observable<T> observableOn(Scheduler scheduler, Emitter.Body<T> body) {
    // Observable.fromPublisher requests everything at once: next never waits for demand.
    return Observable.fromPublisher(RX.publisher(scheduler, body));
  }

  // ---------------------------------------------------------------------------------------
  // Rx sources awaited in a fiber

  /** The prefetch of the one-argument {@code iterate} methods: {@value}. */
  public static final int DEFAULT_PREFETCH = Reactive.DEFAULT_PREFETCH;

  /** The shared Reactive Streams layer with RxJava's hook for undeliverable errors. */
  private static final Reactive RX = Reactive.using(new ReactiveHooks() {
    @Override
    public void dropped(Throwable error, org.reactivestreams.Subscriber<?> subscriber) {
      RxJavaPlugins.onError(error);
    }
  });

  /**
   * Subscribes to {@code single} and waits for its value: a fiber suspends, a plain thread
   * blocks. Cancelling the waiting fiber disposes the subscription and throws its cause.
   *
   * @param single the Single
   * @param <T> the value type
   * @return the value
   * @throws RuntimeException the Single's failure (a checked one wrapped in a
   *     {@link java.util.concurrent.CompletionException}), or the waiting fiber's cancellation
   *     cause
   * @throws IllegalStateException if the fiber is pinned, or the plain thread may not block
   */
  public static <T> T await(Single<T> single) {
    Objects.requireNonNull(single, "single");
    return RX.awaitSingle(single.toFlowable());
  }

  /**
   * Subscribes to {@code maybe} and waits for it; suspends, and is cancelled, as
   * {@link #await(Single)}.
   *
   * @param maybe the Maybe
   * @param <T> the value type
   * @return the value, or {@code null} if the Maybe completed empty
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T await(Maybe<T> maybe) {
    return awaitOrDefault(maybe, null);
  }

  /**
   * Subscribes to {@code maybe} and waits for it; suspends, and is cancelled, as
   * {@link #await(Single)}.
   *
   * @param maybe the Maybe
   * @param defaultValue the answer for an empty Maybe
   * @param <T> the value type
   * @return the value, or {@code defaultValue} if the Maybe completed empty
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitOrDefault(Maybe<T> maybe, T defaultValue) {
    Objects.requireNonNull(maybe, "maybe");
    return RX.awaitSingleOrDefault(maybe.toFlowable(), defaultValue);
  }

  /**
   * Subscribes to {@code completable} and waits until it completes; suspends, and is
   * cancelled, as {@link #await(Single)}.
   *
   * @param completable the Completable
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static void await(Completable completable) {
    Objects.requireNonNull(completable, "completable");
    RX.awaitFirstOrNull(completable.toFlowable());
  }

  /**
   * Waits for the first item of {@code flowable} (requesting just one) and cancels the rest;
   * suspends, and is cancelled, as {@link #await(Single)}.
   *
   * @param flowable the items
   * @param <T> the item type
   * @return the first item
   * @throws NoSuchElementException if the Flowable completes without any item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitFirst(Flowable<T> flowable) {
    return RX.awaitFirst(flowable);
  }

  /**
   * Like {@link #awaitFirst(Flowable)}, answering {@code null} for an empty Flowable.
   *
   * @param flowable the items
   * @param <T> the item type
   * @return the first item, or {@code null}
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitFirstOrNull(Flowable<T> flowable) {
    return RX.awaitFirstOrNull(flowable);
  }

  /**
   * Like {@link #awaitFirst(Flowable)}, answering {@code defaultValue} for an empty Flowable.
   *
   * @param flowable the items
   * @param defaultValue the answer for an empty Flowable
   * @param <T> the item type
   * @return the first item, or {@code defaultValue}
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitFirstOrDefault(Flowable<T> flowable, T defaultValue) {
    return RX.awaitFirstOrDefault(flowable, defaultValue);
  }

  /**
   * Waits for the last item of {@code flowable} (requesting all of them); suspends, and is
   * cancelled, as {@link #await(Single)}.
   *
   * @param flowable the items
   * @param <T> the item type
   * @return the last item
   * @throws NoSuchElementException if the Flowable completes without any item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitLast(Flowable<T> flowable) {
    return RX.awaitLast(flowable);
  }

  /**
   * Like {@link #awaitLast(Flowable)}, answering {@code null} for an empty Flowable.
   *
   * @param flowable the items
   * @param <T> the item type
   * @return the last item, or {@code null}
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitLastOrNull(Flowable<T> flowable) {
    return RX.awaitLastOrNull(flowable);
  }

  /**
   * Like {@link #awaitLast(Flowable)}, answering {@code defaultValue} for an empty Flowable.
   *
   * @param flowable the items
   * @param defaultValue the answer for an empty Flowable
   * @param <T> the item type
   * @return the last item, or {@code defaultValue}
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitLastOrDefault(Flowable<T> flowable, T defaultValue) {
    return RX.awaitLastOrDefault(flowable, defaultValue);
  }

  /**
   * Waits for the only item of {@code flowable}; a second item cancels the subscription and
   * fails the await. Suspends, and is cancelled, as {@link #await(Single)}.
   *
   * @param flowable the items
   * @param <T> the item type
   * @return the only item
   * @throws NoSuchElementException if the Flowable completes without any item
   * @throws IllegalArgumentException if it emits more than one item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitSingle(Flowable<T> flowable) {
    return RX.awaitSingle(flowable);
  }

  /**
   * Like {@link #awaitSingle(Flowable)}, answering {@code null} for an empty Flowable.
   *
   * @param flowable the items
   * @param <T> the item type
   * @return the only item, or {@code null}
   * @throws IllegalArgumentException if it emits more than one item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitSingleOrNull(Flowable<T> flowable) {
    return RX.awaitSingleOrNull(flowable);
  }

  /**
   * Like {@link #awaitSingle(Flowable)}, answering {@code defaultValue} for an empty Flowable.
   *
   * @param flowable the items
   * @param defaultValue the answer for an empty Flowable
   * @param <T> the item type
   * @return the only item, or {@code defaultValue}
   * @throws IllegalArgumentException if it emits more than one item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitSingleOrDefault(Flowable<T> flowable, T defaultValue) {
    return RX.awaitSingleOrDefault(flowable, defaultValue);
  }

  /**
   * An Observable as a Flowable for the shared layer: it has no backpressure, so what it
   * sends beyond the demand is buffered (as {@code toFlowable(BUFFER)}); cancelling disposes it.
   */
  private static <T> Flowable<T> flowing(Observable<T> observable) {
    return Objects.requireNonNull(observable, "observable").toFlowable(BackpressureStrategy.BUFFER);
  }

  /**
   * Waits for the first item of {@code observable} and disposes it; suspends, and is
   * cancelled, as {@link #await(Single)}.
   *
   * @param observable the items
   * @param <T> the item type
   * @return the first item
   * @throws NoSuchElementException if the Observable completes without any item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitFirst(Observable<T> observable) {
    return RX.awaitFirst(flowing(observable));
  }

  /**
   * Like {@link #awaitFirst(Observable)}, answering {@code null} for an empty Observable.
   *
   * @param observable the items
   * @param <T> the item type
   * @return the first item, or {@code null}
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitFirstOrNull(Observable<T> observable) {
    return RX.awaitFirstOrNull(flowing(observable));
  }

  /**
   * Like {@link #awaitFirst(Observable)}, answering {@code defaultValue} for an empty
   * Observable.
   *
   * @param observable the items
   * @param defaultValue the answer for an empty Observable
   * @param <T> the item type
   * @return the first item, or {@code defaultValue}
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitFirstOrDefault(Observable<T> observable, T defaultValue) {
    return RX.awaitFirstOrDefault(flowing(observable), defaultValue);
  }

  /**
   * Waits for the last item of {@code observable}; suspends, and is cancelled, as
   * {@link #await(Single)}.
   *
   * @param observable the items
   * @param <T> the item type
   * @return the last item
   * @throws NoSuchElementException if the Observable completes without any item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitLast(Observable<T> observable) {
    return RX.awaitLast(flowing(observable));
  }

  /**
   * Like {@link #awaitLast(Observable)}, answering {@code null} for an empty Observable.
   *
   * @param observable the items
   * @param <T> the item type
   * @return the last item, or {@code null}
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitLastOrNull(Observable<T> observable) {
    return RX.awaitLastOrNull(flowing(observable));
  }

  /**
   * Like {@link #awaitLast(Observable)}, answering {@code defaultValue} for an empty
   * Observable.
   *
   * @param observable the items
   * @param defaultValue the answer for an empty Observable
   * @param <T> the item type
   * @return the last item, or {@code defaultValue}
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitLastOrDefault(Observable<T> observable, T defaultValue) {
    return RX.awaitLastOrDefault(flowing(observable), defaultValue);
  }

  /**
   * Waits for the only item of {@code observable}; a second item disposes it and fails the
   * await. Suspends, and is cancelled, as {@link #await(Single)}.
   *
   * @param observable the items
   * @param <T> the item type
   * @return the only item
   * @throws NoSuchElementException if the Observable completes without any item
   * @throws IllegalArgumentException if it emits more than one item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitSingle(Observable<T> observable) {
    return RX.awaitSingle(flowing(observable));
  }

  /**
   * Like {@link #awaitSingle(Observable)}, answering {@code null} for an empty Observable.
   *
   * @param observable the items
   * @param <T> the item type
   * @return the only item, or {@code null}
   * @throws IllegalArgumentException if it emits more than one item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitSingleOrNull(Observable<T> observable) {
    return RX.awaitSingleOrNull(flowing(observable));
  }

  /**
   * Like {@link #awaitSingle(Observable)}, answering {@code defaultValue} for an empty
   * Observable.
   *
   * @param observable the items
   * @param defaultValue the answer for an empty Observable
   * @param <T> the item type
   * @return the only item, or {@code defaultValue}
   * @throws IllegalArgumentException if it emits more than one item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitSingleOrDefault(Observable<T> observable, T defaultValue) {
    return RX.awaitSingleOrDefault(flowing(observable), defaultValue);
  }

  /**
   * Subscribes to {@code flowable} and returns an iterator over its items for the calling
   * fiber, with bounded prefetch: {@code prefetch} items are requested at first, then, each time
   * three quarters of them are taken, that many again (see {@link PublisherIterator}).
   * {@code hasNext()} suspends the fiber (a plain thread blocks) while no item has arrived. Close
   * it (try-with-resources) to cancel the subscription early; {@code close()} is safe from any
   * thread, and a consumer waiting in {@code hasNext()} then gets {@code false}. A failure the
   * consumer never receives goes to {@link RxJavaPlugins#onError}. Subscribes on the calling
   * thread and does not wait.
   *
   * <p>Cancellation: cancelling the consumer fiber while it waits closes the iterator and
   * throws the cancellation cause.
   *
   * @param flowable the items
   * @param prefetch how many items to request ahead, at least 1
   * @param <T> the item type
   * @return the iterator, an {@link Iterable} once and {@link AutoCloseable}
   * @throws IllegalArgumentException if {@code prefetch} is not positive
   * @throws NullPointerException if {@code flowable} is null
   */
  public static <T> PublisherIterator<T> iterate(Flowable<? extends T> flowable, int prefetch) {
    return RX.iterate(flowable, prefetch);
  }

  /**
   * {@link #iterate(Flowable, int)} with {@link #DEFAULT_PREFETCH}.
   *
   * @param flowable the items
   * @param <T> the item type
   * @return the iterator
   * @throws NullPointerException if {@code flowable} is null
   */
  public static <T> PublisherIterator<T> iterate(Flowable<? extends T> flowable) {
    return iterate(flowable, DEFAULT_PREFETCH);
  }

  /**
   * Subscribes to {@code observable} and returns an iterator over its items, as
   * {@link #iterate(Flowable, int)} does. An Observable has no backpressure: {@code prefetch}
   * paces the requests, but what the Observable sends ahead of them is buffered (as
   * {@code toFlowable(BackpressureStrategy.BUFFER)}); closing disposes it. Cancelled as
   * {@code iterate(Flowable, int)}.
   *
   * @param observable the items
   * @param prefetch how many items to request ahead, at least 1
   * @param <T> the item type
   * @return the iterator
   * @throws IllegalArgumentException if {@code prefetch} is not positive
   * @throws NullPointerException if {@code observable} is null
   */
  public static <T> PublisherIterator<T> iterate(Observable<? extends T> observable, int prefetch) {
    return RX.iterate(flowing(observable), prefetch);
  }

  /**
   * {@link #iterate(Observable, int)} with {@link #DEFAULT_PREFETCH}.
   *
   * @param observable the items
   * @param <T> the item type
   * @return the iterator
   * @throws NullPointerException if {@code observable} is null
   */
  public static <T> PublisherIterator<T> iterate(Observable<? extends T> observable) {
    return iterate(observable, DEFAULT_PREFETCH);
  }

  // ---------------------------------------------------------------------------------------
  // Computations as Rx sources

  /**
   * A cold {@link Single} of {@code computation}'s outcome: each subscriber gets its value, or
   * its cancellation cause or failure (the same object); a {@code null} value fails it with a
   * {@link NullPointerException} (use {@link #toMaybe}). Nothing blocks; a computation already
   * completed answers at once. The rule of {@code PicosFutures.toFuture}: disposing the
   * subscription before the computation completes cancels the computation with a
   * {@link CancellationException} saying so; with a shared computation (a scope's) that cancels
   * all of it.
   *
   * <p>Threading: the subscriber is signalled by the thread that completes the computation, or
   * by the subscribing thread if it is already complete.
   *
   * @param computation the computation to follow
   * @param <T> the value type
   * @return the Single
   * @throws NullPointerException if {@code computation} is null
   */
  public static <T> Single<T> toSingle(Computation<T> computation) {
    Objects.requireNonNull(computation, "computation");
    return Single.create(emitter -> follow(computation, "Single", emitter::setCancellable,
        value -> {
          if (value == null) {
            emitter.onError(new NullPointerException("PicosRx.toSingle: the computation returned"
                + " null, which a Single cannot emit; use PicosRx.toMaybe"));
          } else {
            emitter.onSuccess(value);
          }
        }, emitter::tryOnError));
  }

  /**
   * A cold {@link Maybe} of {@code computation}'s outcome, empty for a {@code null} value;
   * otherwise as {@link #toSingle}, whose cancellation rule and threading it shares.
   *
   * @param computation the computation to follow
   * @param <T> the value type
   * @return the Maybe
   * @throws NullPointerException if {@code computation} is null
   */
  public static <T> Maybe<T> toMaybe(Computation<T> computation) {
    Objects.requireNonNull(computation, "computation");
    return Maybe.create(emitter -> follow(computation, "Maybe", emitter::setCancellable,
        value -> {
          if (value == null) {
            emitter.onComplete();
          } else {
            emitter.onSuccess(value);
          }
        }, emitter::tryOnError));
  }

  /**
   * A cold {@link Completable} that completes when {@code computation} returns (its value
   * ignored) and fails with its cancellation cause or failure; otherwise as {@link #toSingle},
   * whose cancellation rule and threading it shares.
   *
   * @param computation the computation to follow
   * @return the Completable
   * @throws NullPointerException if {@code computation} is null
   */
  public static Completable toCompletable(Computation<?> computation) {
    Objects.requireNonNull(computation, "computation");
    return Completable.create(emitter -> follow(computation, "Completable",
        emitter::setCancellable, value -> emitter.onComplete(), emitter::tryOnError));
  }

  /** Hands the computation's outcome to a create() emitter; its disposal cancels it. */
  private static <T> void follow(Computation<T> computation, String what,
      Consumer<Cancellable> setCancellable, Consumer<? super T> onValue,
      Predicate<Throwable> tryOnError) {
    setCancellable.accept(() -> {
      if (computation.isRunning()) {
        computation.tryCancel(new CancellationException("The " + what + " subscriber of this"
            + " computation (PicosRx.to" + what + ") disposed its subscription"));
      }
    });
    computation.whenDone(() -> {
      Throwable failure = computation.canceled();
      if (failure == null) {
        onValue.accept(computation.resultNow());
      } else {
        tryOnError.test(failure);
      }
    });
  }

  // ---------------------------------------------------------------------------------------
  // Schedulers

  /** Shared schedulers, by Rx scheduler, both weakly (see {@link #scheduler}). */
  private static final HostCache<io.reactivex.rxjava3.core.Scheduler, Scheduler> SHARED = new HostCache<>();

  /**
   * The scheduler of {@code rx}, shared by everyone who asks for it: the same object for the same
   * Rx scheduler while anyone holds it, made on the first call as {@link #newScheduler} makes one.
   * It cannot be closed (its {@code close()} throws {@link UnsupportedOperationException}); shutting
   * the Rx scheduler down closes it and cancels its fibers, as {@link #newScheduler} describes.
   *
   * <p>Threading: safe to call from any thread; the fibers run on the Rx scheduler's workers.
   *
   * @param rx the Rx scheduler the fibers run on
   * @return its shared Picos scheduler, named after it
   * @throws NullPointerException if {@code rx} is null
   * @throws IllegalArgumentException for {@code Schedulers.trampoline()}
   */
  public static Scheduler scheduler(io.reactivex.rxjava3.core.Scheduler rx) {
    Objects.requireNonNull(rx, "rx");
    return SHARED.get(rx, r -> new SharedScheduler(newScheduler(r),
        "PicosRx.scheduler(" + r + ") is shared by everyone using this Rx scheduler and cannot be"
            + " closed; it closes itself when the Rx scheduler shuts down. For a scheduler of your"
            + " own to close, use PicosRx.newScheduler(rx)."));
  }

  /**
   * An Rx scheduler as a Picos scheduler: each slice of a fiber (from a resume to its next
   * suspension) is one {@code scheduleDirect(task)} on {@code rx}, and
   * {@link Computation#cancelAfter} timeouts use {@code rx.scheduleDirect(task, delay, unit)}.
   *
   * <p>Each fiber gets a {@code Worker} of its own from {@code rx.createWorker()}, disposed when
   * the fiber ends, and each of its slices is one {@code worker.schedule(task)}: the slices run
   * in order, and on schedulers whose workers are single-threaded ({@code single()},
   * {@code computation()}, {@code io()}, {@code newThread()}) a fiber stays on one thread for life
   * (a fiber resumed on another thread could be misled by JIT-compiled code that kept the thread
   * it saw before suspending; see {@link org.picos.Fiber}). On {@code io()} and
   * {@code newThread()} that is a thread per live fiber, as those schedulers give every worker.
   *
   * <p>Closing the returned scheduler cancels its fibers and waits for them, but never shuts
   * down {@code rx}: it belongs to the caller (and Rx's global schedulers to the whole JVM). When
   * {@code rx} is shut down (noticed by a probe every 50 ms, or when it refuses a slice), the
   * Picos scheduler closes itself: its fibers are cancelled with a
   * {@link org.picos.SchedulerClosedException} naming the shutdown and unwind on a fallback
   * thread (see {@link ExecutorScheduler}). Rx answers a saturated executor
   * ({@code Schedulers.from} a pool whose queue is full) and a shut-down one alike, with a
   * disposed {@code Disposable}, so here any refused slice counts as the scheduler shutting
   * down: give {@code Schedulers.from} an executor with room for one task per live fiber.
   *
   * <p>{@code scheduler(asRxScheduler(p))} returns {@code p} itself.
   *
   * @param rx the Rx scheduler the fibers run on; it stays the caller's
   * @return a new Picos scheduler of the caller's own, closable
   * @throws IllegalArgumentException if {@code rx} is {@code Schedulers.trampoline()}, which
   *     runs tasks on the calling thread and so cannot host fibers
   * @throws NullPointerException if {@code rx} is null
   */
  public static Scheduler newScheduler(io.reactivex.rxjava3.core.Scheduler rx) {
    Objects.requireNonNull(rx, "rx");
    if (rx == io.reactivex.rxjava3.schedulers.Schedulers.trampoline()) {
      throw new IllegalArgumentException("PicosRx.scheduler: Schedulers.trampoline() runs each task"
          + " on the thread that schedules it, inside whatever that thread is running, so it"
          + " cannot host fibers; use Schedulers.single(), computation(), io() or from(executor)");
    }
    if (rx instanceof FiberRxScheduler back) {
      return back.picos;
    }
    // Rx cannot tell saturation from shutdown (see above): a refusal is taken for a shutdown.
    AtomicBoolean refused = new AtomicBoolean();
    return ExecutorScheduler.builder(task -> executeOn(rx::scheduleDirect, rx, task, refused))
        .name("rx(" + rx + ")")
        .placement(() -> new WorkerLane(rx, rx.createWorker(), refused),
            lane -> ((WorkerLane) lane).worker.dispose())
        .timer((task, nanos) -> {
          Disposable d = rx.scheduleDirect(task, nanos, TimeUnit.NANOSECONDS);
          return d::dispose;
        })
        .shutdownWhen(() -> refused.get() || isShutDown(rx))
        .build();
  }

  /**
   * Whether {@code rx} has been shut down. Rx schedulers cannot be asked, so this schedules a
   * task and looks at the answer: a shut-down scheduler refuses it with an already disposed
   * {@code Disposable}. Rx's own schedulers refuse delayed tasks too, so for them the task is a
   * day ahead and cancelled at once (nothing runs). {@code Schedulers.from(executor)} delays
   * tasks on a helper thread of Rx's and only meets the executor when they are due, so there the
   * probe is a task that does nothing, run at once on the executor. Polled by the Picos scheduler
   * (see {@link ExecutorScheduler.Builder#shutdownWhen}), so that fibers suspended on a scheduler
   * that was shut down are cancelled even if none of them is ever resumed.
   */
  private static boolean isShutDown(io.reactivex.rxjava3.core.Scheduler rx) {
    if (FROM_EXECUTOR.equals(rx.getClass().getName())) {
      Slice probe = new Slice(NOTHING);
      Disposable d = rx.scheduleDirect(probe);
      return d.isDisposed() && !probe.started;
    }
    Disposable probe = rx.scheduleDirect(NOTHING, 1, TimeUnit.DAYS);
    boolean refused = probe.isDisposed();
    probe.dispose();
    return refused;
  }

  /** The class of {@code Schedulers.from(executor)}'s schedulers. */
  private static final String FROM_EXECUTOR = "io.reactivex.rxjava3.internal.schedulers.ExecutorScheduler";

  private static final Runnable NOTHING = () -> {};

  /** An Rx worker as the executor of one fiber: its slices run in order, on one thread. */
  private record WorkerLane(io.reactivex.rxjava3.core.Scheduler rx,
      io.reactivex.rxjava3.core.Scheduler.Worker worker, AtomicBoolean refused)
      implements java.util.concurrent.Executor {
    @Override
    public void execute(Runnable slice) {
      executeOn(worker::schedule, rx, slice, refused);
    }
  }

  /**
   * Runs one fiber slice through {@code schedule} (a scheduler's or a worker's); throws if
   * {@code rx} dropped it because it shut down.
   */
  private static void executeOn(java.util.function.Function<Runnable, Disposable> schedule,
      io.reactivex.rxjava3.core.Scheduler rx, Runnable task, AtomicBoolean refused) {
    Slice slice = new Slice(task);
    Disposable d = schedule.apply(slice);
    // Rx answers a refused task with a disposed Disposable (after reporting the rejection to
    // RxJavaPlugins.onError). An accepted one is disposed only once it has run, so a disposed
    // answer for a slice that has not started means it will never run.
    if (d.isDisposed() && !slice.started) {
      refused.set(true);
      throw new RejectedExecutionException("the Rx scheduler " + rx + " refused the task");
    }
  }

  /** A fiber slice that records that it started, to tell a refused slice from a finished one. */
  private static final class Slice implements Runnable {
    private final Runnable task;
    volatile boolean started;

    Slice(Runnable task) {
      this.task = task;
    }

    @Override
    public void run() {
      started = true;
      task.run();
    }
  }

  /**
   * A Picos scheduler as an Rx scheduler, usable in {@code observeOn}, {@code subscribeOn},
   * {@code interval} and the like. Every task runs in a fiber of {@code scheduler}, so it may
   * await Picos computations and Rx sources with this class's {@code await} methods.
   *
   * <ul>
   *   <li>A {@code Worker} runs its tasks one at a time in the order they became due, each in a
   *       fiber of its own (the next starts when the previous has ended).</li>
   *   <li>Disposing a task before it runs drops it; disposing it while it runs cancels its
   *       fiber's computation. Disposing a worker disposes all its tasks.</li>
   *   <li>Delays wait in a fiber on the Picos scheduler's own timer (the one behind
   *       {@link Computation#cancelAfter}); periodic tasks use Rx's drift-correcting
   *       rescheduling on top of that.</li>
   *   <li>A task's failure goes to {@link RxJavaPlugins#onError}, as with Rx's own schedulers.
   *       Once {@code scheduler} is closed, new tasks are refused the way Rx refuses work on a
   *       shut-down scheduler: the {@link org.picos.SchedulerClosedException} goes to
   *       {@code RxJavaPlugins.onError} and the returned {@code Disposable} is already
   *       disposed.</li>
   *   <li>{@code shutdown()} and {@code start()} of the returned scheduler do nothing: close
   *       {@code scheduler} itself when you are done with it.</li>
   * </ul>
   *
   * <p>{@code asRxScheduler(scheduler(rx))} is a fresh wrapper, not {@code rx}.
   *
   * @param scheduler the Picos scheduler whose fibers run the tasks
   * @return an Rx scheduler running each task in a fiber of {@code scheduler}
   * @throws NullPointerException if {@code scheduler} is null
   */
  public static io.reactivex.rxjava3.core.Scheduler asRxScheduler(Scheduler scheduler) {
    return new FiberRxScheduler(Objects.requireNonNull(scheduler, "scheduler"));
  }

  // ---------------------------------------------------------------------------------------
  // Shared by the sources

  /**
   * Starts {@code body} in a fiber whose computation is {@code token} (cancelling the token
   * cancels exactly this run), placed by the rule of {@link Schedulers#spawn}.
   */
  static void launch(Scheduler scheduler, Computation<?> token, Runnable body) {
    Schedulers.spawn(scheduler, Fiber.create(false, token), body);
  }

  /** The cause a disposed subscription cancels its fiber with. */
  static CancellationException disposed(String what) {
    return new CancellationException(what + " subscription disposed by its subscriber");
  }

  /** Hands {@code failure} to the subscriber, or to RxJavaPlugins if it has gone. */
  private static void fail(Computation<?> token, Throwable failure, Predicate<Throwable> tryOnError) {
    if (!tryOnError.test(failure)) {
      undeliverable(token.canceled(), failure);
    }
  }

  /**
   * A failure that no subscriber can receive: it goes to {@link RxJavaPlugins#onError}, unless
   * it is {@code cause}, the cancellation that stopped the work (or is caused by it), rethrown
   * by a body unwinding after its subscriber disposed, which is no error.
   */
  static void undeliverable(Throwable cause, Throwable failure) {
    int depth = 0;
    for (Throwable t = failure; t != null && depth < 32; t = t.getCause(), depth++) {
      if (t == cause) {
        return;
      }
    }
    RxJavaPlugins.onError(failure);
  }
}
