package org.picos.bridge.netty;

import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.BlockingOperationException;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.internal.ThreadExecutorMap;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.picos.sched.Schedulers;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Support;

/**
 * Picos on Netty: event loops as Picos schedulers, Picos work as Netty futures, Netty futures
 * awaited in fibers, and a fiber per channel with suspending read and write.
 *
 * <table>
 *   <caption>The verbs of this facade</caption>
 *   <tr><th>verb</th><th>here</th></tr>
 *   <tr><td>host to Picos scheduler</td><td>{@link #scheduler(EventLoop)},
 *       {@link #scheduler(EventLoopGroup)} (shared, cached per loop or group);
 *       {@link #newScheduler(EventLoop)}, {@link #newScheduler(EventLoopGroup)} (your own)</td></tr>
 *   <tr><td>work to Netty future</td><td>{@link #future(Callable)},
 *       {@link #future(Scheduler, Callable)}</td></tr>
 *   <tr><td>computation to Netty future</td><td>{@link #toFuture(Computation)}</td></tr>
 *   <tr><td>await</td><td>{@link #await(Future)}</td></tr>
 *   <tr><td>a channel's messages</td><td>{@link #fiberPerChannel}, {@link FiberChannel#read()}</td></tr>
 * </table>
 *
 * <p>What other facades have and this one does not, and why:
 * <ul>
 *   <li>No Picos scheduler as a Netty executor (the other facades' {@code asExecutor},
 *       {@code asReactorScheduler}): what Netty runs work on is an {@link EventExecutor}, a
 *       thread of its own with {@code inEventLoop()}, a termination future and, for an
 *       {@link EventLoop}, a transport's selector. A scheduler of fibers has none of these, and
 *       a fiber is not a thread that a channel can be registered with.</li>
 *   <li>No multi-valued awaits and no {@code iterate}: Netty has no type of its own for a stream
 *       of values apart from a channel, and a channel's messages are read in a fiber with
 *       {@link FiberChannel#read()}, which is that iteration, with backpressure.</li>
 * </ul>
 *
 * <h2>Fibers on an event loop</h2>
 * A fiber of {@link #scheduler(EventLoop)} runs on the loop's own thread, one slice (from a
 * resume to the next suspension) per task given to the loop, exactly like the loop's handlers:
 * inside it {@code loop.inEventLoop()} is true, and it is back on that thread after every
 * await. While it is suspended the loop is free to run everything else. Blocking-style code
 * ({@code read}, {@code await}, a mutex, a timeout) therefore runs on the loop without blocking
 * it and without leaving its thread, so it may touch channel state without locks.
 *
 * <h2>Shared schedulers and your own</h2>
 * {@link #scheduler(EventLoop)} answers the same scheduler every time for the same loop (and
 * {@link #scheduler(EventLoopGroup)} the same view for the same group): libraries built on
 * Netty (reactor-netty, Lettuce, a server's handlers) can ask for it per request without
 * making anything. It is held by the loop, so it lives as long as the loop and is freed with
 * it. Being shared, it cannot be closed: its {@code close()} throws
 * {@link UnsupportedOperationException}, like that of
 * {@link org.picos.sched.Schedulers#shared()}; it closes itself when the loop shuts down.
 * {@link #newScheduler(EventLoop)} and {@link #newScheduler(EventLoopGroup)} make a scheduler
 * of your own, which you close, and whose close cancels only its own fibers.
 *
 * <h2>Blocking on a loop thread is refused</h2>
 * Code that is not in a fiber blocks its thread when it awaits a Picos trigger or computation.
 * On an event-loop thread that would deadlock the loop, which must itself run whatever the wait
 * is for. With this jar on the class path (its {@link NettyBlockingGuard} is found by
 * {@link java.util.ServiceLoader}), every such wait throws a {@link BlockingOperationException}
 * (an {@link IllegalStateException}) that says to await in a fiber instead, on entry, even when
 * the result is already there. Fibers on the loop are never affected: they suspend rather than
 * block.
 *
 * <h2>Shutdown</h2>
 * When an event loop starts shutting down ({@code shutdownGracefully()}, of it or of its
 * group), every scheduler on it closes itself at once, on the loop, from a shutdown hook (no
 * polling): every fiber still alive is cancelled with a
 * {@link org.picos.SchedulerClosedException} whose message says the loop was shut down, and
 * unwinds on the loop while the shutdown's quiet period still runs its tasks. (A loop without
 * shutdown hooks, one that is not a {@link io.netty.util.concurrent.SingleThreadEventExecutor}
 * such as a {@code ManualIoEventLoop}, closes its schedulers when it terminates.) Slices that the
 * terminated loop can no longer run go to a fallback daemon thread, so nothing hangs and the
 * group terminates. Closing a scheduler of your own cancels its fibers and leaves the loop
 * running: the loop belongs to the caller.
 *
 * <h2>Cancellation across the bridge</h2>
 * Cancelling a future returned by {@link #future} or {@link #toFuture} cancels the fiber or
 * computation behind it; a fiber cancelled while it {@linkplain #await awaits} a Netty future
 * cancels that future (where Netty allows it). A fiber's failure reaches the returned future,
 * or, for {@link #fiberPerChannel}, the channel's pipeline ({@code exceptionCaught}); it is never
 * lost.
 */
