package org.picos.bridge.vertx;

import io.vertx.core.Closeable;
import io.vertx.core.Completable;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.internal.CloseFuture;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.PromiseInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.streams.ReadStream;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.spi.HostCache;
import org.picos.SchedulerClosedException;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Handover;
import org.picos.spi.Support;
import org.picos.spi.Timer;

/**
 * Picos on Vert.x: Vert.x contexts as Picos schedulers, Picos work as Vert.x futures, and Vert.x
 * futures and read streams awaited in fibers. A fiber on a Vert.x event loop is written in
 * straight-line style and still never blocks the loop: each await suspends the fiber (a
 * continuation) and gives the thread back to Vert.x. (Vert.x's own {@code Future.await()} needs
 * a virtual-thread context, off the event loop; these fibers run on the loop itself.)
 *
 * <table>
 *   <caption>The verbs of this facade</caption>
 *   <tr><th>verb</th><th>here</th></tr>
 *   <tr><td>host to Picos scheduler</td><td>{@link #scheduler(Context)},
 *       {@link #scheduler(Vertx)} (shared, cached per context or instance);
 *       {@link #newScheduler(Context)}, {@link #newScheduler(Vertx)} (your own);
 *       {@link FiberVerticle} (a verticle's)</td></tr>
 *   <tr><td>work to Vert.x future</td><td>{@link #future(Callable)},
 *       {@link #future(Scheduler, Callable)}, {@link #future(Context, Callable)}</td></tr>
 *   <tr><td>computation to Vert.x future</td><td>{@link #toFuture(Computation)}</td></tr>
 *   <tr><td>await</td><td>{@link #await(Future)}, {@link #await(Future, Consumer)} (releasing
 *       what a cancelled wait leaves), {@link #awaitStream(Future)}</td></tr>
 *   <tr><td>iterate</td><td>{@link #iterate(ReadStream, int)}, {@link #iterate(ReadStream)}</td></tr>
 * </table>
 *
 * <p>What other facades have and this one does not, and why:
 * <ul>
 *   <li>No Picos scheduler as a Vert.x scheduler (the other facades' {@code asExecutor},
 *       {@code asReactorScheduler}): Vert.x runs code on a {@link Context}, which is bound to an
 *       event loop or a worker pool that Vert.x itself owns and creates; it has no interface
 *       through which another scheduler could stand in for one.</li>
 *   <li>No multi-valued awaits: Vert.x's one multi-valued type is the {@link ReadStream}, and
 *       {@link #iterate} consumes it, with backpressure; a Vert.x {@link Future} has one
 *       value.</li>
 *   <li>No cancellation from a Vert.x future to its fiber: a Vert.x {@link Future} cannot be
 *       cancelled. A fiber started here ends with its body or with its host (see below).</li>
 * </ul>
 *
 * <h2>How a fiber runs on a context</h2>
 * Every slice of a fiber (from a resume to its next suspension) is one
 * {@link Context#runOnContext} task: it is queued on the context's executor (for an event-loop
 * context, its event-loop thread) and dispatched by Vert.x, so inside the fiber
 * {@link Vertx#currentContext()} is that context, its context-local data and the context class
 * loader are in place, and code behaves as in one of the context's own handlers. A fiber never
 * leaves its context: it resumes there after every await, whichever thread completed what it
 * awaited. Timeouts ({@link Computation#cancelAfter}) use {@link Vertx#setTimer} and are cancelled
 * with {@link Vertx#cancelTimer} when the computation completes first.
 *
 * <h2>Shared schedulers and your own</h2>
 * {@link #scheduler(Context)} answers the same scheduler every time for the same context (it is
 * kept in the context's local data, so it goes away with the context, a request's duplicate
 * context included), and {@link #scheduler(Vertx)} the same for the same instance (held by the
 * instance until it closes): code can ask for them per request without making anything. Their
 * fibers belong to the host: those on a deployment's context (or a duplicate of it) are the
 * deployment's, like those of {@link #future(Context, Callable)}, and end when it is
 * undeployed; the others end when Vert.x closes. Being shared, they cannot be closed: their
 * {@code close()} throws {@link UnsupportedOperationException}, like that of
 * {@link org.picos.sched.Schedulers#shared()}. {@link #newScheduler(Context)} and
 * {@link #newScheduler(Vertx)} make a scheduler of your own, which you close, and whose close
 * cancels only its own fibers.
 *
 * <h2>Shutdown</h2>
 * Every scheduler of this class listens to its host's close: when the context is closed (its
 * deployment undeployed) or the {@link Vertx} instance is closed, each fiber still alive is
 * cancelled with a {@link SchedulerClosedException} whose message names that shutdown, and
 * unwinds (on the event loop while Vert.x still runs it, else on a fallback daemon thread).
 * Nothing stays suspended forever. No scheduler here polls: each is told by a close hook.
 *
 * <h2>Never block the event loop</h2>
 * This jar registers a {@linkplain BlockingGuards blocking guard} as a service
 * ({@link VertxBlockingGuard}): a Picos wait ({@code Computation.await}, {@link #await(Future)},
 * a mutex, a channel, ...) called on a Vert.x event-loop thread <em>outside</em> a fiber throws
 * an {@link IllegalStateException} saying to run the code in a fiber, instead of blocking (and
 * possibly deadlocking) the loop; it is refused on entry, even when the result is already there. Waits inside
 * fibers suspend and are always allowed.
 *
 * <h2>Failures</h2>
 * A fiber's failure reaches its {@link Computation} or the Vert.x {@link Future} it completes;
 * {@link FiberVerticle} handler fibers report theirs to the context's exception handler.
 * Failures are rethrown as the core does: unchecked exceptions as they are (same object),
 * checked ones wrapped in a {@link java.util.concurrent.CompletionException}.
 */
