package org.picos.bridge.future;

import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.spi.Handover;
import org.picos.spi.HostCache;
import org.picos.SchedulerClosedException;
import org.picos.spi.BlockingGuards;
import org.picos.sched.ExecutorScheduler;
import org.picos.sched.Schedulers;
import org.picos.spi.Support;
import org.picos.spi.Timer;

/**
 * The bridge between Picos and {@link CompletableFuture}: executors as Picos schedulers, fibers
 * as futures, and any {@link CompletionStage} awaited in a fiber.
 *
 * <pre>{@code
 * ExecutorService pool = Executors.newFixedThreadPool(4);
 * Scheduler picos = PicosFutures.scheduler(pool);           // pool threads run fibers
 * CompletableFuture<String> page = PicosFutures.future(picos, () -> {
 *   User user = PicosFutures.await(client.fetchUser(id));     // suspends the fiber, not the thread
 *   return PicosFutures.await(client.render(user));
 * });
 * page.thenAccept(System.out::println);                      // an ordinary CompletableFuture
 * }</pre>
 *
 * <table>
 *   <caption>The verbs of this facade</caption>
 *   <tr><th>verb</th><th>here</th></tr>
 *   <tr><td>host to Picos scheduler</td><td>{@link #scheduler(Executor)} (shared, cached per
 *       executor); {@link #newScheduler(Executor)} (your own)</td></tr>
 *   <tr><td>Picos scheduler to host</td><td>{@link #asExecutor(Scheduler)}</td></tr>
 *   <tr><td>work to future</td><td>{@link #future(Callable)},
 *       {@link #future(Scheduler, Callable)}</td></tr>
 *   <tr><td>computation to future</td><td>{@link #toFuture(Computation)}</td></tr>
 *   <tr><td>await</td><td>{@link #await(CompletionStage)},
 *       {@link #await(CompletionStage, Consumer)} (releasing what a cancelled wait leaves)</td></tr>
 * </table>
 *
 * <p>What other facades have and this one does not, and why: no multi-valued awaits and no
 * {@code iterate}. A {@link CompletionStage} has one value; the JDK's one type for a stream of
 * values, {@link java.util.concurrent.Flow.Publisher}, comes with no implementation of its own
 * to bridge (streams come from libraries such as Reactor and RxJava, whose facades iterate and
 * await them).
 *
 * <ul>
 *   <li>{@link #scheduler(Executor)}: any {@link Executor}, {@link ExecutorService} or
 *       {@link ForkJoinPool} runs Picos fibers. Each stretch of a fiber between two suspensions
 *       is one task handed to the executor.</li>
 *   <li>{@link #asExecutor(Scheduler)}: the other way round, an {@link Executor} that runs each
 *       task in a new fiber, for APIs that take an executor
 *       ({@code CompletableFuture.supplyAsync(supplier, executor)}); the task may then await.</li>
 *   <li>{@link #future(Callable)}, {@link #future(Scheduler, Callable)} and
 *       {@link #toFuture(Computation)}: Picos work seen as a {@link CompletableFuture}. The work
 *       starts at once (futures are hot); the future completes with the fiber's value or
 *       failure.</li>
 *   <li>{@link #await(CompletionStage)}: waits for a stage inside a fiber by suspending the
 *       fiber; its carrier thread goes on running other work meanwhile.</li>
 * </ul>
 *
 * <h2>Shared schedulers and your own</h2>
 * {@link #scheduler(Executor)} answers the same scheduler for the same executor whenever two
 * calls' answers are alive at once: the cache holds it weakly, keyed weakly by the executor, so
 * an executor nobody uses any more frees its scheduler, and a scheduler nobody holds and that
 * has no fiber left is made again on the next call. Being shared, it cannot be closed: its
 * {@code close()} throws {@link UnsupportedOperationException}, like that of
 * {@link Schedulers#shared()}; it closes itself when its {@link ExecutorService} shuts down.
 * {@link #newScheduler(Executor)} makes a scheduler of your own, which you close, and whose close
 * cancels only its own fibers.
 *
 * <h2>Cancellation, from the future to the fiber</h2>
 * Cancelling a future returned by {@code future} or {@code toFuture} ({@code cancel(true)} and
 * {@code cancel(false)} mean the same: nothing is interrupted) cancels the computation behind
 * it with a {@link CancellationException} whose cause is the future's own. The same happens if
 * the holder completes the future any other way ({@code complete}, {@code completeExceptionally},
 * {@code orTimeout}): the computation's result could no longer be delivered, so it is cancelled.
 * Cancellation in Picos is cooperative: the fiber is woken if it is suspended and sees the cause
 * at its next cancellation point (any await, {@code Fiber.check()}, {@code Fiber.yield()}),
 * unless it has forbidden cancellation for a while. The future does not wait for the fiber to
 * unwind; it is complete as soon as it is cancelled. With {@code toFuture}, the computation may
 * be shared (for example a whole scope's): cancelling the future cancels all of it.
 *
 * <h2>Cancellation, from the fiber to the future</h2>
 * A fiber waiting in {@code await(stage)} whose computation is cancelled stops waiting at once
 * and throws the cancellation cause. If the stage is a {@link CompletableFuture}, it is cancelled
 * too, with {@code cancel(false)}: that propagates to the stages that depend on it but, as
 * always with CompletableFuture, does not stop the code that was going to complete it. Other
 * stages, and read-only views such as {@link CompletableFuture#minimalCompletionStage()}, cannot
 * be cancelled from outside: the fiber just stops waiting (detaches), and the stage keeps a small
 * callback until it completes. When the value such a stage still produces is a resource to
 * close, await it with {@link #await(CompletionStage, Consumer)}, which hands it to a release
 * action.
 *
 * <h2>Errors</h2>
 * Failures keep their identity, hence their type and stack trace:
 * <ul>
 *   <li>A fiber that throws completes its future exceptionally with that very exception,
 *       checked or not ({@code future.handle((v, e) -> e)} sees the same object;
 *       {@code join()} and dependent stages add CompletableFuture's usual
 *       {@link CompletionException} around it).</li>
 *   <li>{@code await} throws what the stage failed with. CompletableFuture wraps the failure of
 *       a dependent stage (for example {@code supplyAsync(..).thenApply(..)}) in a
 *       {@code CompletionException}; {@code await} removes exactly that one layer, so the
 *       exception thrown in the supplier is the one thrown by {@code await}. What remains
 *       follows the core's rule ({@link Computation#unchecked}): a {@link RuntimeException} or
 *       {@link Error} is thrown as it is; a checked exception is thrown wrapped once in a
 *       {@code CompletionException} whose cause is the original.</li>
 *   <li>A cancelled stage throws its {@link CancellationException}.</li>
 * </ul>
 *
 * <h2>Threads</h2>
 * A fiber's code runs on its scheduler's threads only. When an awaited stage completes, the
 * completing thread merely schedules the fiber back onto its executor; no fiber code runs
 * there. On a single-threaded executor a fiber therefore never leaves that thread; on a pool it
 * may resume on any of the pool's threads. In the other direction, a future from
 * {@code future}/{@code toFuture} is completed by the thread that completes the computation:
 * for a fiber that returns or fails, its own carrier thread as the fiber ends. Non-async
 * dependent stages ({@code thenApply}, not {@code thenApplyAsync}) run right there, so keep them
 * short, or use the {@code *Async} variants to move them elsewhere.
 *
 * <h2>Shutting an executor down</h2>
 * Shutting down the {@link ExecutorService} of a {@link #scheduler(Executor)} or
 * {@link #newScheduler(Executor)} while fibers are
 * alive ends each of them with a {@link SchedulerClosedException} (a
 * {@code CancellationException}) whose message says that the executor was shut down: the
 * scheduler notices the shutdown within about 50 ms (the core polls
 * {@link ExecutorService#isShutdown()}), or at once when the executor refuses a fiber's next step, and lets the remaining fibers unwind on a fallback daemon thread,
 * since the executor no longer runs anything. Their futures complete with that exception; stages
 * they were awaiting are cancelled as described above. Nothing stays suspended forever. The same
 * holds for {@link ExecutorService#shutdownNow()}, which also drops the steps of fibers that were
 * queued to run: once the executor has terminated, the scheduler runs those on the fallback
 * thread, so that the fibers still end and {@link Scheduler#close()} returns.
 *
 * <p>Outside any fiber, {@code await} blocks the calling thread like
 * {@link CompletableFuture#join()}. All methods are safe to call from any thread.
 */
