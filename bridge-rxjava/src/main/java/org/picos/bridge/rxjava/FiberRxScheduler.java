package org.picos.bridge.rxjava;

import io.reactivex.rxjava3.disposables.CompositeDisposable;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;

/**
 * A Picos scheduler seen as an Rx scheduler; see {@link PicosRx#asRxScheduler} for the
 * contract.
 *
 * <h2>Design</h2>
 * Every task is a {@link Task}: a {@link Disposable} around a cancellation token that becomes
 * the computation of whichever fiber works on the task, so disposing the task cancels that
 * fiber. A direct task gets one fiber, which first waits out the delay on the Picos
 * scheduler's timer and then runs the task. A worker's delayed task waits in a fiber of its own
 * and, when due, joins the worker's queue; the worker runs its queue one task at a time, each
 * in a fresh fiber started when the previous one has ended, so tasks never overlap and run in
 * the order they became due. Periodic scheduling is Rx's own, built on the delayed
 * {@code schedule}.
 *
 * <h2>Task states (the token's)</h2>
 * <pre>
 *   RUNNING (pending: waiting out its delay, queued, or running)
 *     --dispose()---------------> CANCELED: dropped if not started, its fiber cancelled if running
 *     --run returns or throws---> RETURNED (a failure goes to RxJavaPlugins.onError)
 *     --Picos scheduler closed--> CANCELED by its SchedulerClosedException (a fiber unwinds)
 * </pre>
 * {@code isDisposed()} is true in both final states, as for Rx's own scheduled tasks.
 *
 * <h2>Worker queue</h2>
 * {@code wip} counts tasks enqueued and not yet finished or skipped. Whoever raises it from 0
 * starts the next task's fiber; a task's fiber, when done, lowers it and, if it is still
 * positive, starts the next one. So exactly one fiber of the worker runs at a time.
 */
final class FiberRxScheduler extends io.reactivex.rxjava3.core.Scheduler {
  /** Cancels a private sleep computation when its delay has elapsed; never seen by users. */

  final Scheduler picos;

  FiberRxScheduler(Scheduler picos) {
    this.picos = picos;
  }

  @Override
  public Worker createWorker() {
    return new FiberWorker();
  }

  @Override
  public Disposable scheduleDirect(Runnable run, long delay, TimeUnit unit) {
    Objects.requireNonNull(run, "run is null");
    Objects.requireNonNull(unit, "unit is null");
    Task task = new Task(RxJavaPlugins.onSchedule(run), null);
    task.start(unit.toNanos(delay));
    return task;
  }

  @Override
  public String toString() {
    return "PicosRx.asRxScheduler(" + picos + ")";
  }

  /** One scheduled task; its token is the computation of the fibers working on it. */
  final class Task implements Disposable {
    final Computation<Void> token = Computation.create();
    private final Runnable run;
    private final FiberWorker worker;

    Task(Runnable run, FiberWorker worker) {
      this.run = run;
      this.worker = worker;
    }

    /** Waits {@code nanos} (if positive) in a fiber, then runs the task or queues it. */
    void start(long nanos) {
      if (nanos <= 0 && worker != null) {
        worker.enqueue(this);
        return;
      }
      try {
        PicosRx.launch(picos, token, () -> {
          if (nanos > 0) {
            try {
              Fiber.sleep(Duration.ofNanos(nanos));
            } catch (RuntimeException cancelled) {
              return; // disposed (or its scheduler closed) while it waited: the task never runs
            }
          }
          if (worker == null) {
            runNow();
          } else {
            worker.enqueue(this);
          }
        });
      } catch (Throwable refused) {
        refuse(refused);
      }
    }

    /** Runs the task in the current fiber, whose computation is the token. */
    void runNow() {
      if (!token.isRunning()) {
        return;
      }
      try {
        run.run();
      } catch (Throwable failure) {
        PicosRx.undeliverable(token.canceled(), failure);
      } finally {
        token.tryReturn(null);
        forget();
      }
    }

    /** The Picos scheduler would not start a fiber (it is closed): report, as Rx does. */
    void refuse(Throwable refused) {
      RxJavaPlugins.onError(refused);
      token.tryCancel(refused);
      forget();
    }

    private void forget() {
      if (worker != null) {
        worker.tasks.delete(this);
      }
    }

    @Override
    public void dispose() {
      token.tryCancel(new CancellationException("Rx task disposed"));
      forget();
    }

    @Override
    public boolean isDisposed() {
      return !token.isRunning();
    }
  }

  /** A worker: its tasks run one at a time, in the order they became due. */
  final class FiberWorker extends Worker {
    /** Tasks not yet finished, to dispose with the worker. */
    final CompositeDisposable tasks = new CompositeDisposable();
    private final ConcurrentLinkedQueue<Task> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();

    @Override
    public Disposable schedule(Runnable run, long delay, TimeUnit unit) {
      Objects.requireNonNull(run, "run is null");
      Objects.requireNonNull(unit, "unit is null");
      Task task = new Task(RxJavaPlugins.onSchedule(run), this);
      if (!tasks.add(task)) {
        return Disposable.disposed();
      }
      task.start(unit.toNanos(delay));
      return task;
    }

    void enqueue(Task task) {
      queue.offer(task);
      if (wip.getAndIncrement() == 0) {
        runNext();
      }
    }

    /** Starts the fiber of the next live task; skips disposed ones. */
    private void runNext() {
      do {
        Task task = queue.poll();
        if (task != null && task.token.isRunning()) {
          try {
            PicosRx.launch(picos, task.token, () -> {
              task.runNow();
              if (wip.decrementAndGet() != 0) {
                runNext();
              }
            });
            return;
          } catch (Throwable refused) {
            task.refuse(refused);
          }
        }
      } while (wip.decrementAndGet() != 0);
    }

    @Override
    public void dispose() {
      tasks.dispose();
    }

    @Override
    public boolean isDisposed() {
      return tasks.isDisposed();
    }
  }
}
