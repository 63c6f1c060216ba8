package org.picos.bridge.vertx;

import io.vertx.core.Context;
import io.vertx.core.Deployable;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.PromiseInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.ReadStream;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.sched.ExecutorScheduler;

/**
 * A verticle written in straight-line style: its {@link #start()} and {@link #stop()} run in
 * fibers on the verticle's context, so they may await Vert.x futures
 * ({@link PicosVertx#await}), streams ({@link PicosVertx#iterate}) and any Picos primitive
 * without blocking the event loop.
 *
 * <pre>{@code
 * class Server extends FiberVerticle {
 *   protected void start() {
 *     HttpServer server = vertx.createHttpServer().requestHandler(fiberHandler(request -> {
 *       long bytes = 0;
 *       try (ReadStreamIterator<Buffer> body = PicosVertx.iterate(request)) {
 *         while (body.hasNext()) {                     // suspends this fiber only
 *           bytes += body.next().length();
 *         }
 *       }
 *       PicosVertx.await(request.response().end("got " + bytes + " bytes"));
 *     }));
 *     PicosVertx.await(server.listen(0, "127.0.0.1"));   // deployment completes after this
 *   }
 * }
 * vertx.deployVerticle(new Server());
 * }</pre>
 *
 * <h2>Lifecycle</h2>
 * <ul>
 *   <li>Deploy: {@link #start()} runs in a fiber on the deployment's context; the deployment
 *       completes when it returns, or fails with what it threw (the fibers it started are then
 *       cancelled).</li>
 *   <li>Fibers of the verticle: those started with {@link #spawn}, {@link #fiberHandler},
 *       {@link #scheduler()} or {@link PicosVertx#future} on its context, and all their
 *       children, run on the verticle's context (a handler
 *       fiber on the duplicate of it that delivered its event, so per-request context data is
 *       in place) and belong to the verticle.</li>
 *   <li>Undeploy: {@link #stop()} runs in a fiber while the verticle's other fibers still run;
 *       when it returns, every fiber of the verticle still alive is cancelled with a
 *       {@link SchedulerClosedException} naming the undeployment, and the undeployment completes
 *       once they have all ended (failing with what {@code stop()} threw, if it did).</li>
 *   <li>Closing Vert.x undeploys every verticle, so the same happens, and the cancellation
 *       cause names the Vert.x shutdown instead.</li>
 * </ul>
 * A {@code stop()} that never returns holds the undeployment (and so Vert.x's close) up, as the
 * stop of any verticle does. A verticle instance is deployed at most once.
 */
public abstract class FiberVerticle implements Deployable {
  /** The Vert.x instance this verticle is deployed on; set before {@link #start()}. */
  protected Vertx vertx;
  /** The verticle's context; set before {@link #start()}. */
  protected Context context;

  private ContextInternal home;
  private volatile ExecutorScheduler scheduler;
  /** The deployment, as fiber dumps name it: the scope of every fiber of this verticle. */
  private String deployment;
  private volatile Throwable stopFailure;
  private volatile PromiseInternal<Void> undeployed;

  /** Creates the verticle; it does nothing until deployed. */
  protected FiberVerticle() {}

  /**
   * Runs in a fiber on the verticle's context when the verticle is deployed. It may await; the
   * deployment completes when it returns and fails with what it throws.
   *
   * <p>Threading: runs on the verticle's context (its event-loop thread for a standard
   * verticle), as a fiber of {@link #scheduler()}.
   *
   * <p>Cancellation: when it fails, the fibers it started are cancelled with a
   * {@link SchedulerClosedException} naming the failed start.
   *
   * @throws Exception to fail the deployment
   */
  protected abstract void start() throws Exception;

  /**
   * Runs in a fiber on the verticle's context when the verticle is undeployed, before its other
   * fibers are cancelled. It may await. The default does nothing.
   *
   * <p>Threading: runs on the verticle's context, while the verticle's other fibers still run.
   *
   * <p>Cancellation: it is not cancelled by the undeployment it serves; once it returns (or
   * throws), every other fiber of the verticle is cancelled.
   *
   * @throws Exception to fail the undeployment (the verticle is undeployed all the same)
   */
  protected void stop() throws Exception {}