public final class PicosVertx {
  /** Items fetched at a time by {@link #iterate(ReadStream)}. */
  public static final int DEFAULT_PREFETCH = 16;

  /** The release of {@link #await(Future)}: a value nobody takes is simply dropped. */
  private static final Consumer<Object> NO_RELEASE = value -> {};

  /** Key of a deployment's scheduler in its context's local data; see {@link #schedulerOf}. */
  private static final Object SCHEDULER_KEY = new Object();

  /** Key of the shared scheduler of a context in its local data; see {@link #scheduler(Context)}. */
  private static final Object SHARED_KEY = new Object();

  /**
   * The schedulers of each Vert.x instance, weakly: the instance holds its own through its close
   * hook until it closes; guarded by itself.
   */
  private static final HostCache<VertxInternal, PerVertx> INSTANCES = new HostCache<>();

  /**
   * The context a root fiber being started on this thread must run on; read by the placement of
   * the schedulers whose fibers choose their context (see {@link #startOn}).
   */
  private static final ThreadLocal<ContextInternal> PLACE = new ThreadLocal<>();

  private PicosVertx() {}

  // ---------------------------------------------------------------------------------------
  // Vert.x hosts as Picos schedulers

  /**
   * The scheduler of {@code context}, shared by everyone who asks for it: the same object on
   * every call for the same context. Its fibers run on {@code context}: on its event-loop
   * thread for an event-loop context (in order on its worker queue for a worker context), with
   * {@link Vertx#currentContext()} equal to {@code context} before and after every await;
   * children spawned by its fibers run there too. They belong to the context's host: the
   * deployment of a deployment's context (they are among the fibers of its
   * {@link FiberVerticle}, if it is one), else the Vert.x instance.
   *
   * <p>Threading: safe to call from any thread; {@link Scheduler#start} works from anywhere,
   * while {@link Scheduler#run} blocks a plain caller, which is refused on an event-loop thread.
   *
   * <p>Cancellation: undeploying the deployment, or closing Vert.x, cancels the fibers with a
   * cause naming that shutdown; the scheduler itself cannot be closed (its {@code close()}
   * throws {@link UnsupportedOperationException}): use {@link #newScheduler(Context)} for one
   * you close.
   *
   * @param context where the fibers run
   * @return the context's shared scheduler
   * @throws IllegalArgumentException if {@code context} is a virtual-thread context (blocking
   *     is already allowed there: use Vert.x's own {@code Future.await()}) or not a Vert.x
   *     context
   * @throws NullPointerException if {@code context} is null
   */
  public static Scheduler scheduler(Context context) {
    ContextInternal ctx = internal(context, "scheduler");
    ConcurrentMap<Object, Object> data = ctx.localContextData();
    Object existing = data.get(SHARED_KEY);
    if (existing == null) {
      Shared made = new Shared(schedulerOf(ctx), ctx, "PicosVertx.scheduler(" + describe(ctx) + ")",
          "PicosVertx.newScheduler(context)");
      existing = data.putIfAbsent(SHARED_KEY, made);
      if (existing == null) {
        return made;
      }
    }
    return (Scheduler) existing;
  }

  /**
   * The scheduler of a whole Vert.x instance, shared by everyone who asks for it: the same
   * object on every call for the same instance. Each new fiber (root or child) gets a fresh
   * event-loop context of its own, so fibers spread over the event loops, and stays on it for
   * life, seeing it as {@link Vertx#currentContext()}.
   *
   * <p>Threading: safe to call from any thread, as are {@code start} and {@code spawn} of the
   * answer.
   *
   * <p>Cancellation: closing the Vert.x instance cancels the live fibers with a cause naming
   * the shutdown; the scheduler cannot be closed (its {@code close()} throws
   * {@link UnsupportedOperationException}): use {@link #newScheduler(Vertx)} for one you close.
   *
   * @param vertx the instance whose event loops run the fibers
   * @return the instance's shared scheduler
   * @throws NullPointerException if {@code vertx} is null
   * @throws IllegalArgumentException if {@code vertx} is not a Vert.x core instance
   */
  public static Scheduler scheduler(Vertx vertx) {
    return perVertx(internal(vertx)).everywhere;
  }

