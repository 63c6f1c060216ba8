package org.picos.bridge.reactor;

import java.time.Duration;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.FiberLocal;
import org.picos.Scheduler;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.Fuseable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;
import reactor.util.context.ContextView;
import org.picos.spi.Timer;

/**
 * Project Reactor and Picos, both ways: the one class a Reactor user needs.
 *
 * <ul>
 *   <li>Picos work as publishers: {@link #mono(Callable)} runs a fiber per subscription;
 *       {@link #flux(FluxBody)} runs a fiber per subscription whose {@link FluxEmitter#emit emit}
 *       suspends while the subscriber has no demand.</li>
 *   <li>Publishers awaited in a fiber: {@link #await(Mono)}, {@link #awaitFirst(Flux)},
 *       {@link #awaitLast(Flux)} and {@link #iterate(Flux, int)} suspend the calling fiber (and
 *       only the fiber); cancelling the fiber cancels the subscription. On a plain thread they
 *       block it, like {@code block()}.</li>
 *   <li>Schedulers: {@link #scheduler(reactor.core.scheduler.Scheduler)} runs fibers on a Reactor
 *       scheduler; {@link #asReactorScheduler(Scheduler)} lets {@code publishOn} and
 *       {@code subscribeOn} run tasks as fibers of a Picos scheduler.</li>
 *   <li>Reactor Context: a fiber started by {@code mono}/{@code flux} reads its subscriber's
 *       context with {@link #context()}, and publishers it awaits are subscribed with that
 *       context.</li>
 * </ul>
 *
 * <h2>Where fibers run</h2>
 * {@code mono(body)} and {@code flux(body)} without a scheduler start their fiber, at
 * subscription time, on the subscribing fiber's scheduler when subscribed from a fiber, and on
 * {@link Schedulers#shared()} otherwise.
 *
 * <h2>Failures</h2>
 * A body's failure reaches the subscriber as the very exception it threw. A failure that
 * nobody can receive any more (the body fails after its subscriber cancelled) goes to
 * {@link Operators#onErrorDropped} (the {@code Hooks.onErrorDropped} hook), as do failures of
 * tasks run through {@link #asReactorScheduler}. The await methods rethrow the publisher's
 * error as it is when unchecked, wrapped in a {@link java.util.concurrent.CompletionException}
 * when checked (as {@link Computation#await()} does).
 */
public final class PicosReactor {
  /** The subscriber's context of the fiber started by mono/flux; unset elsewhere. */
  static final FiberLocal<ContextView> CONTEXT = FiberLocal.create();

  private PicosReactor() {}

  /**
   * The body of a fiber-backed {@link Flux}: emits through the emitter, then returns to complete
   * the Flux or throws to fail it.
   *
   * @param <T> the element type
   */
  @FunctionalInterface
  public interface FluxBody<T> {
    /**
     * Produces the elements of one subscription, in the fiber started for it.
     *
     * @throws Exception to end the Flux with this error
     */
    void produce(FluxEmitter<T> emitter) throws Exception;
  }

  // ---------------------------------------------------------------------------------------
  // Picos work as publishers

  /**
   * A cold {@link Mono} that, for each subscriber, starts a fiber running {@code body}: on the
   * subscribing fiber's scheduler when subscribed from a fiber, else on
   * {@link Schedulers#shared()}. See {@link #mono(Scheduler, Callable)}.
   *
   * @throws NullPointerException if {@code body} is null
   */
  public static <T> Mono<T> mono(Callable<? extends T> body) {
    return monoOn(null, body);
  }