  /**
   * Vert.x's side of deployment: runs {@link #start()} in a fiber. Not for users to call.
   *
   * <p>Threading: called by Vert.x on the verticle's context. Cancellation: a start that fails
   * cancels the fibers it started (see {@link #start()}).
   *
   * @param context the deployment's context
   * @return a future completed when {@code start()} returns, failed with what it threw
   * @throws IllegalStateException if this instance is already deployed
   * @throws IllegalArgumentException if {@code context} is a virtual-thread context
   */
  @Override
  public final Future<?> deploy(Context context) {
    ContextInternal ctx = PicosVertx.internal(context, "FiberVerticle.deploy");
    if (scheduler != null) {
      throw new IllegalStateException("FiberVerticle " + getClass().getName()
          + " is already deployed; deploy a new instance (or pass a Supplier to deployVerticle)");
    }
    this.context = ctx;
    this.vertx = ctx.owner();
    this.home = ctx;
    String name = "verticle " + getClass().getName() + " (deployment " + ctx.deploymentID() + ")";
    deployment = name;
    ExecutorScheduler s = PicosVertx.onContext(ctx, name)
        .placement(PicosVertx.placement(ctx.owner(), ctx))
        .onClose(this::allFibersEnded, null)
        .build();
    scheduler = s;
    PicosVertx.register(ctx, s);
    PromiseInternal<Void> started = ctx.promise();
    Computation<Object> main = PicosVertx.startOn(s, ctx, () -> {
      label("FiberVerticle.start");
      start();
      return null;
    });
    main.whenDone(() -> {
      Throwable failure = main.canceled();
      if (failure == null) {
        started.complete();
      } else {
        s.hostClosed(name + " failed to start (" + failure + ") while this fiber was alive");
        started.fail(failure);
      }
    });
    return started.future();
  }

  /**
   * Vert.x's side of undeployment: runs {@link #stop()} in a fiber, then cancels the verticle's
   * fibers and completes once they have ended. Not for users to call.
   *
   * <p>Threading: called by Vert.x; {@code stop()} runs on the verticle's context.
   * Cancellation: every fiber of the verticle still alive after {@code stop()} is cancelled with
   * a {@link SchedulerClosedException} naming the undeployment.
   *
   * @param context the deployment's context
   * @return a future completed once every fiber of the verticle has ended, failed with what
   *     {@code stop()} threw
   */
  @Override
  public final Future<?> undeploy(Context context) {
    ExecutorScheduler s = scheduler;
    PromiseInternal<Void> done = home.promise();
    undeployed = done;
    String why = PicosVertx.vertxClosing(home.owner())
        ? "Vert.x instance " + home.owner() + " was closed, undeploying " + s + ", while this fiber was alive"
        : s + " was undeployed while this fiber was alive";
    try {
      PicosVertx.startOn(s, home, () -> {
        label("FiberVerticle.stop");
        try {
          stop();
        } catch (Throwable failure) {
          stopFailure = failure;
        }
        s.hostClosed(why);
        // From a fiber of s, close() does not wait: allFibersEnded runs when the last one ends.
        s.close();
        return null;
      });
    } catch (SchedulerClosedException alreadyClosed) {
      s.hostClosed(why);
      done.complete();
    }
    return done.future();
  }

  /** Names the calling fiber for dumps, in the scope of this deployment. */
  private void label(String what) {
    Fiber me = Fiber.current();
    me.setName(what);
    me.setScope(deployment);
  }

  private void allFibersEnded() {
    PromiseInternal<Void> done = undeployed;
    if (done != null) {
      Throwable failure = stopFailure;
      if (failure == null) {
        done.tryComplete();
      } else {
        done.tryFail(failure);
      }
    }
  }