  /**
   * A new scheduler of your own whose fibers all run on {@code context}, as those of
   * {@link #scheduler(Context)} do, but in a set of their own: closing it cancels them (with a
   * {@link SchedulerClosedException} naming this scheduler) and waits for them, leaving Vert.x
   * running. Closing the context (undeploying its verticle) or the Vert.x instance closes it
   * too, cancelling its fibers with a cause naming that shutdown.
   *
   * <p>Threading: close it from a plain thread (which waits) or from a fiber (which does not);
   * on an event-loop thread outside a fiber, {@code close()} cancels the fibers and then throws
   * instead of blocking the loop.
   *
   * <p>Cancellation: closing the scheduler, or the host's shutdown, cancels every fiber still
   * alive; cancelling one fiber's computation cancels only that fiber.
   *
   * @param context where the fibers run
   * @return a new scheduler; closed at once if the context is already closed
   * @throws IllegalArgumentException if {@code context} is a virtual-thread context or not a
   *     Vert.x context
   * @throws NullPointerException if {@code context} is null
   */
  public static Scheduler newScheduler(Context context) {
    ContextInternal ctx = internal(context, "newScheduler");
    String name = "PicosVertx.newScheduler(" + describe(ctx) + ")";
    ContextCloseHook hook = new ContextCloseHook(ctx);
    ExecutorScheduler scheduler = onContext(ctx, name)
        .onClose(() -> ctx.closeFuture().remove(hook), null)
        .build();
    hook.attach(scheduler);
    return scheduler;
  }

  /**
   * A new scheduler of your own over a whole Vert.x instance: each new fiber (root or child) gets
   * a fresh event-loop context, as with {@link #scheduler(Vertx)}, and the fibers form a set of
   * their own. Closing it cancels them and waits (leaving Vert.x running); closing the Vert.x
   * instance closes it too.
   *
   * <p>Threading: as for {@link #newScheduler(Context)}: close it from a plain thread or a fiber.
   *
   * <p>Cancellation: closing the scheduler, or closing Vert.x, cancels every fiber still alive.
   *
   * @param vertx the instance whose event loops run the fibers
   * @return a new scheduler; closed at once if Vert.x is already closing
   * @throws NullPointerException if {@code vertx} is null
   * @throws IllegalArgumentException if {@code vertx} is not a Vert.x core instance
   */
  public static Scheduler newScheduler(Vertx vertx) {
    VertxInternal vx = internal(vertx);
    VertxCloseHook hook = new VertxCloseHook();
    ExecutorScheduler scheduler = freshContextEach(vx, "PicosVertx.newScheduler(" + vx + ")")
        .onClose(() -> vx.closeFuture().remove(hook), null)
        .build();
    hook.attach(vx, scheduler);
    return scheduler;
  }

  /** A builder of a scheduler that gives each new fiber a fresh event-loop context of {@code vx}. */
  private static ExecutorScheduler.Builder freshContextEach(VertxInternal vx, String name) {
    Supplier<Executor> fresh = () -> executorRunningOn(vx.createEventLoopContext());
    // The builder's executor is never used: the placement gives every fiber its own.
    return ExecutorScheduler.builder(task -> fresh.get().execute(task))
        .name(name)
        .placement(fresh)
        .timer(timer(vx));
  }

  // ---------------------------------------------------------------------------------------
  // Picos work as Vert.x futures

  /**
   * Starts {@code body} at once in a new fiber and returns a Vert.x future of its result. The
   * fiber is placed as {@link Schedulers#spawn} places new work: called in a fiber, on that
   * fiber's scheduler (as {@link org.picos.Fiber#spawn(Callable)}, with a computation of its
   * own); otherwise on {@link Schedulers#shared()}, off Vert.x. To run it on a Vert.x context,
   * use {@link #future(Context, Callable)}.
   *
   * <p>Threading: the future is bound to the caller's context ({@link Vertx#currentContext()}
   * at the call) when there is one, so its callbacks run there; otherwise they run on the
   * thread that completes it, the fiber's carrier as it ends.
   *
   * <p>Cancellation: a Vert.x future cannot be cancelled, so the fiber runs until its body
   * ends or its scheduler closes, which fails the future with the
   * {@link SchedulerClosedException}; the calling fiber's own cancellation is thrown.
   *
   * @param <T> the type of the result
   * @param body what the fiber runs
   * @return a new future of the fiber's value or failure (the same exception it threw); failed
   *     with a {@link SchedulerClosedException} if the chosen scheduler is closed
   * @throws NullPointerException if {@code body} is null
   * @throws RuntimeException the calling fiber's cancellation cause, if it is cancelled
   */
  public static <T> Future<T> future(Callable<T> body) {
    Objects.requireNonNull(body, "body");
    return start(null, body);
  }

