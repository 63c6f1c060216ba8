package org.picos.bridge.reactor;

import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.FiberLocal;
import org.picos.Scheduler;
import org.picos.sched.ExecutorScheduler;
import org.picos.spi.HostCache;
import org.picos.spi.SharedScheduler;
import org.picos.sched.Schedulers;
import org.picos.reactive.PublisherIterator;
import org.picos.reactive.Reactive;
import org.reactivestreams.Publisher;
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
 *       {@link #flux(FluxBody)} runs a fiber per subscription whose {@link FluxEmitter#next next}
 *       suspends while the subscriber has no demand.</li>
 *   <li>Publishers awaited in a fiber: {@link #await(Mono)}, {@link #awaitFirst(Publisher)}, {@link #awaitSingle(Publisher)},
 *       {@link #awaitLast(Publisher)} (with their {@code OrNull}/{@code OrDefault} forms) and {@link #iterate(Publisher, int)} suspend the calling fiber (and
 *       only the fiber); cancelling the fiber cancels the subscription. On a plain thread they
 *       block it, like {@code block()}.</li>
 *   <li>Schedulers: {@link #scheduler(reactor.core.scheduler.Scheduler)} runs fibers on a Reactor
 *       scheduler; {@link #asReactorScheduler(Scheduler)} lets {@code publishOn} and
 *       {@code subscribeOn} run tasks as fibers of a Picos scheduler.</li>
 *   <li>Reactor Context: a fiber started by {@code mono}/{@code flux} reads its subscriber's
 *       context with {@link #context()}, and publishers it awaits are subscribed with that
 *       context. With {@code Hooks.enableAutomaticContextPropagation()} and picos-context on the
 *       class path, the ThreadLocals registered in Micrometer's {@code ContextRegistry} (SLF4J
 *       MDC, tracing) follow that context as Reactor's own operators do: the fiber starts with
 *       them set from its subscriber's context (those the context lacks cleared) and keeps them
 *       across its awaits, and the awaits capture the fiber's ThreadLocals into the context of
 *       their subscription, as {@code block()} does.</li>
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
     * @param emitter where the body emits, suspending without demand
     * @throws Exception whatever the body throws: the Flux errors with it
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
   * @param <T> the type of the value
   * @param body what the fiber computes
   * @return the cold Mono
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
   * @param <T> the type of the value
   * @param scheduler the Picos scheduler the fiber runs on
   * @param body what the fiber computes
   * @return the cold Mono
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
   * @param <T> the type of the elements
   * @param body what the fiber runs, emitting through its FluxEmitter
   * @return the cold Flux
   * @throws NullPointerException if {@code body} is null
   */
  public static <T> Flux<T> flux(FluxBody<T> body) {
    return fluxOn(null, body);
  }

  /**
   * A cold {@link Flux} that, for each subscriber, starts a fiber on {@code scheduler} running
   * {@code body}. The body emits through a {@link FluxEmitter} whose {@code next} suspends the
   * fiber while the subscriber has no outstanding demand, so the subscriber never receives more
   * than it requested. When the body returns the Flux completes; when it throws the Flux errors
   * with that exception. Inside the body {@link #context()} is the subscriber's context. The
   * Flux obeys the Reactive Streams rules (checked with the TCK), including {@code request(n)}
   * with {@code n <= 0}, which ends it with an {@link IllegalArgumentException}.
   *
   * <p>Cancellation: cancelling the subscription cancels the fiber's computation, waking it
   * wherever it awaits; {@code next} then throws the cancellation (its value goes to the
   * discard hook). If the body then fails with anything but that cancellation, the failure goes
   * to {@code Hooks.onErrorDropped}, once.
   *
   * @param <T> the type of the elements
   * @param scheduler the Picos scheduler the fiber runs on
   * @param body what the fiber runs, emitting through its FluxEmitter
   * @return the cold Flux
   * @throws NullPointerException if an argument is null
   */
  public static <T> Flux<T> flux(Scheduler scheduler, FluxBody<T> body) {
    return fluxOn(Objects.requireNonNull(scheduler, "scheduler"), body);
  }

  private static <T> Flux<T> fluxOn(Scheduler scheduler, FluxBody<T> body) {
    Objects.requireNonNull(body, "body");
    return Flux.from(ReactorHooks.PUBLISHING.publisher(scheduler,
        emitter -> body.produce(new FluxEmitter<T>() {
          @Override
          public void next(T item) {
            emitter.next(item);
          }

          @Override
          public boolean isCancelled() {
            return emitter.isCancelled();
          }

          @Override
          public ContextView contextView() {
            return context();
          }
        })));
  }

  /**
   * A cold {@link Mono} of {@code computation}'s outcome: each subscriber gets its value
   * ({@code null}: empty) or its cancellation cause or failure (the same object), without
   * blocking anything; a computation already completed answers at once. The rule of
   * {@code PicosFutures.toFuture}: cancelling the subscription before the computation completes
   * cancels the computation with a {@link CancellationException} saying so; with a shared
   * computation (a scope's) that cancels all of it.
   *
   * <p>Threading: the subscriber is signalled by the thread that completes the computation (for
   * a fiber, its carrier as it ends), or by the subscribing thread if it is already complete.
   *
   * @param computation the computation to follow, typically a fiber's
   * @param <T> the type of the result
   * @return the Mono
   * @throws NullPointerException if {@code computation} is null
   */
  public static <T> Mono<T> toMono(Computation<T> computation) {
    Objects.requireNonNull(computation, "computation");
    return Mono.create(sink -> {
      sink.onCancel(() -> {
        if (computation.isRunning()) {
          computation.tryCancel(new CancellationException(
              "The Mono subscriber of this computation (PicosReactor.toMono) cancelled"));
        }
      });
      computation.whenDone(() -> {
        Throwable failure = computation.canceled();
        if (failure == null) {
          sink.success(computation.resultNow());
        } else {
          sink.error(failure);
        }
      });
    });
  }

  // ---------------------------------------------------------------------------------------
  // Publishers awaited in a fiber

  /**
   * The prefetch of {@link #iterate(Publisher)}: {@value}, as {@link Reactive#DEFAULT_PREFETCH}.
   */
  public static final int DEFAULT_PREFETCH = Reactive.DEFAULT_PREFETCH;

  /**
   * Subscribes to {@code mono} and waits for it: suspends the calling fiber, or blocks a plain
   * calling thread. A Mono that has its value at subscription (like {@code Mono.just}) answers
   * without suspending. The subscription carries {@link #context()}.
   *
   * <p>Cancellation: cancelling the awaiting fiber cancels the subscription and throws the
   * fiber's cancellation cause; signals after that are ignored (an error goes to
   * {@code Hooks.onErrorDropped}).
   *
   * @param mono the Mono
   * @param <T> the value type
   * @return its value, or {@code null} if it completed empty (as {@code block()} answers)
   * @throws RuntimeException the Mono's error (checked ones wrapped in a
   *     {@link java.util.concurrent.CompletionException}), or the fiber's cancellation cause
   * @throws IllegalStateException if called outside a fiber on a Reactor non-blocking thread
   *     (such as {@code Schedulers.parallel()}), where blocking is not allowed
   */
  public static <T> T await(Mono<T> mono) {
    return awaitOrDefault(mono, null);
  }

  /**
   * Like {@link #await(Mono)}, but answers {@code defaultValue} for a Mono that completes
   * empty. Suspends, and is cancelled, as {@code await(Mono)}.
   *
   * @param mono the Mono
   * @param defaultValue the answer for an empty Mono
   * @param <T> the value type
   * @return its value, or {@code defaultValue}
   * @throws RuntimeException as {@link #await(Mono)}
   */
  public static <T> T awaitOrDefault(Mono<T> mono, T defaultValue) {
    Objects.requireNonNull(mono, "mono");
    if (mono instanceof Fuseable.ScalarCallable<?> scalar) {
      // Fast path for a Mono that holds its value from assembly (Mono.just, Mono.empty): read
      // it without a subscription, as Reactor's own block() does for them. A scalar error
      // (Mono.error) throws from call(); it takes the general path, which delivers the error
      // exactly as for any other Mono.
      try {
        @SuppressWarnings("unchecked")
        T value = (T) scalar.call();
        return value == null ? defaultValue : value;
      } catch (Exception error) {
        // fall through
      }
    }
    return ReactorHooks.forCaller().awaitSingleOrDefault(mono, defaultValue);
  }

  /**
   * Subscribes to {@code publisher} (a {@code Flux}, typically) with the context of
   * {@link #context()}, requests one element and waits for it (suspending the fiber, or
   * blocking a plain thread); cancels the subscription once it arrived.
   *
   * <p>Cancellation: cancelling the awaiting fiber cancels the subscription and throws the
   * fiber's cancellation cause.
   *
   * @param publisher the elements
   * @param <T> the element type
   * @return the first element
   * @throws NoSuchElementException if it completes without any element
   * @throws RuntimeException its error (as for {@link #await(Mono)}), or the fiber's
   *     cancellation cause
   * @throws IllegalStateException if called outside a fiber on a Reactor non-blocking thread
   */
  public static <T> T awaitFirst(Publisher<T> publisher) {
    return ReactorHooks.forCaller().awaitFirst(publisher);
  }

  /**
   * Like {@link #awaitFirst}, but answers {@code null} for a publisher that completes empty;
   * suspends, and is cancelled, as {@code awaitFirst}.
   *
   * @param publisher the elements
   * @param <T> the element type
   * @return the first element, or {@code null}
   * @throws RuntimeException as {@link #awaitFirst}
   */
  public static <T> T awaitFirstOrNull(Publisher<T> publisher) {
    return ReactorHooks.forCaller().awaitFirstOrNull(publisher);
  }

  /**
   * Like {@link #awaitFirst}, but answers {@code defaultValue} for a publisher that completes
   * empty; suspends, and is cancelled, as {@code awaitFirst}.
   *
   * @param publisher the elements
   * @param defaultValue the answer for an empty publisher
   * @param <T> the element type
   * @return the first element, or {@code defaultValue}
   * @throws RuntimeException as {@link #awaitFirst}
   */
  public static <T> T awaitFirstOrDefault(Publisher<T> publisher, T defaultValue) {
    return ReactorHooks.forCaller().awaitFirstOrDefault(publisher, defaultValue);
  }

  /**
   * Subscribes to {@code publisher} with unbounded demand and waits for it to complete;
   * suspends, and is cancelled, as {@link #awaitFirst}.
   *
   * @param publisher the elements
   * @param <T> the element type
   * @return the last element
   * @throws NoSuchElementException if it completes without any element
   * @throws RuntimeException as {@link #awaitFirst}
   */
  public static <T> T awaitLast(Publisher<T> publisher) {
    return ReactorHooks.forCaller().awaitLast(publisher);
  }

  /**
   * Like {@link #awaitLast}, but answers {@code null} for a publisher that completes empty.
   *
   * @param publisher the elements
   * @param <T> the element type
   * @return the last element, or {@code null}
   * @throws RuntimeException as {@link #awaitFirst}
   */
  public static <T> T awaitLastOrNull(Publisher<T> publisher) {
    return ReactorHooks.forCaller().awaitLastOrNull(publisher);
  }

  /**
   * Like {@link #awaitLast}, but answers {@code defaultValue} for a publisher that completes
   * empty.
   *
   * @param publisher the elements
   * @param defaultValue the answer for an empty publisher
   * @param <T> the element type
   * @return the last element, or {@code defaultValue}
   * @throws RuntimeException as {@link #awaitFirst}
   */
  public static <T> T awaitLastOrDefault(Publisher<T> publisher, T defaultValue) {
    return ReactorHooks.forCaller().awaitLastOrDefault(publisher, defaultValue);
  }

  /**
   * Subscribes to {@code publisher} with unbounded demand and waits for its only element; a
   * second element cancels the subscription and fails the await. Suspends, and is cancelled,
   * as {@link #awaitFirst}.
   *
   * @param publisher the elements
   * @param <T> the element type
   * @return the only element
   * @throws NoSuchElementException if it completes without any element
   * @throws IllegalArgumentException if it emits more than one element
   * @throws RuntimeException as {@link #awaitFirst}
   */
  public static <T> T awaitSingle(Publisher<T> publisher) {
    return ReactorHooks.forCaller().awaitSingle(publisher);
  }

  /**
   * Like {@link #awaitSingle}, but answers {@code null} for a publisher that completes empty.
   *
   * @param publisher the elements
   * @param <T> the element type
   * @return the only element, or {@code null}
   * @throws IllegalArgumentException if it emits more than one element
   * @throws RuntimeException as {@link #awaitFirst}
   */
  public static <T> T awaitSingleOrNull(Publisher<T> publisher) {
    return ReactorHooks.forCaller().awaitSingleOrNull(publisher);
  }

  /**
   * Like {@link #awaitSingle}, but answers {@code defaultValue} for a publisher that completes
   * empty.
   *
   * @param publisher the elements
   * @param defaultValue the answer for an empty publisher
   * @param <T> the element type
   * @return the only element, or {@code defaultValue}
   * @throws IllegalArgumentException if it emits more than one element
   * @throws RuntimeException as {@link #awaitFirst}
   */
  public static <T> T awaitSingleOrDefault(Publisher<T> publisher, T defaultValue) {
    return ReactorHooks.forCaller().awaitSingleOrDefault(publisher, defaultValue);
  }

  /**
   * Subscribes to {@code publisher} (with the context of {@link #context()}) and returns an
   * iterator over its elements with bounded prefetch: {@code prefetch} elements are requested
   * at first and then, each time three quarters of them are taken, that many again (see
   * {@link PublisherIterator}). {@code hasNext()} suspends the fiber (or blocks a plain thread)
   * while waiting. Use it in try-with-resources: {@code close()} (safe from any thread) cancels
   * the subscription, and a consumer waiting in {@code hasNext()} then gets {@code false}.
   * Elements nobody takes go to Reactor's discard hook, errors nobody receives to
   * {@code Hooks.onErrorDropped}. Subscribes on the calling thread and does not wait.
   *
   * <p>Cancellation: cancelling the consumer fiber while it waits closes the iterator and
   * throws the cancellation cause.
   *
   * @param publisher the elements
   * @param prefetch how many elements to request ahead, at least 1
   * @param <T> the element type
   * @return the iterator, an {@link Iterable} once and {@link AutoCloseable}
   * @throws IllegalArgumentException if {@code prefetch} is not positive
   * @throws NullPointerException if {@code publisher} is null
   */
  public static <T> PublisherIterator<T> iterate(Publisher<? extends T> publisher, int prefetch) {
    return ReactorHooks.forCaller().iterate(publisher, prefetch);
  }

  /**
   * {@link #iterate(Publisher, int)} with {@link #DEFAULT_PREFETCH}.
   *
   * @param publisher the elements
   * @param <T> the element type
   * @return the iterator
   * @throws NullPointerException if {@code publisher} is null
   */
  public static <T> PublisherIterator<T> iterate(Publisher<? extends T> publisher) {
    return iterate(publisher, DEFAULT_PREFETCH);
  }

  /**
   * The Reactor context of the current fiber: inside a fiber started by {@link #mono} or
   * {@link #flux}, the context of the subscriber it serves; elsewhere the empty context.
   * Publishers awaited with this class's methods are subscribed with it.
   * @return the subscriber's context in a mono/flux fiber, else the empty context
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

  // ---------------------------------------------------------------------------------------
  // Schedulers

  /** Shared schedulers, by Reactor scheduler, both weakly (see {@link #scheduler}). */
  private static final HostCache<reactor.core.scheduler.Scheduler, Scheduler> SHARED = new HostCache<>();

  /**
   * The scheduler of {@code reactorScheduler}, shared by everyone who asks for it: the same object
   * for the same Reactor scheduler while anyone holds it, made on the first call as
   * {@link #newScheduler} makes one. It cannot be closed (its {@code close()} throws
   * {@link UnsupportedOperationException}); disposing the Reactor scheduler closes it and cancels
   * its fibers, as {@link #newScheduler} describes. Reactor has no disposal callback, so that is
   * noticed when the Reactor scheduler rejects a task or within about 50 ms.
   *
   * <p>Threading: safe to call from any thread; the fibers run on the Reactor scheduler's workers.
   *
   * @param reactorScheduler the Reactor scheduler the fibers run on
   * @return its shared Picos scheduler, named after it
   * @throws NullPointerException if {@code reactorScheduler} is null
   * @throws IllegalArgumentException for {@code Schedulers.immediate()}
   */
  public static Scheduler scheduler(reactor.core.scheduler.Scheduler reactorScheduler) {
    Objects.requireNonNull(reactorScheduler, "reactorScheduler");
    return SHARED.get(reactorScheduler, r -> new SharedScheduler(newScheduler(r),
        "PicosReactor.scheduler(" + r + ") is shared by everyone using this Reactor scheduler and"
            + " cannot be closed; it closes itself when the Reactor scheduler is disposed. For a"
            + " scheduler of your own to close, use PicosReactor.newScheduler(reactorScheduler)."));
  }

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
   * @param reactorScheduler the Reactor scheduler the fibers run on; it stays the caller's
   * @return a new Picos scheduler of the caller's own, closable
   * @throws IllegalArgumentException for {@code Schedulers.immediate()}, which runs tasks inline
   *     in the caller and so cannot carry fibers
   */
  public static Scheduler newScheduler(reactor.core.scheduler.Scheduler reactorScheduler) {
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
   * @param scheduler the Picos scheduler whose fibers run the tasks
   * @return a Reactor scheduler running each task in a fiber of {@code scheduler}
   */
  public static reactor.core.scheduler.Scheduler asReactorScheduler(Scheduler scheduler) {
    return new ReactorSchedulerOnPicos(Objects.requireNonNull(scheduler, "scheduler"));
  }

}
