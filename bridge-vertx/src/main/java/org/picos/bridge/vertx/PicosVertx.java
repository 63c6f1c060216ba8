package org.picos.bridge.vertx;

import io.vertx.core.Closeable;
import io.vertx.core.Completable;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.internal.CloseFuture;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.PromiseInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.streams.ReadStream;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;
import org.picos.Computation;
import org.picos.spi.Handler;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.sched.ExecutorScheduler;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Timer;

/**
 * Picos on Vert.x: Vert.x contexts as Picos schedulers, Picos work as Vert.x futures, and Vert.x
 * futures and read streams awaited in fibers. A fiber on a Vert.x event loop is written in
 * straight-line style and still never blocks the loop: each await suspends the fiber (a
 * continuation) and gives the thread back to Vert.x. (Vert.x's own {@code Future.await()} needs
 * a virtual-thread context, off the event loop; these fibers run on the loop itself.)
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
 * <h2>Shutdown</h2>
 * Every scheduler of this class listens to its host's close: when the context is closed (its
 * deployment undeployed) or the {@link Vertx} instance is closed, each fiber still alive is
 * cancelled with a {@link SchedulerClosedException} whose message names that shutdown, and
 * unwinds (on the event loop while Vert.x still runs it, else on a fallback daemon thread).
 * Nothing stays suspended forever.
 *
 * <h2>Never block the event loop</h2>
 * Loading this class registers a {@link Handler#addBlockingGuard blocking guard}: a Picos wait
 * ({@code Computation.await}, {@link #await(Future)}, a mutex, a channel, ...) called on a Vert.x
 * event-loop thread <em>outside</em> a fiber throws an {@link IllegalStateException} saying to run
 * the code in a fiber, instead of blocking (and possibly deadlocking) the loop. Waits inside
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
  public static final int DEFAULT_BATCH = 16;

  private static final Runnable EVENT_LOOP_GUARD = PicosVertx::refuseBlockingOnEventLoop;

  static {
    BlockingGuards.add(EVENT_LOOP_GUARD);
  }

  /** Key of a deployment's scheduler in its context's local data; see {@link #schedulerOf}. */
  private static final Object SCHEDULER_KEY = new Object();

  /** The scheduler behind {@link #future} off deployments, one per Vert.x instance, dropped when it closes. */
  private static final Map<VertxInternal, ExecutorScheduler> SHARED = new ConcurrentHashMap<>();

  /**
   * The context a root fiber being started on this thread must run on; read by the placement of
   * the schedulers whose fibers choose their context (see {@link #startOn}).
   */
  private static final ThreadLocal<ContextInternal> PLACE = new ThreadLocal<>();

  private PicosVertx() {}

  // ---------------------------------------------------------------------------------------
  // Vert.x hosts as Picos schedulers

  /**
   * A scheduler whose fibers all run on {@code context}: on its event-loop thread for an
   * event-loop context (in order on its worker queue for a worker context), with
   * {@link Vertx#currentContext()} equal to {@code context} before and after every await.
   * Children spawned by its fibers run there too.
   *
   * <p>The scheduler belongs to the caller: {@link Scheduler#close()} cancels its live fibers and
   * waits for them (from a plain thread; on the event loop itself, close from a fiber, which
   * does not wait). Closing the context (undeploying its verticle) or the Vert.x instance closes
   * it too, cancelling its fibers with a cause naming that shutdown.
   *
   * @throws IllegalArgumentException if {@code context} is a virtual-thread context (blocking
   *     is already allowed there: use Vert.x's own {@code Future.await()}) or not a Vert.x
   *     context
   * @throws NullPointerException if {@code context} is null
   */
  public static Scheduler scheduler(Context context) {
    ContextInternal ctx = internal(context, "scheduler");
    String name = "vertx-context(" + describe(ctx) + ")";
    ContextCloseHook hook = new ContextCloseHook(ctx);
    ExecutorScheduler scheduler = onContext(ctx, name)
        .onClose(() -> ctx.closeFuture().remove(hook), null)
        .build();
    hook.attach(scheduler);
    return scheduler;
  }

  /**
   * A scheduler over a whole Vert.x instance: each new fiber (root or child) gets a fresh
   * event-loop context of its own, so fibers spread over the event loops, and stays on it for
   * life, seeing it as {@link Vertx#currentContext()}. Closing the Vert.x instance cancels the
   * live fibers with a cause naming the shutdown. {@link Scheduler#close()} cancels them and
   * waits (leaving Vert.x running).
   *
   * @throws NullPointerException if {@code vertx} is null
   * @throws IllegalArgumentException if {@code vertx} is not a Vert.x core instance
   */
  public static Scheduler scheduler(Vertx vertx) {
    VertxInternal vx = internal(vertx);
    Supplier<Executor> fresh = () -> executorRunningOn(vx.createEventLoopContext());
    VertxCloseHook hook = new VertxCloseHook();
    // The builder's executor is never used: the placement gives every fiber its own.
    ExecutorScheduler scheduler = ExecutorScheduler.builder(task -> fresh.get().execute(task))
        .name("vertx(" + vx + ")")
        .placement(fresh)
        .timer(timer(vx))
        .onClose(() -> vx.closeFuture().remove(hook), null)
        .build();
    hook.attach(scheduler, vx);
    return scheduler;
  }

  // ---------------------------------------------------------------------------------------
  // Picos work as Vert.x futures

  /**
   * Starts {@code body} at once in a fiber on {@code context} and returns a Vert.x future bound
   * to that context (its callbacks run there) that completes with the body's value or failure.
   * The fiber sees {@code context} as {@link Vertx#currentContext()}; children it spawns run
   * there too.
   *
   * <p>Cancellation: Vert.x futures cannot be cancelled, so the fiber runs until its body ends,
   * or until its host goes away: when {@code context} belongs to a deployment, until that
   * deployment is undeployed (for a {@link FiberVerticle}, the fiber is one of the verticle's);
   * otherwise until the Vert.x instance is closed. It is then cancelled with a
   * {@link SchedulerClosedException} naming the shutdown, which also fails the future.
   *
   * @return a future failed with a {@link SchedulerClosedException} if the deployment is
   *     undeployed or the Vert.x instance closed
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
   * suspending. In a fiber this suspends the fiber (on any scheduler); on a plain thread it
   * blocks, except on a Vert.x event-loop thread, where it throws instead.
   *
   * <p>Cancellation: if the awaiting fiber is cancelled, the await ends at once and throws the
   * fiber's cancellation cause. Vert.x futures cannot be cancelled and their listeners cannot be
   * removed, so the operation behind {@code future} goes on and its result is dropped: the wait
   * is detached, not the operation.
   *
   * <p>For a future whose value is a stream that flows at once (an HTTP response), use
   * {@link #awaitStream}, or compose its consumption in the callback
   * ({@code request.send().compose(HttpClientResponse::body)}), so that no data is lost before
   * the fiber resumes.
   *
   * @throws IllegalStateException on a Vert.x event-loop thread outside a fiber, when the future
   *     has not completed (the message says to use a fiber)
   * @throws NullPointerException if {@code future} is null
   */
  public static <T> T await(Future<T> future) {
    Objects.requireNonNull(future, "future");
    if (!future.isComplete()) {
      Trigger done = Trigger.create();
      future.onComplete(result -> done.signal());
      done.awaitOrAbandon(() -> {}); // a Vert.x future cannot be cancelled: only stop waiting
    }
    if (future.succeeded()) {
      return future.result();
    }
    throw Computation.unchecked(future.cause());
  }

  /**
   * Waits for a future whose value is a stream that starts flowing at once (an
   * {@code HttpClientResponse}, a {@code NetSocket}, a server request), pausing the stream in the
   * future's own completion callback, before it can emit anything. A plain {@link #await} resumes
   * the fiber only after that callback has returned, by when the stream may already have emitted
   * data to no handler, which Vert.x drops. Consume the paused stream with {@link #iterate}, or
   * set its handlers and then resume it. Throws as {@link #await} does.
   *
   * <pre>{@code
   * HttpClientResponse response = PicosVertx.awaitStream(request.send());
   * try (ReadStreamIterator<Buffer> body = PicosVertx.iterate(response)) { ... }
   * }</pre>
   *
   * <p>If {@code future} has already completed, its stream may have emitted already: call this
   * on the future as soon as you have it.
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
   * Consumes {@code stream} from a fiber with backpressure, fetching {@value #DEFAULT_BATCH}
   * items at a time; see {@link #iterate(ReadStream, int)}.
   */
  public static <T> ReadStreamIterator<T> iterate(ReadStream<T> stream) {
    return iterate(stream, DEFAULT_BATCH);
  }

  /**
   * Consumes {@code stream} from a fiber with real backpressure: the stream is paused at once and
   * then asked for {@code batch} items at a time with {@link ReadStream#fetch}, only when the
   * items fetched before have been consumed. {@link ReadStreamIterator#hasNext()} suspends the
   * fiber until an item, the end of the stream, or its failure arrives. This call installs the
   * iterator's handlers on the stream (replacing any set before) and needs no fiber; make it
   * before the stream flows (in the handler that receives the stream, or after pausing it
   * there), since data a Vert.x stream emits without a handler is lost. See
   * {@link ReadStreamIterator} for cancellation and closing.
   *
   * @throws IllegalArgumentException if {@code batch} is not positive
   * @throws NullPointerException if {@code stream} is null
   */
  public static <T> ReadStreamIterator<T> iterate(ReadStream<T> stream, int batch) {
    Objects.requireNonNull(stream, "stream");
    if (batch <= 0) {
      throw new IllegalArgumentException("iterate: batch must be positive, was " + batch);
    }
    return new ReadStreamIterator<>(stream, batch);
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
    ExecutorScheduler s = SHARED.get(vx);
    if (s != null) {
      return s;
    }
    VertxCloseHook hook = new VertxCloseHook() {
      @Override
      void hostClosed() {
        SHARED.remove(vx);
        super.hostClosed();
      }
    };
    Supplier<Executor> place = placement(vx, null);
    // The builder's executor is never used: the placement gives every fiber its own.
    ExecutorScheduler created = ExecutorScheduler.builder(task -> place.get().execute(task))
        .name("vertx-futures(" + vx + ")")
        .placement(place)
        .timer(timer(vx))
        .build();
    s = SHARED.putIfAbsent(vx, created);
    if (s != null) {
      return s;
    }
    hook.attach(created, vx);
    return created;
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

  private static void refuseBlockingOnEventLoop() {
    if (Context.isOnEventLoopThread()) {
      throw new IllegalStateException("A Picos wait was called outside a fiber on the Vert.x event-loop"
          + " thread " + Thread.currentThread().getName() + ": blocking it would stall every handler of"
          + " the loop (and deadlock if the awaited result needs this loop). Run this code in a fiber"
          + " on the context: PicosVertx.future(Vertx.currentContext(), () -> ...), a scheduler from"
          + " PicosVertx.scheduler(context), or a FiberVerticle; there the wait suspends the fiber"
          + " instead.");
    }
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

  /** Closes a scheduler when its Vert.x instance closes. */
  private static class VertxCloseHook implements Closeable {
    private volatile ExecutorScheduler scheduler;
    private volatile VertxInternal vx;

    void attach(ExecutorScheduler s, VertxInternal vx) {
      this.scheduler = s;
      this.vx = vx;
      if (!vx.closeFuture().add(this)) {
        hostClosed();
      }
    }

    void hostClosed() {
      ExecutorScheduler s = scheduler;
      s.hostClosed(vertxClosedReason(vx, s.toString()));
    }

    @Override
    public void close(Completable<Void> completion) {
      hostClosed();
      completion.succeed();
    }
  }
}