  /**
   * Starts {@code body} at once in a new fiber on {@code scheduler} and returns a Vert.x future
   * of its result; with {@code PicosVertx.scheduler(context)} the fiber runs on that context.
   *
   * <p>Threading: the future is bound to the caller's context when there is one (its callbacks
   * run there), else its callbacks run on the thread that completes it.
   *
   * <p>Cancellation: a Vert.x future cannot be cancelled; the fiber ends with its body or when
   * {@code scheduler} closes (for a shared scheduler: its host's shutdown), which fails the
   * future with the {@link SchedulerClosedException}.
   *
   * @param <T> the type of the result
   * @param scheduler where the fiber runs
   * @param body what the fiber runs
   * @return a new future of the fiber's value or failure; failed with a
   *     {@link SchedulerClosedException} if {@code scheduler} is closed
   * @throws NullPointerException if an argument is null
   */
  public static <T> Future<T> future(Scheduler scheduler, Callable<T> body) {
    Objects.requireNonNull(scheduler, "scheduler");
    Objects.requireNonNull(body, "body");
    return start(scheduler, body);
  }

  private static <T> Future<T> start(Scheduler where, Callable<T> body) {
    Promise<T> promise = promiseOfCaller();
    Computation<T> c;
    try {
      c = Schedulers.start(where, body);
    } catch (SchedulerClosedException closed) {
      if (Fiber.inFiber() && Fiber.current().canceled() == closed) {
        throw closed; // the caller's own cancellation: it must unwind
      }
      promise.fail(closed);
      return promise.future();
    }
    c.whenDone(() -> complete(c, promise));
    return promise.future();
  }

  /** A promise bound to the calling thread's Vert.x context, or to none. */
  private static <T> Promise<T> promiseOfCaller() {
    ContextInternal current = ContextInternal.current();
    return current != null ? current.promise() : Promise.promise();
  }

  /**
   * Starts {@code body} at once in a fiber on {@code context} and returns a Vert.x future bound
   * to that context that completes with the body's value or failure. The fiber sees
   * {@code context} as {@link Vertx#currentContext()}; children it spawns run there too. It
   * belongs to the context's host: when {@code context} belongs to a deployment, to that
   * deployment (for a {@link FiberVerticle}, the fiber is one of the verticle's); otherwise to
   * the Vert.x instance.
   *
   * <p>Threading: the fiber runs on the context's thread; the future's callbacks run on the
   * context too.
   *
   * <p>Cancellation: Vert.x futures cannot be cancelled, so the fiber runs until its body ends,
   * or until its host goes away (the deployment undeployed, the Vert.x instance closed). It is
   * then cancelled with a {@link SchedulerClosedException} naming the shutdown, which also
   * fails the future.
   *
   * @param <T> the type of the result
   * @param context where the fiber runs
   * @param body what the fiber runs
   * @return a new future of the fiber's value or failure; failed with a
   *     {@link SchedulerClosedException} if the deployment is undeployed or the Vert.x instance
   *     closed
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code context} is a virtual-thread context or not a
   *     Vert.x context
   */
  public static <T> Future<T> future(Context context, Callable<T> body) {
    ContextInternal ctx = internal(context, "future");
    Objects.requireNonNull(body, "body");
    PromiseInternal<T> promise = ctx.promise();
    Computation<T> c;
    try {
      c = startOn(schedulerOf(ctx), ctx, body);
    } catch (SchedulerClosedException closed) {
      promise.fail(closed);
      return promise.future();
    }
    c.whenDone(() -> complete(c, promise));
    return promise.future();
  }

  /**
   * A Vert.x future that completes when {@code computation} does: with its value, or failed
   * with its cancellation cause or failure (the same object). A computation already completed
   * gives a completed future. Each call returns a new future.
   *
   * <p>Threading: the future is bound to the caller's context when there is one (its callbacks
   * run there), else its callbacks run on the thread that completes the computation.
   *
   * <p>Cancellation: a Vert.x future cannot be cancelled, so nothing flows from the future to
   * the computation; a cancelled computation fails the future with its cause.
   *
   * @param <T> the type of the result
   * @param computation the computation to follow, typically a fiber's
   * @return a new future of the computation's result
   * @throws NullPointerException if {@code computation} is null
   */
  public static <T> Future<T> toFuture(Computation<T> computation) {
    Objects.requireNonNull(computation, "computation");
    Promise<T> promise = promiseOfCaller();
    computation.whenDone(() -> complete(computation, promise));
    return promise.future();
  }

  /**
   * Completes {@code promise}, bound to a context, from the completed computation {@code c}. If
   * Vert.x has already shut that context's event loop down, the future still holds the outcome
   * but its listeners cannot run there: Vert.x rejects them, and nothing more can be done.
   */
  static <T> void complete(Computation<T> c, Completable<T> promise) {
    Throwable failure = c.canceled();
    try {
      if (failure == null) {
        promise.succeed(c.resultNow());
      } else {
        promise.fail(failure);
      }
    } catch (RejectedExecutionException loopGone) {
      // The outcome is stored; see above.
    }
  }

  // ---------------------------------------------------------------------------------------
  // Vert.x futures and streams awaited in fibers