  /**
   * A cold {@link Mono} that, for each subscriber, starts a fiber on {@code scheduler} running
   * {@code body}. The body's value is emitted ({@code null} completes the Mono empty); its
   * failure errors the Mono with that same exception. Inside the body {@link #context()} is the
   * subscriber's context.
   *
   * <p>Cancellation: cancelling or disposing the subscription cancels the fiber's computation,
   * waking the fiber wherever it awaits; a subscriber that cancels in {@code onSubscribe} starts
   * no fiber. Whatever the body ends with is reported exactly once: to the subscriber if it
   * ended before the cancel, else a value to the discard hook ({@code doOnDiscard}) and a
   * failure to {@code Hooks.onErrorDropped}; the cancellation itself unwinding the body (or a
   * failure caused by it) is no error and is not reported anywhere.
   *
   * <p>If the fiber cannot be started (the scheduler is closed), the subscriber gets the
   * {@link org.picos.SchedulerClosedException}.
   *
   * @throws NullPointerException if an argument is null
   */
  public static <T> Mono<T> mono(Scheduler scheduler, Callable<? extends T> body) {
    return monoOn(Objects.requireNonNull(scheduler, "scheduler"), body);
  }

  private static <T> Mono<T> monoOn(Scheduler scheduler, Callable<? extends T> body) {
    Objects.requireNonNull(body, "body");
    return new FiberMono<>(scheduler, body);
  }

  /**
   * A cold {@link Flux} that, for each subscriber, starts a fiber running {@code body} on the
   * subscribing fiber's scheduler when subscribed from a fiber, else on
   * {@link Schedulers#shared()}. See {@link #flux(Scheduler, FluxBody)}.
   *
   * @throws NullPointerException if {@code body} is null
   */
  public static <T> Flux<T> flux(FluxBody<T> body) {
    return new FiberFlux<>(null, Objects.requireNonNull(body, "body"));
  }

  /**
   * A cold {@link Flux} that, for each subscriber, starts a fiber on {@code scheduler} running
   * {@code body}. The body emits through a {@link FluxEmitter} whose {@code emit} suspends the
   * fiber while the subscriber has no outstanding demand, so the subscriber never receives more
   * than it requested. When the body returns the Flux completes; when it throws the Flux errors
   * with that exception. Inside the body {@link #context()} is the subscriber's context. The
   * Flux obeys the Reactive Streams rules (checked with the TCK), including {@code request(n)}
   * with {@code n <= 0}, which ends it with an {@link IllegalArgumentException}.
   *
   * <p>Cancellation: cancelling the subscription cancels the fiber's computation, waking it
   * wherever it awaits; {@code emit} then throws the cancellation (its value goes to the
   * discard hook). If the body then fails with anything but that cancellation, the failure goes
   * to {@code Hooks.onErrorDropped}, once.
   *
   * @throws NullPointerException if an argument is null
   */
  public static <T> Flux<T> flux(Scheduler scheduler, FluxBody<T> body) {
    return new FiberFlux<>(Objects.requireNonNull(scheduler, "scheduler"),
        Objects.requireNonNull(body, "body"));
  }