public final class PicosNetty {
  private PicosNetty() {}

  // ---------------------------------------------------------------------------------------
  // Event loops as schedulers

  /**
   * The scheduler of {@code loop}, shared by everyone who asks for it: the same object on every
   * call for the same loop, made on the first. Its fibers all run on the loop's thread and
   * resume there after every await; {@link Computation#cancelAfter} uses {@code loop.schedule}.
   * {@link #fiberPerChannel} runs its fibers on it too.
   *
   * <p>Threading: safe to call from any thread; {@link Scheduler#start} works from anywhere,
   * while {@link Scheduler#run} blocks a plain caller, which is refused on an event-loop thread
   * (see the class comment).
   *
   * <p>Cancellation: the loop's shutdown cancels the fibers (see the class comment); the
   * scheduler itself cannot be closed (its {@code close()} throws
   * {@link UnsupportedOperationException}): use {@link #newScheduler(EventLoop)} for a scheduler
   * whose fibers you cancel by closing it.
   *
   * @param loop the event loop the fibers run on
   * @return the loop's shared scheduler; closed once the loop has begun shutting down
   * @throws NullPointerException if {@code loop} is null
   */
  public static Scheduler scheduler(EventLoop loop) {
    return LoopSchedulers.forLoop(Objects.requireNonNull(loop, "loop"));
  }

  /**
   * The scheduler of {@code group}, shared by everyone who asks for it (the same object for the
   * same group while anyone holds it). Each new fiber runs on one loop of the group for life:
   * on the calling thread's loop when that is one of the group's (so a child stays with its
   * parent, and work started from a channel's handler stays on the channel's loop), else on
   * {@code group.next()}. The fiber belongs to that loop's shared scheduler,
   * {@link #scheduler(EventLoop)}. {@link Computation#cancelAfter} uses the fiber's loop timer.
   *
   * <p>Threading: safe to call from any thread, as are {@code start} and {@code spawn} of the
   * answer; to spread fibers over the loops, start them from a thread that is not one of the
   * group's loops.
   *
   * <p>Cancellation: a loop's shutdown cancels the fibers on it; the scheduler cannot be closed
   * (its {@code close()} throws {@link UnsupportedOperationException}), and answers
   * {@code isClosed()} once the group is shutting down. Use
   * {@link #newScheduler(EventLoopGroup)} for one you close.
   *
   * @param group the loops the fibers run on
   * @return the group's shared scheduler
   * @throws NullPointerException if {@code group} is null
   */
  public static Scheduler scheduler(EventLoopGroup group) {
    return LoopSchedulers.forGroup(Objects.requireNonNull(group, "group"));
  }

