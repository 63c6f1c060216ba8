package org.picos.bridge.netty;

import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.BlockingOperationException;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.ThreadExecutorMap;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.picos.sched.ExecutorScheduler;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Timer;

/**
 * Picos on Netty: event loops as Picos schedulers, Picos work as Netty futures, Netty futures
 * awaited in fibers, and a fiber per channel with suspending read and write.
 *
 * <h2>Fibers on an event loop</h2>
 * A fiber of {@link #scheduler(EventLoop)} runs on the loop's own thread, one slice (from a
 * resume to the next suspension) per task given to the loop, exactly like the loop's handlers:
 * inside it {@code loop.inEventLoop()} is true, and it is back on that thread after every
 * await. While it is suspended the loop is free to run everything else. Blocking-style code
 * ({@code read}, {@code await}, a mutex, a timeout) therefore runs on the loop without blocking
 * it and without leaving its thread, so it may touch channel state without locks.
 *
 * <h2>Blocking on a loop thread is refused</h2>
 * Code that is not in a fiber blocks its thread when it awaits a Picos trigger or computation.
 * On an event-loop thread that would deadlock the loop, which must itself run whatever the wait
 * is for. Once this class is initialized (any use of the bridge does it), such a wait throws a
 * {@link BlockingOperationException} (an {@link IllegalStateException}) that says to await in a
 * fiber instead. Fibers on the loop are never affected: they suspend rather than block.
 *
 * <h2>Shutdown</h2>
 * When the event loop (or group) starts shutting down ({@code shutdownGracefully()}), its
 * schedulers close themselves: every fiber still alive is cancelled with a
 * {@link org.picos.SchedulerClosedException} whose message names the shutdown, and fibers that
 * the terminated loop can no longer run unwind on a fallback daemon thread, so nothing hangs
 * and the group terminates. Closing a scheduler made here cancels its own fibers and leaves the
 * loop running: the loop belongs to the caller.
 *
 * <h2>Cancellation across the bridge</h2>
 * Cancelling a future returned by {@link #future} cancels its fiber; a fiber cancelled while it
 * {@linkplain #await awaits} a Netty future cancels that future (where Netty allows it). A
 * fiber's failure reaches the returned future, or, for {@link #fiberPerChannel}, the channel's
 * pipeline ({@code exceptionCaught}); it is never lost.
 */
public final class PicosNetty {
  /** One scheduler per event executor, shared by {@link #future} and {@link #fiberPerChannel}. */
  private static final ConcurrentHashMap<EventExecutor, Scheduler> SHARED =
      new ConcurrentHashMap<>();

  static {
    BlockingGuards.add(PicosNetty::refuseBlockingOnEventLoop);
  }

  private PicosNetty() {}

  // ---------------------------------------------------------------------------------------
  // Event loops as schedulers

  /**
   * A new scheduler whose fibers all run on {@code loop}'s thread and resume there after every
   * await; {@link Computation#cancelAfter} uses {@code loop.schedule}. Each call makes a new
   * scheduler with its own set of fibers. Closing it cancels those fibers and leaves the loop
   * running; shutting the loop down closes it (see the class comment).
   *
   * <p>Start fibers from anywhere with {@link Scheduler#start}; {@link Scheduler#run} from a
   * plain thread blocks that thread, which is refused on an event-loop thread. Likewise
   * {@link Scheduler#close()} called on an event-loop thread outside a fiber cancels the fibers
   * and then throws a {@link BlockingOperationException} instead of waiting for them; close it
   * from another thread, or from a fiber (which does not wait).
   *
   * @throws NullPointerException if {@code loop} is null
   */
  public static Scheduler scheduler(EventLoop loop) {
    return onExecutor(Objects.requireNonNull(loop, "loop"), "PicosNetty.scheduler(" + loop + ")");
  }

  /**
   * A new scheduler that places each new fiber (root or child) on {@code group.next()}; the
   * fiber stays on that loop's thread for life. {@link Computation#cancelAfter} uses the timer
   * of the calling fiber's loop. Closing it cancels its fibers and leaves the group running;
   * shutting the group down closes it (see the class comment).
   *
   * @throws NullPointerException if {@code group} is null
   */
  public static Scheduler scheduler(EventLoopGroup group) {
    Objects.requireNonNull(group, "group");
    return ExecutorScheduler.builder(group)
        .name("PicosNetty.scheduler(" + group + ")")
        .placement(group::next)
        .timer((task, nanos) -> scheduleOn(loopOf(group), task, nanos))
        .shutdownWhen(group::isShuttingDown)
        .build();
  }

  /** The scheduler on {@code executor} that the bridge itself uses; never closed by users. */
  static Scheduler sharedScheduler(EventExecutor executor) {
    Scheduler s = SHARED.get(executor);
    if (s == null) {
      Scheduler fresh = onExecutor(executor, "PicosNetty(" + executor + ")");
      s = SHARED.putIfAbsent(executor, fresh);
      if (s == null) {
        s = fresh;
        executor.terminationFuture().addListener(f -> SHARED.remove(executor, fresh));
      }
    }
    return s;
  }

