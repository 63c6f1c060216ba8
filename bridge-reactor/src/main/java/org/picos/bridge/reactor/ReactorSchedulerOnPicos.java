package org.picos.bridge.reactor;

import java.time.Duration;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;
import reactor.core.Disposable;
import reactor.core.Exceptions;
import reactor.core.publisher.Operators;
import reactor.core.scheduler.Scheduler;
import reactor.util.context.Context;

/**
 * A Picos scheduler seen as a Reactor {@link Scheduler}; made by
 * {@link PicosReactor#asReactorScheduler}.
 *
 * <h2>Design</h2>
 * Every task is a {@link FiberTask}: the user's runnable plus a {@link Computation} that is its
 * cancellation token and the {@link Disposable} handed back to Reactor. Whatever fiber runs the
 * task makes that token its computation for the duration ({@link Fiber#setComputation}), so
 * disposing the task wakes the fiber wherever the task awaits. A task whose token is no longer
 * running is skipped.
 * <ul>
 *   <li>Direct tasks ({@link #schedule(Runnable)} and friends) get a fiber each, which sleeps on
 *       a Picos timer first when delayed and loops when periodic (so a periodic task never
 *       overlaps itself).</li>
 *   <li>A {@link Worker} serializes its tasks: a queue drained by one fiber at a time, started
 *       when the queue goes from empty to non-empty (a work-in-progress counter decides who
 *       starts it). Delayed and periodic worker tasks wait in a timer fiber of their own and then
 *       join the queue; a periodic tick that finds its previous run still queued is merged into
 *       it. Disposing the worker cancels a scope computation that every task token is tied to
 *       ({@link Computation#attachCanceler}).</li>
 * </ul>
 */
final class ReactorSchedulerOnPicos implements Scheduler {
  private final org.picos.Scheduler picos;
  private volatile boolean disposed;

  ReactorSchedulerOnPicos(org.picos.Scheduler picos) {
    this.picos = picos;
  }

  @Override
  public Disposable schedule(Runnable task) {
    return direct(task, 0, -1);
  }