  /**
   * A new scheduler of your own on {@code loop}, with its own set of fibers: they run on the
   * loop's thread as those of {@link #scheduler(EventLoop)} do. Closing it cancels them (with
   * a {@link org.picos.SchedulerClosedException} naming this scheduler) and waits for them to
   * end, leaving the loop running; the loop's shutdown closes it too.
   *
   * <p>Threading: {@link Scheduler#close()} called on an event-loop thread outside a fiber
   * cancels the fibers and then throws a {@link BlockingOperationException} instead of waiting
   * for them; close it from another thread, or from a fiber (which does not wait).
   *
   * <p>Cancellation: closing the scheduler or shutting the loop down cancels every fiber still
   * alive; cancelling one fiber's computation cancels only that fiber.
   *
   * @param loop the event loop the fibers run on
   * @return a new scheduler; closed at once if the loop is already shutting down
   * @throws NullPointerException if {@code loop} is null
   */
  public static Scheduler newScheduler(EventLoop loop) {
    return LoopSchedulers.ownOnLoop(Objects.requireNonNull(loop, "loop"));
  }

  /**
   * A new scheduler of your own over {@code group}, with its own set of fibers, placed on the
   * group's loops as those of {@link #scheduler(EventLoopGroup)} are (the calling thread's loop
   * when it is one of the group's, else {@code group.next()}), each on its loop for life.
   * Closing it cancels its fibers and waits for them, leaving the group running; the shutdown
   * of any loop of the group closes it.
   *
   * <p>Threading: as for {@link #newScheduler(EventLoop)}: close it from a thread that is not an
   * event loop, or from a fiber.
   *
   * <p>Cancellation: closing the scheduler, or the shutdown of the group (any of its loops),
   * cancels every fiber still alive.
   *
   * @param group the loops the fibers run on; its set of loops must not change
   * @return a new scheduler; closed at once if a loop of the group is already shutting down
   * @throws NullPointerException if {@code group} is null
   * @throws IllegalArgumentException if the group has no event loops
   */
  public static Scheduler newScheduler(EventLoopGroup group) {
    return LoopSchedulers.ownOnGroup(Objects.requireNonNull(group, "group"));
  }

  // ---------------------------------------------------------------------------------------
  // Picos work as Netty futures

  /**
   * Starts {@code body} at once in a new fiber and returns a Netty future of its result. The
   * fiber is placed as {@link Schedulers#spawn} places new work: called in a fiber, on that
   * fiber's scheduler (as {@link org.picos.Fiber#spawn(Callable)}, with a computation of its
   * own: cancelling the caller does not cancel it); otherwise on {@link Schedulers#shared()}.
   * To run it on a loop, use {@link #future(Scheduler, Callable)} with
   * {@link #scheduler(EventLoop)}.
   *
   * <p>Threading: the future's listeners are notified by the Netty executor the fiber runs on
   * (its event loop) while that executor is running; for a fiber that runs on no Netty thread,
   * or once its loop has shut down, by {@link ImmediateEventExecutor}: on the thread that
   * completes the future (the fiber's carrier as it ends, or the thread that cancels it), or,
   * for a listener added to a completed future, the adding thread. The future's blocking
   * {@code sync()} and {@code await()} refuse to run on the fiber's own loop.
   *
   * <p>Cancellation: cancelling the future cancels the fiber (it sees a
   * {@link CancellationException} at its next cancellation point) and completes the future at
   * once; a fiber cancelled otherwise (for example by its scheduler's closing) fails the
   * future with its cause, which Netty then reports as cancelled when it is a
   * {@code CancellationException}.
   *
   * @param <T> the type of the result
   * @param body what the fiber runs
   * @return a new future of the fiber's value or failure (the same exception it threw)
   * @throws NullPointerException if {@code body} is null
   * @throws RuntimeException the calling fiber's cancellation cause, if it is cancelled (nothing
   *     is started then)
   * @throws org.picos.SchedulerClosedException if the chosen scheduler is closed
   */
  public static <T> Future<T> future(Callable<T> body) {
    Objects.requireNonNull(body, "body");
    return start(null, body);
  }