  /**
   * Whether {@code failure} is {@code computation}'s cancellation cause, or caused by it (within
   * a few levels of causes): the cancellation unwinding a body, which is no error.
   */
  static boolean isCancellationOf(Computation<?> computation, Throwable failure) {
    Throwable cause = computation.canceled();
    if (cause == null) {
      return false;
    }
    int depth = 0;
    for (Throwable t = failure; t != null && depth < 32; t = t.getCause(), depth++) {
      if (t == cause) {
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------
  // Publishers awaited in a fiber

  /**
   * Subscribes to {@code mono} and waits for it: suspends the calling fiber, or blocks a plain
   * calling thread. Returns its value, or {@code null} if it completed empty. A Mono that has
   * its value at subscription (like {@code Mono.just}) answers without suspending.
   *
   * <p>The subscription carries {@link #context()}. Cancelling the awaiting fiber cancels the
   * subscription and throws the fiber's cancellation cause.
   *
   * @throws RuntimeException the Mono's error (checked ones wrapped in a
   *     {@link java.util.concurrent.CompletionException}), or the fiber's cancellation cause
   * @throws IllegalStateException if called outside a fiber on a Reactor non-blocking thread
   *     (such as {@code Schedulers.parallel()}), where blocking is not allowed
   */
  public static <T> T await(Mono<T> mono) {
    Objects.requireNonNull(mono, "mono");
    if (mono instanceof Fuseable.ScalarCallable<?> scalar) {
      // Fast path for a Mono that holds its value from assembly (Mono.just, Mono.empty): read
      // it without a subscription, as Reactor's own block() does for them. A scalar error
      // (Mono.error) throws from call(); it takes the general path, which delivers the error
      // exactly as for any other Mono.
      try {
        @SuppressWarnings("unchecked")
        T value = (T) scalar.call();
        return value;
      } catch (Exception error) {
        // fall through
      }
    }
    return new AwaitSubscriber<T>(AwaitSubscriber.MONO).awaitOn(mono);
  }

  /**
   * Subscribes to {@code flux}, requests one element and waits for it (suspending the fiber, or
   * blocking a plain thread); cancels the subscription once it arrived and returns it.
   *
   * @throws NoSuchElementException if the Flux completes without any element
   * @throws RuntimeException the Flux's error (as for {@link #await(Mono)}), or the fiber's
   *     cancellation cause (the subscription is then cancelled)
   * @throws IllegalStateException if called outside a fiber on a Reactor non-blocking thread
   */
  public static <T> T awaitFirst(Flux<T> flux) {
    Objects.requireNonNull(flux, "flux");
    return new AwaitSubscriber<T>(AwaitSubscriber.FIRST).awaitOn(flux);
  }

  /**
   * Subscribes to {@code flux} with unbounded demand and waits for it to complete (suspending
   * the fiber, or blocking a plain thread); returns its last element.
   *
   * @throws NoSuchElementException if the Flux completes without any element
   * @throws RuntimeException the Flux's error (as for {@link #await(Mono)}), or the fiber's
   *     cancellation cause (the subscription is then cancelled)
   * @throws IllegalStateException if called outside a fiber on a Reactor non-blocking thread
   */
  public static <T> T awaitLast(Flux<T> flux) {
    Objects.requireNonNull(flux, "flux");
    return new AwaitSubscriber<T>(AwaitSubscriber.LAST).awaitOn(flux);
  }

  /**
   * Subscribes to {@code flux} and returns an iterator over its elements that requests
   * {@code prefetch} elements at first and then, each time three quarters of them are consumed,
   * that many again, so at most {@code prefetch} elements are ever buffered. {@code hasNext()}
   * suspends the fiber (or blocks a plain thread) while waiting. Use it in try-with-resources:
   * {@code close()} (safe from any thread) cancels the subscription if the iteration stops
   * early, and a consumer waiting in {@code hasNext()} then gets {@code false}. An error the
   * consumer never receives goes to {@code Hooks.onErrorDropped}; see {@link FluxIterator}.
   *
   * @throws IllegalArgumentException if {@code prefetch} is not positive
   * @see FluxIterator
   */
  public static <T> FluxIterator<T> iterate(Flux<T> flux, int prefetch) {
    Objects.requireNonNull(flux, "flux");
    if (prefetch <= 0) {
      throw new IllegalArgumentException("iterate: prefetch must be positive, was " + prefetch);
    }
    FluxIterator<T> iterator = new FluxIterator<>(prefetch, Context.of(context()));
    flux.subscribe(iterator.subscriber());
    return iterator;
  }

  /**
   * The Reactor context of the current fiber: inside a fiber started by {@link #mono} or
   * {@link #flux}, the context of the subscriber it serves; elsewhere the empty context.
   * Publishers awaited with this class's methods are subscribed with it.
   */
  public static ContextView context() {
    ContextView context = CONTEXT.get();
    return context == null ? Context.empty() : context;
  }

  /** Refuses to block a Reactor non-blocking thread, as {@code block()} does. */
  static void checkMayBlock(String what) {
    if (!Fiber.inFiber() && reactor.core.scheduler.Schedulers.isInNonBlockingThread()) {
      throw new IllegalStateException(what + " would block thread "
          + Thread.currentThread().getName() + ", a Reactor non-blocking thread, which is not"
          + " allowed (as for block()); call it from a fiber (for example in"
          + " PicosReactor.mono(...)), or subscribe instead");
    }
  }

  /** The subscriber behind await, awaitFirst and awaitLast. */
  private static final class AwaitSubscriber<T> implements CoreSubscriber<T> {
    static final int MONO = 0;
    static final int FIRST = 1;
    static final int LAST = 2;

    private final int mode;
    private final Context context = Context.of(context());
    private final Computation<T> result = Computation.create();
    private final AtomicReference<Subscription> upstream = new AtomicReference<>();
    /** LAST: the latest element (signals are serial, so plain fields suffice). */
    private T last;
    private boolean hasLast;

    AwaitSubscriber(int mode) {
      this.mode = mode;
    }

    T awaitOn(org.reactivestreams.Publisher<T> publisher) {
      publisher.subscribe(this);
      if (result.isRunning()) {
        try {
          checkMayBlock(mode == MONO ? "await(Mono)"
              : mode == FIRST ? "awaitFirst(Flux)" : "awaitLast(Flux)");
        } catch (IllegalStateException refused) {
          cancelUpstream();
          throw refused;
        }
      }
      try {
        return result.await();
      } catch (Throwable t) {
        if (result.isRunning()) {
          cancelUpstream();
        }
        throw t;
      }
    }

    @Override
    public Context currentContext() {
      return context;
    }

    @Override
    public void onSubscribe(Subscription s) {
      if (upstream.compareAndSet(null, s)) {
        s.request(mode == FIRST ? 1 : Long.MAX_VALUE);
      } else {
        s.cancel();
      }
    }

    @Override
    public void onNext(T value) {
      if (mode == LAST) {
        last = value;
        hasLast = true;
      } else if (result.tryReturn(value)) {
        if (mode == FIRST) {
          cancelUpstream();
        }
      }
    }

    @Override
    public void onError(Throwable error) {
      if (!result.tryCancel(error)) {
        Operators.onErrorDropped(error, context);
      }
    }

    @Override
    public void onComplete() {
      if (mode == MONO) {
        result.tryReturn(null);
      } else if (mode == LAST && hasLast) {
        result.tryReturn(last);
      } else if (result.isRunning()) {
        result.tryCancel(new NoSuchElementException((mode == FIRST ? "awaitFirst" : "awaitLast")
            + ": the Flux completed without any element"));
      }
    }

    private void cancelUpstream() {
      Subscription s = upstream.getAndSet(Operators.cancelledSubscription());
      if (s != null) {
        s.cancel();
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Schedulers

  /**
   * A Reactor scheduler as a Picos scheduler: each fiber gets a {@code Worker} of its own from
   * {@code reactorScheduler.createWorker()}, disposed when the fiber ends; each slice of the
   * fiber (from a resume to its next suspension) is one {@code worker.schedule(task)}, and
   * {@link Computation#cancelAfter} uses {@code reactorScheduler.schedule(task, delay,
   * NANOSECONDS)} (falling back to Picos' shared timer for a scheduler that is not time-capable).
   *
   * <p>A fiber therefore runs one slice at a time, in order, and on the schedulers whose workers
   * are single-threaded ({@code single()}, {@code parallel()}, {@code boundedElastic()}) it stays
   * on one thread for life: fibers are spread over the threads as workers are, and never move
   * (a fiber resumed on another thread could be misled by JIT-compiled code that kept the
   * thread it saw before suspending; see {@link org.picos.Fiber}).
   *
   * <p>Closing the Picos scheduler cancels its fibers and leaves the Reactor scheduler running:
   * it belongs to the caller. Disposing the Reactor scheduler closes the Picos scheduler
   * (noticed when it rejects a task, or within about 50 ms), cancelling its live fibers with a
   * {@link org.picos.SchedulerClosedException}. A Reactor scheduler that rejects a task for lack
   * of capacity (a {@code boundedElastic()} whose task queues are full) but is not disposed is
   * only saturated: starting a fiber on it then throws a {@code RejectedExecutionException}, and
   * the slice of a running fiber is handed over again a little later (see
   * {@link ExecutorScheduler}). Timers armed on the Reactor scheduler move to a shared timer
   * thread when it is disposed, so no {@code cancelAfter} or sleep is lost with it.
   *
   * @throws IllegalArgumentException for {@code Schedulers.immediate()}, which runs tasks inline
   *     in the caller and so cannot carry fibers
   */
  public static Scheduler scheduler(reactor.core.scheduler.Scheduler reactorScheduler) {
    Objects.requireNonNull(reactorScheduler, "reactorScheduler");
    if (reactorScheduler == reactor.core.scheduler.Schedulers.immediate()) {
      throw new IllegalArgumentException("PicosReactor.scheduler: Schedulers.immediate() runs tasks"
          + " inline in the calling thread and cannot carry fibers; use single(), parallel(),"
          + " boundedElastic() or a scheduler made from an executor");
    }
    Timer timer = (task, nanos) -> {
      Disposable d;
      try {
        d = reactorScheduler.schedule(task, nanos, TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException notTimeCapableOrDisposed) {
        return Timer.shared().schedule(task, nanos);
      }
      return d::dispose;
    };
    return ExecutorScheduler.builder(task -> reactorScheduler.schedule(task))
        .name("reactor(" + reactorScheduler + ")")
        .placement(() -> new WorkerLane(reactorScheduler.createWorker()),
            lane -> ((WorkerLane) lane).worker.dispose())
        .timer(timer)
        .shutdownWhen(reactorScheduler::isDisposed)
        .build();
  }

  /** A Reactor worker as the executor of one fiber: its slices run in order, on one thread. */
  private record WorkerLane(reactor.core.scheduler.Scheduler.Worker worker) implements Executor {
    @Override
    public void execute(Runnable slice) {
      worker.schedule(slice);
    }
  }

  /**
   * A Picos scheduler as a Reactor scheduler, usable in {@code publishOn}, {@code subscribeOn}
   * and anywhere a Reactor {@link reactor.core.scheduler.Scheduler} is taken. Each task runs in a
   * fiber of {@code scheduler} (so it may await Picos primitives and Reactor publishers with
   * this class); disposing a task cancels that fiber's computation, and a task not started yet
   * never runs. Delayed and periodic tasks wait on Picos timers ({@link Computation#cancelAfter})
   * in a fiber. A worker runs its tasks one at a time, in submission order.
   *
   * <p>A task's failure goes to {@code Hooks.onErrorDropped}. Disposing the returned scheduler
   * makes it reject new tasks (with a {@link RejectedExecutionException}, as Reactor schedulers
   * do) but leaves the Picos scheduler open: it belongs to the caller. A closed Picos scheduler
   * makes it reject tasks too.
   */
  public static reactor.core.scheduler.Scheduler asReactorScheduler(Scheduler scheduler) {
    return new FiberScheduler(Objects.requireNonNull(scheduler, "scheduler"));
  }

  /**
   * Suspends the current fiber for {@code nanos} (a plain thread blocks), on the scheduler's
   * timer; a cancellation point.
   */
  static void sleep(long nanos) {
    Computation<Void> timer = Computation.create();
    CancellationException elapsed = ELAPSED;
    timer.cancelAfter(Duration.ofNanos(Math.max(0, nanos)), elapsed);
    try {
      timer.await();
    } catch (RuntimeException | Error e) {
      if (e != elapsed) {
        timer.tryReturn(null);
        throw e;
      }
    }
  }

  /** The cause that ends a {@link #sleep}; never escapes, so one shared instance suffices. */
  private static final CancellationException ELAPSED = new CancellationException("sleep elapsed") {
    private static final long serialVersionUID = 1L;

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  };
}