public final class PicosFutures {
  /** The release of {@link #await(CompletionStage)}: a value nobody takes is simply dropped. */
  private static final Consumer<Object> NO_RELEASE = value -> {};

  /** Shared schedulers, by executor, both weakly (see the class comment); guarded by itself. */
  private static final HostCache<Executor, Shared> SHARED = new HostCache<>();

  private PicosFutures() {}

  /**
   * The scheduler of {@code executor}, shared by everyone who asks for it: the same object for
   * the same executor while anyone holds it (see the class comment). Its fibers run on
   * {@code executor}: each stretch of a fiber between two suspensions is one task given to the
   * executor. On a single-threaded executor a fiber never leaves that thread; on a pool it may
   * resume on any of its threads. A {@link ForkJoinPool} in its default (LIFO, non-async) mode
   * gets its fibers' tasks as external submissions, so that a fiber that yields queues behind
   * the others instead of running again at once. {@link org.picos.Computation#cancelAfter} uses
   * the core's shared timer thread, and the cancellation it triggers resumes the fiber on
   * {@code executor}.
   *
   * <p>Threading: safe to call from any thread; fibers run on the executor's threads only.
   *
   * <p>Cancellation: shutting the executor down, if it is an {@link ExecutorService}, closes the
   * scheduler and cancels its fibers (see the class comment); the scheduler itself cannot be
   * closed (its {@code close()} throws {@link UnsupportedOperationException}): use
   * {@link #newScheduler(Executor)} for one you close.
   *
   * @param executor where the fibers run; must not be an ExecutorService that is already shut
   *     down
   * @return the executor's shared scheduler, named after it in messages and cancellation causes
   * @throws NullPointerException if {@code executor} is null
   * @throws IllegalArgumentException if {@code executor} is an ExecutorService already shut down
   * @throws IllegalStateException if the JVM lacks the flag that Picos fibers need (the message
   *     names it)
   */
  public static Scheduler scheduler(Executor executor) {
    Objects.requireNonNull(executor, "PicosFutures.scheduler: executor must not be null");
    if (executor instanceof ExecutorService service && service.isShutdown()) {
      refuseShutDown(executor, "PicosFutures.scheduler(" + describe(executor) + ")");
    }
    return SHARED.get(executor, e -> new Shared(e, "PicosFutures.scheduler(" + describe(e) + ")"));
  }