  private static Scheduler onExecutor(EventExecutor executor, String name) {
    return ExecutorScheduler.builder(executor)
        .name(name)
        .timer((task, nanos) -> scheduleOn(executor, task, nanos))
        .shutdownWhen(executor::isShuttingDown)
        .build();
  }

  /** The calling fiber's loop if it belongs to {@code group}, else the group's next loop. */
  private static EventExecutor loopOf(EventLoopGroup group) {
    EventExecutor current = ThreadExecutorMap.currentExecutor();
    return current != null && current.parent() == group ? current : group.next();
  }

  /**
   * Runs {@code task} after {@code nanos} on {@code executor}'s timer; falls back to the shared
   * timer thread once the executor is shutting down: Netty cancels the scheduled tasks of a loop
   * that shuts down, so a timer armed there (by a fiber's protected cleanup, say) would never
   * fire. Timers armed before the shutdown are moved by the scheduler when it closes (see
   * {@link ExecutorScheduler}).
   */
  private static Runnable scheduleOn(EventExecutor executor, Runnable task, long nanos) {
    if (executor.isShuttingDown()) {
      return Timer.shared().schedule(task, nanos);
    }
    try {
      ScheduledFuture<?> f = executor.schedule(task, nanos, TimeUnit.NANOSECONDS);
      return () -> f.cancel(false);
    } catch (RejectedExecutionException shuttingDown) {
      return Timer.shared().schedule(task, nanos);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Picos work as Netty futures

  /**
   * Starts {@code body} at once in a fiber on {@code executor} (for an event loop, on its
   * thread) and returns a Netty future made by that executor, completed with the body's value
   * or failure. Cancelling the returned future cancels the fiber (it sees a
   * {@link CancellationException} at its next await); a fiber cancelled otherwise (for example
   * by the executor's shutdown) fails the future with its cancellation cause, which Netty then
   * reports as cancelled.
   *
   * @throws NullPointerException if an argument is null
   * @throws org.picos.SchedulerClosedException if {@code executor} has shut down
   */
  public static <T> Future<T> future(EventExecutor executor, Callable<T> body) {
    Objects.requireNonNull(executor, "executor");
    Objects.requireNonNull(body, "body");
    Computation<T> fiber = sharedScheduler(executor).start(body);
    FiberPromise<T> promise = new FiberPromise<>(executor, fiber);
    fiber.whenDone(() -> {
      if (fiber.isReturned()) {
        promise.trySuccess(fiber.resultNow());
      } else {
        promise.tryFailure(fiber.canceled());
      }
    });
    return promise;
  }

  /** The future of {@link #future}: cancelling it cancels the fiber, in the cancelling thread. */
  private static final class FiberPromise<T> extends DefaultPromise<T> {
    private final Computation<T> fiber;

    FiberPromise(EventExecutor executor, Computation<T> fiber) {
      super(executor);
      this.fiber = fiber;
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      if (!super.cancel(mayInterruptIfRunning)) {
        return false;
      }
      CancellationException cause =
          new CancellationException("The Netty future of PicosNetty.future was cancelled");
      cause.initCause(cause());
      fiber.tryCancel(cause);
      return true;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Netty futures awaited in fibers

  /**
   * Waits for a Netty future (a {@link io.netty.channel.ChannelFuture} too) and returns its
   * value. In a fiber this suspends the fiber, leaving its thread (an event loop, say) free; a
   * future that is already done answers at once. On a plain thread it blocks, which is refused
   * on an event-loop thread (see the class comment).
   *
   * <p>Failures: the future's cause is thrown, a {@link RuntimeException} or {@link Error} as
   * it is (same object, same stack), a checked one (an {@link java.io.IOException} from a
   * channel operation, say) wrapped in a {@link java.util.concurrent.CompletionException}.
   * A cancelled future throws its {@link CancellationException}.
   *
   * <p>Cancellation: if the calling fiber is cancelled while waiting, the future is
   * {@linkplain Future#cancel cancelled} (where Netty allows it: a write already handed to the
   * transport is not) and the fiber's cause is thrown.
   *
   * @throws NullPointerException if {@code future} is null
   * @throws IllegalStateException if the fiber cannot suspend (see {@link Trigger#await()}) or
   *     a plain event-loop thread would block
   */
  public static <T> T await(Future<T> future) {
    Objects.requireNonNull(future, "future");
    if (!future.isDone()) {
      Trigger done = Trigger.create();
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
   * @throws NullPointerException if {@code handler} is null
   */
  public static ChannelHandler fiberPerChannel(FiberChannel.Handler handler) {
    return FiberChannel.installer(Objects.requireNonNull(handler, "handler"));
  }

  // ---------------------------------------------------------------------------------------
  // The blocking guard

  private static void refuseBlockingOnEventLoop() {
    EventExecutor current = ThreadExecutorMap.currentExecutor();
    if (current instanceof EventLoop && current.inEventLoop()) {
      throw new BlockingOperationException("A blocking wait on the Netty event-loop thread "
          + Thread.currentThread().getName() + " outside a fiber would deadlock the loop, which"
          + " must itself run what the wait is for. Await inside a fiber on the loop instead:"
          + " start one with PicosNetty.scheduler(eventLoop).start(...), or handle the channel"
          + " with PicosNetty.fiberPerChannel(...); or await from a thread that is not an event"
          + " loop.");
    }
  }
}