  @Override
  public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
    return direct(task, unit.toNanos(delay), -1);
  }

  @Override
  public Disposable schedulePeriodically(
      Runnable task, long initialDelay, long period, TimeUnit unit) {
    return direct(task, unit.toNanos(initialDelay), Math.max(0, unit.toNanos(period)));
  }

  /** One fiber per task: optional initial sleep, then one run or (periodNanos >= 0) a loop. */
  private Disposable direct(Runnable task, long delayNanos, long periodNanos) {
    FiberTask t = new FiberTask(task, periodNanos >= 0);
    checkOpen();
    start(() -> {
      Fiber self = Fiber.current();
      Computation<?> own = self.setComputation(t.token);
      try {
        long next = System.nanoTime() + delayNanos;
        if (delayNanos > 0) {
          Fiber.sleep(Duration.ofNanos(Math.max(0, delayNanos)));
        }
        while (t.run(self) && periodNanos >= 0) {
          next += periodNanos;
          Fiber.sleep(Duration.ofNanos(Math.max(0, next - System.nanoTime())));
        }
      } finally {
        self.setComputation(own);
      }
    });
    return t;
  }

  private void checkOpen() {
    if (isDisposed()) {
      throw Exceptions.failWithRejected("Scheduler " + this + " is disposed (or its Picos scheduler"
          + " is closed) and accepts no more tasks");
    }
  }

  /** Starts a fiber on the Picos scheduler, turning its refusal into Reactor's rejection. */
  private void start(Runnable main) {
    try {
      picos.start(() -> {
        main.run();
        return null;
      });
    } catch (RuntimeException closed) {
      throw Exceptions.failWithRejected(closed);
    }
  }

  @Override
  public Worker createWorker() {
    return new FiberWorker();
  }

  /** Rejects new tasks from now on; the Picos scheduler stays open (it belongs to the caller). */
  @Override
  public void dispose() {
    disposed = true;
  }

  @Override
  public boolean isDisposed() {
    return disposed || picos.isClosed();
  }

  @Override
  public String toString() {
    return "PicosReactor.asReactorScheduler(" + picos + ")";
  }

  /** A task and its cancellation token, which is also the handle Reactor gets. */
  private static final class FiberTask implements Disposable {
    private static final String DISPOSED = "The Reactor task was disposed";

    final Runnable task;
    final Computation<Void> token = Computation.create();
    final boolean periodic;
    /** Worker tasks only: the canceler tying the token to the worker's scope. */
    Trigger canceler;
    /** Periodic worker tasks only: whether a run is queued. */
    final AtomicBoolean queued = new AtomicBoolean();

    FiberTask(Runnable task, boolean periodic) {
      this.task = Objects.requireNonNull(task, "task");
      this.periodic = periodic;
    }

    /**
     * Runs the task in {@code fiber} with the token as the fiber's computation. Returns whether
     * a periodic task should run again: not after a failure (which goes to the dropped-error
     * hook unless it is the token's own cancellation) nor once disposed.
     */
    boolean run(Fiber fiber) {
      if (!token.isRunning()) {
        return false;
      }
      Computation<?> outer = fiber.setComputation(token);
      try {
        task.run();
        if (!periodic) {
          token.tryReturn(null);
        }
      } catch (Throwable failure) {
        if (failure != token.canceled()) {
          token.tryCancel(failure);
          Operators.onErrorDropped(failure, Context.empty());
        }
      } finally {
        fiber.setComputation(outer);
      }
      return token.isRunning();
    }

    @Override
    public void dispose() {
      token.tryCancel(new CancellationException(DISPOSED));
    }

    @Override
    public boolean isDisposed() {
      return !token.isRunning();
    }
  }

  /** Serializes its tasks; see the class comment. */
  private final class FiberWorker implements Worker {
    private final Computation<Void> scope = Computation.create();
    private final Queue<FiberTask> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();

    @Override
    public Disposable schedule(Runnable task) {
      FiberTask t = track(new FiberTask(task, false));
      enqueue(t);
      return t;
    }

    @Override
    public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
      if (delay <= 0) {
        return schedule(task);
      }
      return timed(new FiberTask(task, false), unit.toNanos(delay), -1);
    }

    @Override
    public Disposable schedulePeriodically(
        Runnable task, long initialDelay, long period, TimeUnit unit) {
      return timed(new FiberTask(task, true), unit.toNanos(initialDelay),
          Math.max(0, unit.toNanos(period)));
    }

    private FiberTask track(FiberTask t) {
      if (isDisposed() || ReactorSchedulerOnPicos.this.isDisposed()) {
        throw Exceptions.failWithRejected("Worker of " + ReactorSchedulerOnPicos.this + " is disposed");
      }
      t.canceler = Computation.attachCanceler(scope, t.token);
      t.token.whenDone(() -> scope.detach(t.canceler));
      return t;
    }

    /** A timer fiber waits (as the task's token), then queues each run. */
    private Disposable timed(FiberTask t, long delayNanos, long periodNanos) {
      track(t);
      start(() -> {
        Fiber self = Fiber.current();
        Computation<?> own = self.setComputation(t.token);
        try {
          long next = System.nanoTime() + delayNanos;
          Fiber.sleep(Duration.ofNanos(Math.max(0, delayNanos)));
          while (t.token.isRunning()) {
            if (!t.periodic) {
              enqueue(t);
              return;
            }
            if (t.queued.compareAndSet(false, true)) {
              enqueue(t);
            }
            next += periodNanos;
            Fiber.sleep(Duration.ofNanos(Math.max(0, next - System.nanoTime())));
          }
        } finally {
          self.setComputation(own);
        }
      });
      return t;
    }

    private void enqueue(FiberTask t) {
      queue.offer(t);
      if (wip.getAndIncrement() == 0) {
        try {
          start(this::drain);
        } catch (RejectedExecutionException closed) {
          dispose();
          throw closed;
        }
      }
    }

    /** The drain fiber: runs queued tasks in order until the queue stays empty. */
    private void drain() {
      Fiber self = Fiber.current();
      int missed = 1;
      for (;;) {
        FiberTask t;
        while ((t = queue.poll()) != null) {
          t.queued.set(false);
          t.run(self);
        }
        missed = wip.addAndGet(-missed);
        if (missed == 0) {
          return;
        }
      }
    }

    @Override
    public void dispose() {
      scope.tryCancel(new CancellationException("The Reactor worker was disposed"));
      queue.clear();
    }

    @Override
    public boolean isDisposed() {
      return !scope.isRunning();
    }
  }
}