  /**
   * Starts {@code body} at once in a new fiber on {@code scheduler} and returns a Netty future
   * of its result; {@code future(PicosNetty.scheduler(loop), body)} runs it on {@code loop}.
   *
   * <p>Threading: listeners are notified as for {@link #future(Callable)}: by the fiber's event
   * loop when it runs on one, else on the completing thread.
   *
   * <p>Cancellation: cancelling the future cancels the fiber; a fiber cancelled otherwise (for
   * example by the loop's shutdown) fails the future with its cause.
   *
   * @param <T> the type of the result
   * @param scheduler where the fiber runs
   * @param body what the fiber runs
   * @return a new future of the fiber's value or failure
   * @throws NullPointerException if an argument is null
   * @throws org.picos.SchedulerClosedException if {@code scheduler} is closed (for a loop's
   *     scheduler: the loop is shutting down)
   */
  public static <T> Future<T> future(Scheduler scheduler, Callable<T> body) {
    Objects.requireNonNull(scheduler, "scheduler");
    Objects.requireNonNull(body, "body");
    return start(scheduler, body);
  }

  private static <T> Future<T> start(Scheduler where, Callable<T> body) {
    FiberPromise<T> promise = new FiberPromise<>("PicosNetty.future", null);
    Computation<T> fiber = Schedulers.start(where, () -> {
      promise.home = ThreadExecutorMap.currentExecutor();
      return body.call();
    });
    promise.follow(fiber);
    return promise;
  }

  /**
   * A Netty future that completes when {@code computation} does: with its value, or failed with
   * its cancellation cause or failure (the same object). A computation already completed gives
   * a completed future. Each call returns a new future.
   *
   * <p>Threading: listeners are notified by the Netty executor of the calling thread (an event
   * loop, when called on one: from a handler, or from a fiber on the loop) while it runs, else
   * by {@link ImmediateEventExecutor}, on the thread that completes the computation (or that
   * adds a listener to a completed future).
   *
   * <p>Cancellation: cancelling the future cancels the computation with a
   * {@link CancellationException} saying so; with a shared computation (a whole scope's, say)
   * that cancels all of it. A computation cancelled otherwise fails the future with its cause.
   *
   * @param <T> the type of the result
   * @param computation the computation to follow, typically a fiber's
   * @return a new future of the computation's result
   * @throws NullPointerException if {@code computation} is null
   */
  public static <T> Future<T> toFuture(Computation<T> computation) {
    Objects.requireNonNull(computation, "computation");
    FiberPromise<T> promise =
        new FiberPromise<>("PicosNetty.toFuture", ThreadExecutorMap.currentExecutor());
    promise.follow(computation);
    return promise;
  }

  /**
   * The future of {@link #future} and {@link #toFuture}: completed from its computation, and
   * cancelling it cancels the computation, in the cancelling thread. Its listeners are notified
   * by {@link #home}, the Netty executor the fiber started on (or the caller's, for toFuture),
   * while it takes tasks, else by {@link ImmediateEventExecutor} (see {@link #future}).
   */
  private static final class FiberPromise<T> extends DefaultPromise<T> {
    private final String what;
    /** Set before the fiber runs its body; null when it runs on no Netty executor. */
    volatile EventExecutor home;
    private volatile Computation<T> computation;

    FiberPromise(String what, EventExecutor home) {
      this.what = what;
      this.home = home;
    }

    void follow(Computation<T> c) {
      computation = c;
      c.whenDone(() -> {
        if (c.isReturned()) {
          trySuccess(c.resultNow());
        } else {
          tryFailure(c.canceled());
        }
      });
    }

    @Override
    protected EventExecutor executor() {
      EventExecutor h = home;
      return h != null && !h.isShutdown() ? h : ImmediateEventExecutor.INSTANCE;
    }