  /**
   * Starts {@code body} in a new fiber of this verticle, on its context; returns its
   * computation.
   *
   * <p>Threading: safe from any thread; the fiber runs on the verticle's context.
   *
   * <p>Cancellation: undeploying the verticle cancels the fiber; cancelling the computation
   * cancels only this fiber.
   *
   * @param <T> the type of the result
   * @param body what the fiber runs
   * @return the fiber's computation
   * @throws NullPointerException if {@code body} is null
   * @throws SchedulerClosedException if the verticle is undeployed (or failed to start)
   * @throws IllegalStateException if the verticle is not deployed yet
   */
  protected final <T> Computation<T> spawn(Callable<T> body) {
    Objects.requireNonNull(body, "body");
    return PicosVertx.startOn(scheduler(), home, body);
  }

  /**
   * Wraps {@code handler} so that each event runs it in a new fiber of this verticle, on the
   * context that delivered the event when that is the verticle's context or a duplicate of it
   * (as for HTTP requests), else on the verticle's context. The handler may await.
   *
   * <p>An event that is itself a {@link ReadStream} (an HTTP request, a socket) is
   * {@linkplain ReadStream#pause() paused} before the fiber starts, since the fiber runs only
   * after the event's delivery returns and a Vert.x stream emitting with no handler loses its
   * data: consume it in the fiber with {@link PicosVertx#iterate}, or set its handlers and then
   * resume it (for example {@code Future<Buffer> body = request.body(); request.resume();},
   * in that order).
   *
   * <p>A failure it throws goes to the context's exception handler
   * ({@link Context#exceptionHandler}); a cancellation by undeployment is not reported. Events
   * that arrive after undeployment are reported there as a {@link SchedulerClosedException}.
   *
   * <p>Threading: the returned handler may be called on any thread; each fiber runs on the
   * context chosen above.
   *
   * <p>Cancellation: undeploying the verticle cancels the handler fibers still running.
   *
   * @param <E> the type of the events
   * @param handler what each event's fiber runs
   * @return a Vert.x handler that starts a fiber per event
   * @throws NullPointerException if {@code handler} is null
   */
  protected final <E> io.vertx.core.Handler<E> fiberHandler(io.vertx.core.Handler<E> handler) {
    Objects.requireNonNull(handler, "handler");
    return event -> {
      if (event instanceof ReadStream<?> stream) {
        stream.pause();
      }
      ContextInternal current = ContextInternal.current();
      ContextInternal where = current != null && current.unwrap() == home.unwrap() ? current : home;
      Computation<Object> c;
      try {
        c = PicosVertx.startOn(scheduler(), where, () -> {
          label("FiberVerticle.fiberHandler");
          handler.handle(event);
          return null;
        });
      } catch (SchedulerClosedException closed) {
        where.reportException(closed);
        return;
      }
      c.whenDone(() -> {
        Throwable failure = c.canceled();
        if (failure != null && !(failure instanceof SchedulerClosedException)) {
          where.reportException(failure);
        }
      });
    };
  }

  /**
   * The scheduler of this verticle's fibers: fibers started on it run on the verticle's context
   * and are cancelled at undeployment. It is also what {@link PicosVertx#scheduler(Context)}
   * and {@link PicosVertx#future(Context, Callable)} use on the verticle's context.
   *
   * <p>Threading: safe from any thread. Cancellation: closing it is the verticle's business
   * (the undeployment does it): do not.
   *
   * @return the verticle's scheduler
   * @throws IllegalStateException if the verticle is not deployed yet
   */
  protected final Scheduler scheduler() {
    ExecutorScheduler s = scheduler;
    if (s == null) {
      throw new IllegalStateException("FiberVerticle " + getClass().getName()
          + " is not deployed yet: its fibers start once Vert.x deploys it (start() runs in one)");
    }
    return s;
  }

  /**
   * The deployment id. Threading: safe from any thread. Cancellation: none.
   *
   * @return the deployment id, or null before deployment
   */
  public String deploymentID() {
    return context == null ? null : context.deploymentID();
  }

  /**
   * The deployment's configuration. Threading: safe from any thread. Cancellation: none.
   *
   * @return the configuration, or an empty object before deployment
   */
  public JsonObject config() {
    return context == null ? new JsonObject() : context.config();
  }
}