  /**
   * Waits for a Vert.x future and returns its value, or throws its failure: unchecked exceptions
   * as they are (same object, same type), checked ones wrapped in a
   * {@link java.util.concurrent.CompletionException}. A completed future answers at once without
   * suspending.
   *
   * <p>Threading: in a fiber this suspends the fiber (on any scheduler), which resumes on its
   * own scheduler; on a plain thread it blocks, except on a Vert.x event-loop thread, where it
   * throws instead.
   *
   * <p>Cancellation: if the awaiting fiber is cancelled, the await ends at once and throws the
   * fiber's cancellation cause. Vert.x futures cannot be cancelled and their listeners cannot be
   * removed, so the operation behind {@code future} goes on and its result is dropped: the wait
   * is detached, not the operation. When that result is a resource (a connection, a row stream,
   * a file), use {@link #await(Future, Consumer)}, which hands it to a release action instead.
   *
   * <p>For a future whose value is a stream that flows at once (an HTTP response), use
   * {@link #awaitStream}, or compose its consumption in the callback
   * ({@code request.send().compose(HttpClientResponse::body)}), so that no data is lost before
   * the fiber resumes.
   *
   * @param <T> the type of the value
   * @param future the future to wait for
   * @return the future's value
   * @throws RuntimeException the future's failure (checked ones wrapped), or the fiber's
   *     cancellation cause
   * @throws IllegalStateException on a Vert.x event-loop thread outside a fiber, even when the
   *     future has completed (the message says to use a fiber)
   * @throws NullPointerException if {@code future} is null
   */
  public static <T> T await(Future<T> future) {
    Objects.requireNonNull(future, "future");
    return awaitReleasing(future, NO_RELEASE);
  }

  /**
   * Waits for a Vert.x future like {@link #await(Future)}, and hands what a cancelled wait leaves
   * behind to {@code release}: a Vert.x future cannot be cancelled, so when the fiber stops
   * waiting, the operation goes on, and the value it then produces (a pooled connection, a
   * {@code RowStream}, an {@code AsyncFile}) would otherwise be lost with nobody to close it.
   *
   * <pre>{@code
   * SqlConnection connection = PicosVertx.await(pool.getConnection(), SqlConnection::close);
   * }</pre>
   *
   * <p>Exactly once for each value that the fiber does not return: a value that arrives after
   * the fiber stopped waiting (it was cancelled, or the wait was refused) is released by the
   * thread that completes the future, in its completion callback; one that had arrived when the
   * fiber was cancelled (both happened before the fiber resumed, and the cancellation wins, as
   * in every Picos wait) is released by the fiber before it throws. A value the fiber returns,
   * a {@code null} value and a failure are never released. If {@code release} throws, the
   * failure is reported to the Vert.x context of the awaiting fiber
   * ({@link ContextInternal#reportException}, which calls the context's exception handler) or,
   * outside any context, through {@link Support#reportUncaught}; the fiber still throws its
   * cause.
   *
   * <p>Threading: as {@link #await(Future)}; {@code release} runs on the thread that completes
   * the future (typically the future's event loop) or on the fiber's carrier.
   *
   * <p>Cancellation: the await ends at once with the fiber's cause, as {@link #await(Future)}
   * does; the operation goes on, and its value goes to {@code release}.
   *
   * @param <T> the type of the value
   * @param future the future to wait for
   * @param release what to do with a value nobody will take, such as closing it
   * @return the future's value
   * @throws RuntimeException the future's failure (checked ones wrapped), or the fiber's
   *     cancellation cause
   * @throws IllegalStateException on a Vert.x event-loop thread outside a fiber, when the future
   *     has not completed (the message says to use a fiber)
   * @throws NullPointerException if an argument is null
   */
  public static <T> T await(Future<T> future, Consumer<? super T> release) {
    Objects.requireNonNull(future, "future");
    Objects.requireNonNull(release, "release");
    return awaitReleasing(future, release);
  }

  /**
   * Both awaits: the future's outcome goes through a {@link Handover} to the waiting fiber; a
   * failing release is reported to the awaiting code's context, if it has one.
   */
  private static <T> T awaitReleasing(Future<T> future, Consumer<? super T> release) {
    BlockingGuards.check(); // on entry: a refused thread is refused even when the future is done
    if (future.isComplete()) {
      if (future.succeeded()) {
        return future.result();
      }
      throw Computation.unchecked(future.cause());
    }
    ContextInternal where = ContextInternal.current();
    Handover<T> handover = new Handover<>(release,
        where != null ? where::reportException : Support::reportUncaught);
    future.onComplete(result -> {
      if (result.succeeded()) {
        handover.deliver(result.result());
      } else {
        handover.fail(result.cause());
      }
    });
    return handover.await(Support.waitDescription("PicosVertx.await", future));
  }

