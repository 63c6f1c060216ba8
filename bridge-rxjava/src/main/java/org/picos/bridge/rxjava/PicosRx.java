package org.picos.bridge.rxjava;

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
import org.picos.Trigger;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;

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
   * A {@link FiberEmitter} yields its fiber to the scheduler after this many consecutive items
   * emitted without suspending, so that a fast body leaves the scheduler's other fibers their
   * turn.
   */
  public static final int YIELD_EVERY = 128;

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
   * @throws NullPointerException if {@code callable} is null
   */
  public static <T> Single<T> single(Callable<? extends T> callable) {
    return singleOn(null, callable);
  }

  /**
   * Like {@link #single(Callable)}, with each subscription's fiber on {@code scheduler}. If the
   * scheduler is closed, the subscriber gets its {@link org.picos.SchedulerClosedException}.
   *
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
   * @throws NullPointerException if {@code callable} is null
   */
  public static <T> Maybe<T> maybe(Callable<? extends T> callable) {
    return maybeOn(null, callable);
  }

  /**
   * Like {@link #maybe(Callable)}, with each subscription's fiber on {@code scheduler}.
   *
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
   * @throws NullPointerException if {@code callable} is null
   */
  public static Completable completable(Callable<?> callable) {
    return completableOn(null, callable);
  }

  /**
   * Like {@link #completable(Runnable)}, with each subscription's fiber on {@code scheduler}.
   *
   * @throws NullPointerException if an argument is null
   */
  public static Completable completable(Scheduler scheduler, Runnable action) {
    Objects.requireNonNull(action, "action");
    return completableOn(Objects.requireNonNull(scheduler, "scheduler"), Executors.callable(action));
  }

  /**
   * Like {@link #completable(Callable)}, with each subscription's fiber on {@code scheduler}.
   *
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
   * plain thread). The body emits through a {@link FiberEmitter} whose
   * {@link FiberEmitter#emit emit} suspends the fiber while the subscriber has no outstanding
   * demand, so no more items are produced than requested and nothing is buffered. The stream
   * completes when the body returns and fails with what it throws. Cancelling the subscription
   * cancels the fiber. Satisfies the Reactive Streams rules (checked by the TCK); a
   * {@code request(n)} with {@code n <= 0} cancels the body and fails the stream with an
   * {@link IllegalArgumentException} (rule 3.9).
   *
   * @throws NullPointerException if {@code body} is null
   */
  public static <T> Flowable<T> flowable(FiberEmitter.Body<T> body) {
    return new FiberFlowable<>(null, Objects.requireNonNull(body, "body"));
  }

  /**
   * Like {@link #flowable(FiberEmitter.Body)}, with each subscription's fiber on
   * {@code scheduler}.
   *
   * @throws NullPointerException if an argument is null
   */
  public static <T> Flowable<T> flowable(Scheduler scheduler, FiberEmitter.Body<T> body) {
    return new FiberFlowable<>(Objects.requireNonNull(scheduler, "scheduler"),
        Objects.requireNonNull(body, "body"));
  }

  /**
   * A cold {@link Observable} produced by {@code body} in a fiber, one per subscription.
   *
   * <p>An Observable has no backpressure: {@link FiberEmitter#emit emit} never waits for the
   * observer, so a fast body can flood a slow asynchronous consumer (an {@code observeOn}
   * buffers without bound). Use {@link #flowable} when the consumer must set the pace. To keep
   * a long stream bounded in its effect on the scheduler, {@code emit} yields the fiber every
   * {@value #YIELD_EVERY} items, letting other fibers run, and checks for disposal
   * on every item, so disposing stops the body at its next {@code emit} (or wherever it
   * awaits).
   *
   * @throws NullPointerException if {@code body} is null
   */
  public static <T> Observable<T> observable(FiberEmitter.Body<T> body) {
    return observableOn(null, Objects.requireNonNull(body, "body"));
  }

  /**
   * Like {@link #observable(FiberEmitter.Body)}, with each subscription's fiber on
   * {@code scheduler}.
   *
   * @throws NullPointerException if an argument is null
   */
  public static <T> Observable<T> observable(Scheduler scheduler, FiberEmitter.Body<T> body) {
    return observableOn(Objects.requireNonNull(scheduler, "scheduler"),
        Objects.requireNonNull(body, "body"));
  }

  private static <T> Observable<T> observableOn(Scheduler scheduler, FiberEmitter.Body<T> body) {
    return Observable.create(emitter -> {
      Computation<Void> token = Computation.create();
      emitter.setCancellable(() -> token.tryCancel(disposed("Observable")));
      if (token.isCanceled()) {
        return;
      }
      ObservableSink<T> sink = new ObservableSink<>(emitter, token);
      Runnable produce = () -> {
        try {
          body.run(sink);
        } catch (Throwable failure) {
          fail(token, failure, emitter::tryOnError);
          return;
        }
        sink.ended = true;
        try {
          emitter.onComplete();
        } catch (Throwable observerFailure) {
          RxJavaPlugins.onError(observerFailure);
        }
      };
      try {
        launch(scheduler, token, produce);
      } catch (Throwable notStarted) {
        fail(token, notStarted, emitter::tryOnError);
      }
    });
  }

  /** The emitter of an {@link #observable} body: no demand, a yield every few items. */
  private static final class ObservableSink<T> implements FiberEmitter<T> {
    private final io.reactivex.rxjava3.core.ObservableEmitter<T> emitter;
    private final Computation<Void> token;
    private int sinceYield;
    boolean ended;

    ObservableSink(io.reactivex.rxjava3.core.ObservableEmitter<T> emitter, Computation<Void> token) {
      this.emitter = emitter;
      this.token = token;
    }

    @Override
    public void emit(T item) {
      Objects.requireNonNull(item, NULL_ITEM);
      if (ended) {
        throw new IllegalStateException(EMIT_AFTER_END);
      }
      throwIfCanceled(token);
      emitter.onNext(item);
      if (++sinceYield == YIELD_EVERY) {
        sinceYield = 0;
        Fiber.yield();
      }
    }

    @Override
    public boolean isCancelled() {
      return token.isCanceled();
    }
  }

  static final String NULL_ITEM =
      "FiberEmitter.emit: null item; Reactive Streams and RxJava forbid null items";
  static final String EMIT_AFTER_END = "FiberEmitter.emit: the body has already returned and the"
      + " stream has ended; only the body may emit, before it returns";

  // ---------------------------------------------------------------------------------------
  // Rx sources awaited in a fiber

  /**
   * Subscribes to {@code single} and waits for its value: a fiber suspends, a plain thread
   * blocks. Cancelling the waiting fiber disposes the subscription.
   *
   * @return the value
   * @throws RuntimeException the Single's failure (a checked one wrapped in a
   *     {@link java.util.concurrent.CompletionException}), or the waiting fiber's cancellation
   *     cause
   * @throws IllegalStateException if the fiber is pinned, or the plain thread may not block
   */
  public static <T> T await(Single<? extends T> single) {
    Objects.requireNonNull(single, "single");
    Computation<T> result = Computation.create();
    return awaitResult(result, single.subscribe(result::tryReturn, result::tryCancel));
  }

  /**
   * Subscribes to {@code maybe} and waits for it, like {@link #await(Single)}.
   *
   * @return the value, or {@code null} if the Maybe completed empty (use
   *     {@link #awaitOrDefault} to tell an empty Maybe apart in code that wants a default)
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T await(Maybe<? extends T> maybe) {
    Objects.requireNonNull(maybe, "maybe");
    Computation<T> result = Computation.create();
    return awaitResult(result,
        maybe.subscribe(result::tryReturn, result::tryCancel, () -> result.tryReturn(null)));
  }

  /**
   * Subscribes to {@code maybe} and waits for it, like {@link #await(Single)}.
   *
   * @return the value, or {@code defaultValue} if the Maybe completed empty
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitOrDefault(Maybe<? extends T> maybe, T defaultValue) {
    T value = await(maybe);
    return value == null ? defaultValue : value;
  }

  /**
   * Subscribes to {@code completable} and waits until it completes, like
   * {@link #await(Single)}.
   *
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static void await(Completable completable) {
    Objects.requireNonNull(completable, "completable");
    Computation<Void> result = Computation.create();
    awaitResult(result, completable.subscribe(() -> result.tryReturn(null), result::tryCancel));
  }

  /**
   * Waits for the first item of {@code flowable} (requesting just one) and cancels the rest,
   * like {@link #await(Single)}.
   *
   * @throws NoSuchElementException if the Flowable completes without any item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitFirst(Flowable<? extends T> flowable) {
    Objects.requireNonNull(flowable, "flowable");
    return orNoSuchElement(await(flowable.take(1).firstElement()), "awaitFirst", "Flowable");
  }

  /**
   * Waits for the last item of {@code flowable} (requesting all of them), like
   * {@link #await(Single)}.
   *
   * @throws NoSuchElementException if the Flowable completes without any item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitLast(Flowable<? extends T> flowable) {
    Objects.requireNonNull(flowable, "flowable");
    return orNoSuchElement(await(flowable.lastElement()), "awaitLast", "Flowable");
  }

  /**
   * Waits for the first item of {@code observable} and disposes it, like {@link #await(Single)}.
   *
   * @throws NoSuchElementException if the Observable completes without any item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitFirst(Observable<? extends T> observable) {
    Objects.requireNonNull(observable, "observable");
    return orNoSuchElement(await(observable.firstElement()), "awaitFirst", "Observable");
  }

  /**
   * Waits for the last item of {@code observable}, like {@link #await(Single)}.
   *
   * @throws NoSuchElementException if the Observable completes without any item
   * @throws RuntimeException as {@link #await(Single)}
   */
  public static <T> T awaitLast(Observable<? extends T> observable) {
    Objects.requireNonNull(observable, "observable");
    return orNoSuchElement(await(observable.lastElement()), "awaitLast", "Observable");
  }

  /**
   * Subscribes to {@code flowable} and returns an iterator over its items for the calling fiber:
   * {@code hasNext()} suspends while no item has arrived. Demand is bounded: {@code prefetch}
   * items are requested at first, then more in batches as they are consumed, so at most
   * {@code prefetch} items are ever buffered. Close the iterator (try-with-resources) to cancel
   * the subscription early; {@code close()} is safe from any thread, and a consumer waiting in
   * {@code hasNext()} then gets {@code false}. Cancelling the fiber while it waits cancels the
   * subscription too. A failure the consumer never receives goes to
   * {@link RxJavaPlugins#onError}; see {@link FiberIterator}.
   *
   * @param prefetch how many items to request ahead, at least 1
   * @throws IllegalArgumentException if {@code prefetch} is not positive
   * @throws NullPointerException if {@code flowable} is null
   */
  public static <T> FiberIterator<T> iterate(Flowable<? extends T> flowable, int prefetch) {
    Objects.requireNonNull(flowable, "flowable");
    if (prefetch <= 0) {
      throw new IllegalArgumentException(
          "PicosRx.iterate: prefetch must be at least 1, was " + prefetch);
    }
    FiberIterator<T> iterator = new FiberIterator<>(prefetch);
    flowable.subscribe(iterator.subscriber());
    return iterator;
  }

  private static <T> T orNoSuchElement(T value, String verb, String type) {
    if (value == null) {
      throw new NoSuchElementException("PicosRx." + verb + ": the " + type
          + " completed without emitting any item");
    }
    return value;
  }

  /**
   * Waits for {@code result}, which the subscription behind {@code upstream} completes. If the
   * waiting fiber is cancelled (or cannot wait at all), disposes {@code upstream} and throws.
   */
  private static <T> T awaitResult(Computation<T> result, Disposable upstream) {
    if (result.isRunning()) {
      Trigger trigger = Trigger.create();
      if (result.tryAttach(trigger)) {
        Throwable cancel;
        try {
          cancel = trigger.await();
        } catch (RuntimeException | Error cannotWait) {
          result.detach(trigger);
          upstream.dispose();
          throw cannotWait;
        }
        if (cancel != null) {
          result.detach(trigger);
          upstream.dispose();
          throw Computation.unchecked(cancel);
        }
      }
    }
    return result.await(); // done by now; its await refuses a thread that must not block
  }

  // ---------------------------------------------------------------------------------------
  // Schedulers

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
   * @throws IllegalArgumentException if {@code rx} is {@code Schedulers.trampoline()}, which
   *     runs tasks on the calling thread and so cannot host fibers
   * @throws NullPointerException if {@code rx} is null
   */
  public static Scheduler scheduler(io.reactivex.rxjava3.core.Scheduler rx) {
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

  /** Throws the token's cancellation cause, if it has one. */
  static void throwIfCanceled(Computation<?> token) {
    Throwable cause = token.canceled();
    if (cause != null) {
      throw Computation.unchecked(cause);
    }
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