  /**
   * A new scheduler of your own whose fibers run on {@code executor}, as those of
   * {@link #scheduler(Executor)} do, in a set of their own. The executor still belongs to the
   * caller: {@link Scheduler#close()} cancels the scheduler's live fibers (with a
   * {@link SchedulerClosedException} naming the scheduler) and waits for them to end, but leaves
   * the executor running.
   *
   * <p>Threading: fibers run on the executor's threads only; close it from a thread that may
   * block (or from a fiber, which does not wait).
   *
   * <p>Cancellation: closing the scheduler, or shutting the executor down (if it is an
   * {@link ExecutorService}: see the class comment), cancels every fiber still alive.
   *
   * @param executor where the fibers run; must not be an ExecutorService that is already shut
   *     down
   * @return a new scheduler, named after the executor in messages and cancellation causes
   * @throws NullPointerException if {@code executor} is null
   * @throws IllegalArgumentException if {@code executor} is an ExecutorService already shut down
   * @throws IllegalStateException if the JVM lacks the flag that Picos fibers need
   */
  public static Scheduler newScheduler(Executor executor) {
    Objects.requireNonNull(executor, "PicosFutures.newScheduler: executor must not be null");
    String name = "PicosFutures.newScheduler(" + describe(executor) + ")";
    refuseShutDown(executor, name);
    return ExecutorScheduler.builder(executor).name(name).build();
  }

  private static void refuseShutDown(Executor executor, String name) {
    if (executor instanceof ExecutorService service && service.isShutdown()) {
      throw new IllegalArgumentException(
          name + ": the executor is already shut down; pass an executor that is running");
    }
  }

  /**
   * The shared scheduler of one executor: starts fibers on {@link #fibers} and refuses to be
   * closed. It is also the scheduler's timer (the core's shared one), which makes it reachable
   * from the scheduler: the two live and die together, so the cache hands out this object for
   * as long as either is in use, its fibers included.
   */
  private static final class Shared implements Scheduler, Timer {
    final ExecutorScheduler fibers;
    private final String name;

    Shared(Executor executor, String name) {
      this.name = name;
      this.fibers = ExecutorScheduler.builder(executor).name(name).timer(this).build();
    }

    @Override
    public Runnable schedule(Runnable task, long nanos) {
      return Timer.shared().schedule(task, nanos);
    }

    @Override
    public <T> Computation<T> start(Callable<T> main) {
      return fibers.start(main);
    }

    @Override
    public void spawn(Fiber fiber, Runnable main) {
      fibers.spawn(fiber, main);
    }