  /**
   * Waits for a future whose value is a stream that starts flowing at once (an
   * {@code HttpClientResponse}, a {@code NetSocket}, a server request), pausing the stream in the
   * future's own completion callback, before it can emit anything. A plain {@link #await} resumes
   * the fiber only after that callback has returned, by when the stream may already have emitted
   * data to no handler, which Vert.x drops. Consume the paused stream with {@link #iterate}, or
   * set its handlers and then resume it.
   *
   * <pre>{@code
   * HttpClientResponse response = PicosVertx.awaitStream(request.send());
   * try (ReadStreamIterator<Buffer> body = PicosVertx.iterate(response)) { ... }
   * }</pre>
   *
   * <p>If {@code future} has already completed, its stream may have emitted already: call this
   * on the future as soon as you have it.
   *
   * <p>Threading: as {@link #await}; the stream is paused on the thread that completes the
   * future, in its callback.
   *
   * <p>Cancellation: as {@link #await}: a cancelled fiber stops waiting, and a stream that
   * arrives later stays paused, with nobody reading it (close its resource; for a plain future,
   * {@link #await(Future, Consumer)} does that).
   *
   * @param <S> the type of the stream
   * @param future the future of the stream
   * @return the stream, paused
   * @throws RuntimeException as {@link #await}
   * @throws IllegalStateException as {@link #await}
   * @throws NullPointerException if {@code future} is null
   */
  public static <S extends ReadStream<?>> S awaitStream(Future<S> future) {
    Objects.requireNonNull(future, "future");
    return await(future.andThen(result -> {
      if (result.succeeded() && result.result() != null) {
        result.result().pause();
      }
    }));
  }

  /**
   * Consumes {@code stream} from a fiber with backpressure, fetching {@value #DEFAULT_PREFETCH}
   * items at a time; see {@link #iterate(ReadStream, int)}.
   *
   * <p>Threading and cancellation: as {@link #iterate(ReadStream, int)}.
   *
   * @param <T> the type of the items
   * @param stream the stream to consume
   * @return an iterable, closable iterator over the stream's items
   * @throws NullPointerException if {@code stream} is null
   */
  public static <T> ReadStreamIterator<T> iterate(ReadStream<T> stream) {
    return iterate(stream, DEFAULT_PREFETCH);
  }

  /**
   * Consumes {@code stream} from a fiber with real backpressure: the stream is paused at once and
   * then asked for {@code prefetch} items at a time with {@link ReadStream#fetch}, only when the
   * items fetched before have been consumed. {@link ReadStreamIterator#hasNext()} suspends the
   * fiber until an item, the end of the stream, or its failure arrives. The answer is both the
   * iterator and an {@link Iterable} over it, for one for-each loop; close it (try-with-resources)
   * to stop consuming early. This call installs the iterator's handlers on the stream (replacing
   * any set before) and needs no fiber; make it before the stream flows (in the handler that
   * receives the stream, or after pausing it there), since data a Vert.x stream emits without a
   * handler is lost. See {@link ReadStreamIterator} for cancellation and closing.
   *
   * <pre>{@code
   * try (ReadStreamIterator<Buffer> body = PicosVertx.iterate(request, 8)) {
   *   for (Buffer chunk : body) { ... }
   * }
   * }</pre>
   *
   * <p>Threading: the stream's handlers run where the stream delivers (its context); the
   * consumer may be a fiber of any scheduler, and calls {@code fetch} on its own thread, so run
   * it on the stream's context unless the stream may be driven from any thread.
   *
   * <p>Cancellation: a consuming fiber cancelled while it waits closes the iterator and gets
   * its cause; closing the iterator stops fetching (the stream stays paused).
   *
   * @param <T> the type of the items
   * @param stream the stream to consume
   * @param prefetch how many items to ask the stream for at a time
   * @return an iterable, closable iterator over the stream's items
   * @throws IllegalArgumentException if {@code prefetch} is not positive
   * @throws NullPointerException if {@code stream} is null
   */
  public static <T> ReadStreamIterator<T> iterate(ReadStream<T> stream, int prefetch) {
    Objects.requireNonNull(stream, "stream");
    if (prefetch <= 0) {
      throw new IllegalArgumentException("iterate: prefetch must be positive, was " + prefetch);
    }
    return new ReadStreamIterator<>(stream, prefetch);
  }

  // ---------------------------------------------------------------------------------------
  // Shared machinery (also used by FiberVerticle)

  /**
   * An executor that runs each task on {@code ctx} as a Vert.x dispatch: always queued (never
   * inline, so a fiber's slices never nest), with {@code ctx} as the current context.
   */
  static Executor executorRunningOn(ContextInternal ctx) {
    return task -> ctx.runOnContext(ignored -> task.run());
  }

  /** A builder of a scheduler whose fibers run on {@code ctx}, with a Vert.x timer. */
  static ExecutorScheduler.Builder onContext(ContextInternal ctx, String name) {
    return ExecutorScheduler.builder(executorRunningOn(ctx)).name(name).timer(timer(ctx.owner()));
  }