    @Override
    protected void checkDeadLock() {
      EventExecutor h = home;
      if (h != null && h.inEventLoop()) {
        throw new BlockingOperationException("Blocking on " + this + " from " + h + ", which"
            + " must itself run what completes it: await it in a fiber with PicosNetty.await,"
            + " or add a listener");
      }
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      if (!super.cancel(mayInterruptIfRunning)) {
        return false;
      }
      CancellationException cause =
          new CancellationException("The Netty future of " + what + " was cancelled");
      cause.initCause(cause());
      computation.tryCancel(cause);
      return true;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Netty futures awaited in fibers

  /**
   * Waits for a Netty future (a {@link io.netty.channel.ChannelFuture} too) and returns its
   * value. A future that is already done answers at once.
   *
   * <p>Threading: in a fiber this suspends the fiber, leaving its thread (an event loop, say)
   * free, and the fiber resumes on its own scheduler, whichever thread completed the future. On
   * a plain thread it blocks, which is refused on an event-loop thread (see the class comment).
   *
   * <p>Failures: the future's cause is thrown, a {@link RuntimeException} or {@link Error} as
   * it is (same object, same stack), a checked one (an {@link java.io.IOException} from a
   * channel operation, say) wrapped in a {@link java.util.concurrent.CompletionException}.
   * A cancelled future throws its {@link CancellationException}.
   *
   * <p>Cancellation: if the calling fiber is cancelled while waiting, the future is
   * {@linkplain Future#cancel cancelled} (where Netty allows it: a write already handed to the
   * transport is not) and the fiber's cause is thrown; a future cancelled by others throws its
   * {@code CancellationException} in the fiber.
   *
   * @param <T> the type of the value
   * @param future the future to wait for
   * @return the future's value
   * @throws NullPointerException if {@code future} is null
   * @throws CancellationException if the future was cancelled
   * @throws java.util.concurrent.CompletionException wrapping the future's failure when that is
   *     a checked exception
   * @throws RuntimeException the future's failure when unchecked, or the fiber's cancellation
   *     cause
   * @throws IllegalStateException if the fiber cannot suspend (see {@link Trigger#await()}) or
   *     a plain event-loop thread would block
   */
  public static <T> T await(Future<T> future) {
    Objects.requireNonNull(future, "future");
    BlockingGuards.check();
    if (!future.isDone()) {
      Trigger done = Trigger.create(Support.waitDescription("PicosNetty.await", future));
      GenericFutureListener<Future<T>> wake = f -> done.signal();
      future.addListener(wake);
      done.awaitOrAbandon(() -> {
        future.removeListener(wake);
        if (Fiber.current().isCanceled()) {
          future.cancel(false);
        }
      });
    }
    if (future.isSuccess()) {
      return future.getNow();
    }
    throw Computation.unchecked(future.cause());
  }

  // ---------------------------------------------------------------------------------------
  // A fiber per channel

  /**
   * A channel handler that gives every channel it is added to a fiber of its own, on the
   * channel's event loop, running {@code handler} with a {@link FiberChannel}: blocking-style
   * {@code read()} and {@code write(msg)} with real backpressure. Add it where the fiber should
   * receive messages (after decoders, before nothing that consumes them); it replaces itself in
   * each pipeline with that channel's own handler. The returned handler is
   * {@linkplain ChannelHandler.Sharable sharable}, so one instance serves a whole server
   * ({@code childHandler(PicosNetty.fiberPerChannel(...))}). See {@link FiberChannel} for
   * auto-read, message ownership, closing and failures.
   *
   * <p>Threading: each channel's fiber is a fiber of the loop's shared scheduler,
   * {@link #scheduler(EventLoop)}, and runs on the channel's event loop only.
   *
   * <p>Cancellation: the channel's closing (by either peer, or the loop's shutdown) cancels its
   * fiber; cancelling the fiber's {@linkplain FiberChannel#computation() computation} ends it
   * and closes the channel.
   *
   * @param handler what each channel's fiber runs
   * @return a sharable handler to add to pipelines
   * @throws NullPointerException if {@code handler} is null
   */
  public static ChannelHandler fiberPerChannel(FiberChannel.Handler handler) {
    return FiberChannel.installer(Objects.requireNonNull(handler, "handler"));
  }
}