    /** Refused: see {@link PicosFutures#scheduler(Executor)}. */
    @Override
    public void close() {
      throw new UnsupportedOperationException(name + " is shared by everyone using this executor"
          + " and cannot be closed; it closes itself when the executor shuts down. For a scheduler"
          + " of your own to close, use PicosFutures.newScheduler(executor).");
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

  /**
   * An {@link Executor} that runs each task in a new fiber of {@code scheduler}, so that the
   * task may await (a Picos computation, a stage with {@link #await}) without blocking a thread:
   * {@code CompletableFuture.supplyAsync(() -> PicosFutures.await(lookup()), asExecutor(s))}.
   * Each task's fiber has a computation of its own, started on {@code scheduler} whatever thread
   * calls {@code execute}.
   *
   * <p>Threading: {@code execute} is safe from any thread and never blocks (a fiber's caller
   * does not wait for it); the task runs on the scheduler's threads. A task that throws has its
   * failure handed to the uncaught-exception handler of the thread it ran on, as an executor's
   * worker thread would.
   *
   * <p>Cancellation: closing {@code scheduler} cancels the fibers of tasks still running (a task
   * cut short that way is not reported as a failure) and makes {@code execute} refuse new tasks
   * with a {@link RejectedExecutionException}, as a shut-down executor does.
   *
   * @param scheduler where the tasks' fibers run
   * @return an executor over {@code scheduler}
   * @throws NullPointerException if {@code scheduler} is null
   */
  public static Executor asExecutor(Scheduler scheduler) {
    Objects.requireNonNull(scheduler, "PicosFutures.asExecutor: scheduler must not be null");
    return new FiberExecutor(scheduler);
  }

  /** {@link #asExecutor}: a fiber per task. */
  private record FiberExecutor(Scheduler scheduler) implements Executor {
    @Override
    public void execute(Runnable task) {
      Objects.requireNonNull(task, "task");
      Computation<Void> c = Computation.create();
      try {
        scheduler.spawn(Fiber.create(false, c), () -> runTask(c, task));
      } catch (SchedulerClosedException closed) {
        throw new RejectedExecutionException("PicosFutures.asExecutor(" + scheduler + ") refused"
            + " a task: its scheduler is closed", closed);
      }
    }

    private static void runTask(Computation<Void> c, Runnable task) {
      try {
        task.run();
      } catch (Throwable failure) {
        if (!c.isCancellation(failure)) {
          Support.reportUncaught(failure);
        }
        c.tryCancel(failure);
        return;
      }
      c.tryReturn(null);
    }

    @Override
    public String toString() {
      return "PicosFutures.asExecutor(" + scheduler + ")";
    }
  }

  /** A short, stable name for messages: {@code ThreadPoolExecutor@1b2c3d}. */
  private static String describe(Executor executor) {
    if (executor == ForkJoinPool.commonPool()) {
      return "ForkJoinPool.commonPool()";
    }
    Class<?> type = executor.getClass();
    String simple = type.getSimpleName();
    return (simple.isEmpty() ? type.getName() : simple)
        + "@" + Integer.toHexString(System.identityHashCode(executor));
  }

  /**
   * Starts {@code body} in a new fiber and returns a future of its result. Called in a fiber,
   * the new fiber runs on the caller's scheduler (as {@link Fiber#spawn(Callable)}, with a
   * computation of its own: cancelling the caller does not cancel it); called outside any fiber,
   * it runs on {@link Schedulers#shared()}. The future completes with the body's value or with
   * the very exception it threw; cancelling the future cancels the fiber (see the class
   * comment).
   *
   * <p>If the caller's scheduler is closing, the new fiber is cancelled at once and the future
   * completes with the scheduler's {@link SchedulerClosedException}.
   *
   * <p>Threading: the fiber runs on its scheduler's threads; the future is completed by the
   * fiber's carrier as it ends, which runs non-async dependent stages (see the class comment).
   *
   * <p>Cancellation: cancelling (or otherwise completing) the future cancels the fiber; a
   * fiber cancelled otherwise completes the future exceptionally with its cause.
   *
   * @param <T> the type of the result
   * @param body what the fiber runs
   * @return a new future of the fiber's result
   * @throws NullPointerException if {@code body} is null
   * @throws RuntimeException the calling fiber's cancellation cause, if it is cancelled (nothing
   *     is started then)
   */
  public static <T> CompletableFuture<T> future(Callable<T> body) {
    Objects.requireNonNull(body, "PicosFutures.future: body must not be null");
    return toFuture(Schedulers.start(null, body));
  }

  /**
   * Starts {@code body} in a new fiber on {@code scheduler} and returns a future of its result,
   * which completes with the body's value or with the very exception it threw.
   *
   * <p>Threading: the fiber runs on {@code scheduler}'s threads, whatever thread calls this; the
   * future is completed by the fiber's carrier as it ends.
   *
   * <p>Cancellation: cancelling (or otherwise completing) the future cancels the fiber (see the
   * class comment); closing {@code scheduler} cancels the fiber, which completes the future
   * exceptionally with the {@link SchedulerClosedException}.
   *
   * @param <T> the type of the result
   * @param scheduler where the fiber runs
   * @param body what the fiber runs
   * @return a new future of the fiber's result
   * @throws NullPointerException if an argument is null
   * @throws SchedulerClosedException if the scheduler is closed
   */
  public static <T> CompletableFuture<T> future(Scheduler scheduler, Callable<T> body) {
    Objects.requireNonNull(scheduler, "PicosFutures.future: scheduler must not be null");
    Objects.requireNonNull(body, "PicosFutures.future: body must not be null");
    return toFuture(Schedulers.start(scheduler, body));
  }

  /**
   * Returns a future that completes when {@code computation} does: with its value, or
   * exceptionally with its cancellation cause or failure (the same object). Completing the
   * future first, by {@code cancel} or otherwise, cancels the computation with a
   * {@link CancellationException} whose cause is what the future was completed with (none
   * when completed with a value). Each call returns a new future. A computation that has
   * already completed gives an already completed future.
   *
   * <p>Threading: the future is completed by the thread that completes the computation (for a
   * fiber, its carrier as it ends), which runs non-async dependent stages.
   *
   * <p>Cancellation: as said above, both ways; with a shared computation (a scope's) cancelling
   * the future cancels all of it.
   *
   * @param <T> the type of the result
   * @param computation the computation to follow, typically a fiber's
   * @return a new future of the computation's result
   * @throws NullPointerException if {@code computation} is null
   */
  public static <T> CompletableFuture<T> toFuture(Computation<T> computation) {
    Objects.requireNonNull(computation, "PicosFutures.toFuture: computation must not be null");
    CompletableFuture<T> future = new CompletableFuture<>();
    computation.whenDone(() -> {
      Throwable failure = computation.canceled();
      if (failure == null) {
        future.complete(computation.resultNow());
      } else {
        future.completeExceptionally(failure);
      }
    });
    future.whenComplete((value, failure) -> {
      if (computation.isRunning()) {
        computation.tryCancel(completedByHolder(failure));
      }
    });
    return future;
  }

  /** The cause given to a computation whose future its holder completed first. */
  private static CancellationException completedByHolder(Throwable failure) {
    String how = failure == null ? "completed with a value"
        : failure instanceof CancellationException ? "cancelled"
        : "completed exceptionally";
    CancellationException cause = new CancellationException(
        "The CompletableFuture of this computation was " + how + " by its holder,"
            + " so the computation was cancelled");
    if (failure != null) {
      cause.initCause(failure);
    }
    return cause;
  }

  /**
   * Waits for {@code stage} and returns its value, or throws its failure (see the class comment
   * for the exact rule).
   *
   * <p>Threading: in a fiber this suspends the fiber, not its carrier thread, and the fiber
   * resumes on its own scheduler, not on the thread that completes the stage; outside any fiber
   * it blocks the calling thread like {@link CompletableFuture#join()}, and, like {@code join},
   * is not ended by {@link Thread#interrupt()}.
   *
   * <p>A stage that has already completed answers at once, without suspending and without
   * checking for cancellation (that is how CompletableFuture behaves: it runs a callback
   * registered on a completed stage immediately; another CompletionStage implementation that
   * runs it later is simply awaited).
   *
   * <p>Cancellation: if the waiting fiber is cancelled, the wait ends and its cancellation
   * cause is thrown (even if the stage completed at the same moment); a
   * {@link CompletableFuture} stage is then cancelled with {@code cancel(false)}, any other stage
   * is left alone (the fiber detaches from it).
   *
   * @param <T> the type of the result
   * @param stage the stage to wait for
   * @return the stage's value
   * @throws NullPointerException if {@code stage} is null
   * @throws CancellationException if the stage was cancelled (its own exception)
   * @throws CompletionException wrapping the stage's failure when that is a checked exception
   * @throws RuntimeException the stage's failure when unchecked, or the fiber's cancellation
   *     cause
   * @throws IllegalStateException if the fiber cannot suspend because it is pinned, or the
   *     calling thread may not block (for example an event-loop thread); the message says why
   */
  public static <T> T await(CompletionStage<T> stage) {
    Objects.requireNonNull(stage, "PicosFutures.await: stage must not be null");
    return awaitReleasing(stage, NO_RELEASE);
  }

  /**
   * Waits for {@code stage} like {@link #await(CompletionStage)}, and hands what a cancelled
   * wait leaves behind to {@code release}. A stage that is not a {@link CompletableFuture} (or a
   * read-only view of one) cannot be cancelled, and a CompletableFuture's {@code cancel} does not
   * stop the code that completes it: when the fiber stops waiting, the value that the operation
   * produces later (a connection, a file, a lease) would otherwise be lost with nobody to close
   * it.
   *
   * <pre>{@code
   * Connection connection = PicosFutures.await(pool.acquire(), Connection::close);
   * }</pre>
   *
   * <p>Exactly once for each value that the fiber does not return: a value that arrives after
   * the fiber stopped waiting (it was cancelled, or the wait was refused) is released by the
   * thread that completes the stage, in its completion callback; one that had arrived when the
   * fiber was cancelled (both happened before the fiber resumed, and the cancellation wins, as
   * in every Picos wait) is released by the fiber before it throws. A value the fiber returns,
   * a {@code null} value and a failure are never released. If {@code release} throws, the failure
   * is reported through {@link Support#reportUncaught} on the thread that ran it; the fiber still
   * throws its cause.
   *
   * <p>Threading: as {@link #await(CompletionStage)}; {@code release} runs on the thread that
   * completes the stage or on the fiber's carrier.
   *
   * <p>Cancellation: as {@link #await(CompletionStage)}: the wait ends at once with the fiber's
   * cause and a {@link CompletableFuture} is cancelled with {@code cancel(false)}; a value that
   * still arrives goes to {@code release}.
   *
   * @param <T> the type of the result
   * @param stage the stage to wait for
   * @param release what to do with a value nobody will take, such as closing it
   * @return the stage's value
   * @throws NullPointerException if an argument is null
   * @throws CancellationException if the stage was cancelled (its own exception)
   * @throws CompletionException wrapping the stage's failure when that is a checked exception
   * @throws RuntimeException the stage's failure when unchecked, or the fiber's cancellation
   *     cause
   * @throws IllegalStateException if the fiber cannot suspend because it is pinned, or the
   *     calling thread may not block (for example an event-loop thread); the message says why
   */
  public static <T> T await(CompletionStage<T> stage, Consumer<? super T> release) {
    Objects.requireNonNull(stage, "PicosFutures.await: stage must not be null");
    Objects.requireNonNull(release, "PicosFutures.await: release must not be null");
    return awaitReleasing(stage, release);
  }

  /** Both awaits: the stage's outcome goes through a {@link Handover} to the waiting fiber. */
  private static <T> T awaitReleasing(CompletionStage<T> stage, Consumer<? super T> release) {
    BlockingGuards.check(); // on entry: a refused thread is refused even when the stage is done
    if (stage.getClass() == CompletableFuture.class) {
      // Fast path: a plain CompletableFuture that already has its value answers without a
      // callback, as the general path would (a completed handover answers at once, without a
      // cancellation check). Subclasses, such as minimalCompletionStage() views, and failed
      // futures take the general path.
      @SuppressWarnings("unchecked")
      CompletableFuture<T> future = (CompletableFuture<T>) stage;
      if (future.state() == Future.State.SUCCESS) {
        return future.resultNow();
      }
    }
    Handover<T> handover = new Handover<>(release, Support::reportUncaught);
    stage.whenComplete((value, failure) -> {
      if (failure == null) {
        handover.deliver(value);
      } else {
        handover.fail(failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause() : failure);
      }
    });
    try {
      return handover.await(Support.waitDescription("PicosFutures.await", stage));
    } catch (RuntimeException | Error stopped) {
      if (Fiber.current().isCanceled() && stage instanceof CompletableFuture<?> future) {
        cancelIfPossible(future);
      }
      throw stopped;
    }
  }

  private static void cancelIfPossible(CompletableFuture<?> future) {
    try {
      future.cancel(false);
    } catch (UnsupportedOperationException readOnlyView) {
      // A minimalCompletionStage(): it cannot be cancelled from outside; detaching is all we do.
    }
  }
}