  /**
   * A placement that runs a new fiber on the context given to {@link #startOn} (a root fiber),
   * else on the current context when it is {@code home} or a duplicate of it (a child spawned by
   * a fiber running there), else on {@code home}; with a null {@code home}, on the current
   * context, or a fresh event-loop context of {@code vx} off any context.
   */
  static Supplier<Executor> placement(VertxInternal vx, ContextInternal home) {
    return () -> {
      ContextInternal ctx = PLACE.get();
      if (ctx == null) {
        ContextInternal current = ContextInternal.current();
        if (current != null && (home == null || current.unwrap() == home.unwrap())) {
          ctx = current;
        } else {
          ctx = home != null ? home : vx.createEventLoopContext();
        }
      }
      return executorRunningOn(ctx);
    };
  }

  /** Starts a root fiber of {@code scheduler} on {@code ctx}; see {@link #placement}. */
  static <T> Computation<T> startOn(Scheduler scheduler, ContextInternal ctx, Callable<T> body) {
    PLACE.set(ctx);
    try {
      return scheduler.start(body);
    } finally {
      PLACE.remove();
    }
  }

  /**
   * Vert.x's timer as a Picos timer: {@link Vertx#setTimer} rounded up to whole milliseconds
   * (at least one), cancelled with {@link Vertx#cancelTimer}. Once Vert.x has shut its event
   * loops down it falls back to the core's timer, so timeouts still fire while fibers unwind.
   */
  static Timer timer(Vertx vertx) {
    return (task, nanos) -> {
      long millis = Math.max(1, nanos / 1_000_000 + (nanos % 1_000_000 == 0 ? 0 : 1));
      long id;
      try {
        id = vertx.setTimer(millis, ignored -> task.run());
      } catch (RejectedExecutionException | IllegalStateException closed) {
        return Timer.shared().schedule(task, nanos);
      }
      return () -> vertx.cancelTimer(id);
    };
  }

  /**
   * The scheduler behind {@link #future} on {@code ctx}: the one registered for its deployment
   * (a {@link FiberVerticle}'s, or one made on first use and closed with the deployment's
   * context), or, off any deployment, the one of its Vert.x instance. Kept in the base context's
   * local data, so there is one per deployment context, not one per duplicate.
   */
  static ExecutorScheduler schedulerOf(ContextInternal ctx) {
    ContextInternal base = ctx.unwrap();
    String deployment = base.deploymentID();
    if (deployment == null) {
      return shared(base.owner());
    }
    ConcurrentMap<Object, Object> data = base.localContextData();
    Object existing = data.get(SCHEDULER_KEY);
    if (existing != null) {
      return (ExecutorScheduler) existing;
    }
    ExecutorScheduler created = onContext(base, "vertx-deployment(" + deployment + ")")
        .placement(placement(base.owner(), base))
        .build();
    existing = data.putIfAbsent(SCHEDULER_KEY, created);
    if (existing != null) {
      return (ExecutorScheduler) existing; // the one built here has no fiber and no hook: dropped
    }
    new ContextCloseHook(base).attach(created);
    return created;
  }

  /** Makes {@code scheduler} the one {@link #future} uses on {@code ctx}'s deployment. */
  static void register(ContextInternal ctx, ExecutorScheduler scheduler) {
    ctx.unwrap().localContextData().put(SCHEDULER_KEY, scheduler);
  }

  /** The scheduler behind {@link #future} off any deployment: one per Vert.x instance. */
  private static ExecutorScheduler shared(VertxInternal vx) {
    return perVertx(vx).futures;
  }

  /** The schedulers of {@code vx}, made on first use; see {@link #INSTANCES}. */
  private static PerVertx perVertx(VertxInternal vx) {
    return INSTANCES.get(vx, v -> {
      PerVertx p = new PerVertx(v);
      p.attach(v, p.futures, p.everywhere.fibers);
      return p;
    });
  }

  /**
   * The shared schedulers of one Vert.x instance, and their close hook: the instance's close
   * future holds it, and so keeps it alive, until the instance closes.
   */
  private static final class PerVertx extends VertxCloseHook {
    /** Behind {@link #future(Context, Callable)} off deployments, and their contexts' shared schedulers. */
    final ExecutorScheduler futures;
    /** {@link #scheduler(Vertx)}. */
    final Shared everywhere;

    PerVertx(VertxInternal vx) {
      Supplier<Executor> place = placement(vx, null);
      // The builder's executor is never used: the placement gives every fiber its own.
      futures = ExecutorScheduler.builder(task -> place.get().execute(task))
          .name("vertx-futures(" + vx + ")")
          .placement(place)
          .timer(timer(vx))
          .build();
      everywhere = new Shared(freshContextEach(vx, "PicosVertx.scheduler(" + vx + ")").build(), null,
          "PicosVertx.scheduler(" + vx + ")", "PicosVertx.newScheduler(vertx)");
    }
  }

  /**
   * A shared scheduler as {@link #scheduler(Context)} and {@link #scheduler(Vertx)} answer it:
   * starts fibers on {@link #fibers} (root fibers on {@link #place}, when set) and refuses to be
   * closed, since everyone using the host shares it; its fibers end with the host.
   */
  private static final class Shared implements Scheduler {
    final ExecutorScheduler fibers;
    private final ContextInternal place;
    private final String name;
    private final String ownAdvice;

    Shared(ExecutorScheduler fibers, ContextInternal place, String name, String ownAdvice) {
      this.fibers = fibers;
      this.place = place;
      this.name = name;
      this.ownAdvice = ownAdvice;
    }

    @Override
    public <T> Computation<T> start(Callable<T> main) {
      return place == null ? fibers.start(main) : startOn(fibers, place, main);
    }

    @Override
    public void spawn(Fiber fiber, Runnable main) {
      if (place == null) {
        fibers.spawn(fiber, main);
        return;
      }
      PLACE.set(place);
      try {
        fibers.spawn(fiber, main);
      } finally {
        PLACE.remove();
      }
    }

    /** Refused: see {@link PicosVertx#scheduler(Context)}. */
    @Override
    public void close() {
      throw new UnsupportedOperationException(name + " is shared by everyone using its host and"
          + " cannot be closed; its fibers end when the host does (an undeployment, or Vert.x's"
          + " close). For a scheduler of your own to close, use " + ownAdvice + ".");
    }

    @Override
    public boolean isClosed() {
      return fibers.isClosed();
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /** Why a scheduler on {@code ctx} closes when the context's close hook runs. */
  static String closeReason(ContextInternal ctx, String scheduler) {
    if (vertxClosing(ctx.owner())) {
      return vertxClosedReason(ctx.owner(), scheduler);
    }
    String deployment = ctx.deploymentID();
    return deployment != null
        ? "Deployment " + deployment + " was undeployed (its context closed) while this fiber of "
            + scheduler + " was alive"
        : "Vert.x context " + describe(ctx) + " was closed while this fiber of " + scheduler
            + " was alive";
  }

  static String vertxClosedReason(VertxInternal vx, String scheduler) {
    return "Vert.x instance " + vx + " was closed while this fiber of " + scheduler + " was alive";
  }

  /** Whether {@code vx} has begun closing. */
  static boolean vertxClosing(VertxInternal vx) {
    return vx.closeFuture().isClosed();
  }

  static ContextInternal internal(Context context, String method) {
    Objects.requireNonNull(context, "context");
    if (!(context instanceof ContextInternal ctx)) {
      throw new IllegalArgumentException(method + ": " + context.getClass().getName()
          + " is not a Vert.x core context; pass Vertx.currentContext() or vertx.getOrCreateContext()");
    }
    if (ctx.threadingModel() == ThreadingModel.VIRTUAL_THREAD) {
      throw new IllegalArgumentException(method + ": " + describe(ctx) + " is a virtual-thread"
          + " context, where code may block: use Vert.x's own Future.await() there, or give an"
          + " event-loop or worker context (vertx.getOrCreateContext() on an event loop)");
    }
    return ctx;
  }

  static VertxInternal internal(Vertx vertx) {
    Objects.requireNonNull(vertx, "vertx");
    if (!(vertx instanceof VertxInternal vx)) {
      throw new IllegalArgumentException(vertx.getClass().getName()
          + " is not a Vert.x core instance; pass the Vertx built by Vertx.vertx() or Vertx.builder()");
    }
    return vx;
  }

  static String describe(ContextInternal ctx) {
    String deployment = ctx.deploymentID();
    return ctx.threadingModel() + " context" + (deployment == null ? "" : " of deployment " + deployment)
        + (ctx.isDuplicate() ? " (duplicate)" : "") + "@" + Integer.toHexString(System.identityHashCode(ctx));
  }

  // ---------------------------------------------------------------------------------------
  // Close hooks

  /** Closes a scheduler when its context closes (undeploy, or Vert.x close). */
  private static final class ContextCloseHook implements Closeable {
    private final ContextInternal ctx;
    private volatile ExecutorScheduler scheduler;

    ContextCloseHook(ContextInternal ctx) {
      this.ctx = ctx;
    }

    void attach(ExecutorScheduler s) {
      scheduler = s;
      CloseFuture closing = ctx.closeFuture();
      if (!closing.add(this)) {
        s.hostClosed(closeReason(ctx, s.toString()));
      }
    }

    @Override
    public void close(Completable<Void> completion) {
      ExecutorScheduler s = scheduler;
      s.hostClosed(closeReason(ctx, s.toString()));
      completion.succeed();
    }
  }

  /** Closes schedulers when their Vert.x instance closes. */
  private static class VertxCloseHook implements Closeable {
    private volatile ExecutorScheduler[] schedulers;
    private volatile VertxInternal vx;

    void attach(VertxInternal vx, ExecutorScheduler... schedulers) {
      this.schedulers = schedulers;
      this.vx = vx;
      if (!vx.closeFuture().add(this)) {
        hostClosed();
      }
    }

    void hostClosed() {
      for (ExecutorScheduler s : schedulers) {
        s.hostClosed(vertxClosedReason(vx, s.toString()));
      }
    }

    @Override
    public void close(Completable<Void> completion) {
      hostClosed();
      completion.succeed();
    }
  }
}
