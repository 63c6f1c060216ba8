package org.picos.std.blocking;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.spi.BlockingGuards;
import org.picos.spi.Support;

/**
 * Runs blocking calls (JDBC, file I/O, a library's {@code block()} or {@code get()}) from
 * fibers without blocking the fiber's carrier: the call runs on another thread while only the
 * calling fiber waits, so an event loop, a fifo carrier or a multi carrier goes on running its
 * other fibers.
 *
 * <pre>{@code
 * try (PreparedStatement query = connection.prepareStatement("SELECT COUNT(*) FROM users")) {
 *   // suspends this fiber (on, say, a Netty event loop) until the query is done; cancelling the
 *   // fiber interrupts the pool thread and cancels the statement
 *   long count = Blocking.call(() -> {
 *     try (ResultSet rows = query.executeQuery()) {
 *       rows.next();
 *       return rows.getLong(1);
 *     }
 *   }, query::cancel);
 * }
 * }</pre>
 *
 * <h2>Where the call runs</h2>
 * {@link #call(Call)} uses the <em>default pool</em>: at most {@link #DEFAULT_THREADS} platform
 * daemon threads named {@code picos-blocking-1}, {@code picos-blocking-2}, ..., started when
 * needed and ended after a minute idle; calls beyond that many wait in a queue, in order. Set the
 * system property {@value #THREADS_PROPERTY} (a positive whole number, read when the pool is
 * first used) to change the bound. {@link #using(Executor)} offloads to an executor of your
 * choice instead, for example Vert.x's worker pool or Reactor's bounded elastic scheduler:
 * <pre>{@code
 * Blocking.Offload vertxWorkers = Blocking.using(task -> vertx.executeBlocking(() -> {
 *   task.run();
 *   return null;
 * }, false));
 * Blocking.Offload elastic = Blocking.using(Schedulers.boundedElastic()::schedule);
 * }</pre>
 *
 * <p>Outside a fiber there is no carrier to keep free: the calling thread, which may block, runs
 * the call itself (the cancel action is then not used; interrupt the thread to stop the call).
 * It is still a Picos wait, so the {@linkplain BlockingGuards blocking guards} are asked first,
 * on every call: on an event-loop thread outside a fiber the call is refused with the host's
 * error (an {@link IllegalStateException} saying to use a fiber), and the callable does not run.
 *
 * <h2>Results and failures</h2>
 * The call returns the callable's value, or throws what the callable threw, the same object:
 * an unchecked exception or an error as it is, and a checked exception unwrapped, with its own
 * type. {@link Call} declares the checked exception its body throws, so
 * {@code Blocking.call(() -> statement.executeQuery(sql))} throws {@code java.sql.SQLException}
 * and nothing else checked. (This differs from the core's waits, such as
 * {@link Computation#await()}, which wrap a checked exception in a
 * {@link java.util.concurrent.CompletionException}: there the type is not known; here it is.)
 *
 * <h2>Cancellation</h2>
 * A call is a cancellation point: a fiber already cancelled gets its cause and nothing runs.
 * When the waiting fiber is cancelled (or its scheduler closes) before the call returns:
 * <ul>
 *   <li>the fiber stops waiting at once and throws its cancellation cause, as every Picos wait
 *       does (a checked cause wrapped in a {@link java.util.concurrent.CompletionException}); it
 *       does not wait for the call to return;</li>
 *   <li>a call still queued never runs; a call running is interrupted
 *       ({@link Thread#interrupt()} of the thread running it), and then the cancel action given
 *       to {@link #call(Call, CancelAction)} runs, once, on the fiber's thread (wire
 *       {@code Statement::cancel} there, since a JDBC driver may not notice interrupts; keep it
 *       short, it holds the fiber's carrier while it runs). A cancel action that throws is
 *       reported through {@link Support#reportUncaught} and the fiber still ends with its
 *       cause. (A JDBC driver ignores a {@code cancel()} that comes before the statement has
 *       started executing: a call cancelled at its very start may then go on to its end, holding
 *       its pool thread though nobody waits for it.)</li>
 *   <li>what the call returns later is dropped, and so is an exception it throws later (the
 *       interrupt or the cancel action is the expected cause of one, such as an
 *       {@link InterruptedException} or a driver's "statement cancelled"), while an
 *       {@link Error} is reported through {@link Support#reportUncaught};</li>
 *   <li>but a call that had already returned when the cancelled fiber resumed is not lost: the
 *       fiber returns its value (or throws its failure) as if it had not been cancelled, and
 *       sees the cancellation at its next cancellation point;</li>
 *   <li>the interrupt never outlives the call: the pool thread's interrupt flag is cleared
 *       before it takes its next task.</li>
 * </ul>
 * A fiber that has forbidden cancellation ({@link Fiber#forbid}) is not woken: it waits for the
 * call's result, and sees its cancellation at its next cancellation point.
 *
 * <h2>Threads</h2>
 * Every method is safe from any thread. A fiber resumes on its own scheduler, never on the pool
 * thread.
 */
public final class Blocking {
  /** The system property that bounds the default pool: a positive whole number of threads. */
  public static final String THREADS_PROPERTY = "picos.blocking.threads";

  /**
   * The bound of the default pool when {@value #THREADS_PROPERTY} is not set: four threads per
   * available processor, and at least 64, since its threads mostly wait (on a database, a disk, a
   * remote service) rather than compute.
   */
  public static final int DEFAULT_THREADS = Math.max(64, 4 * Runtime.getRuntime().availableProcessors());

  private static final CancelAction NO_CANCEL_ACTION = () -> {};

  /** The default pool's offload, made on first use; see {@link #defaults()}. */
  private static volatile Offload defaults;

  private Blocking() {}

  /**
   * A blocking call: like {@link java.util.concurrent.Callable}, but declaring the checked
   * exception {@code E} its body throws, so that {@link Blocking#call} rethrows exactly that
   * (for a body that throws no checked exception, {@code E} is inferred as
   * {@link RuntimeException}). A {@code Callable} {@code c} fits as {@code c::call}.
   *
   * @param <T> the type of the result
   * @param <E> the checked exception the call may throw
   */
  @FunctionalInterface
  public interface Call<T, E extends Exception> {
    /**
     * Runs the blocking call.
     *
     * @return its result
     * @throws E what the call throws
     */
    T call() throws E;
  }

  /**
   * What stops a running blocking call whose fiber was cancelled, such as
   * {@code statement::cancel} for JDBC; it may throw (what it throws is reported, see the class
   * comment).
   */
  @FunctionalInterface
  public interface CancelAction {
    /**
     * Stops the call, or asks it to stop; called once, on the cancelled fiber's thread.
     *
     * @throws Exception if stopping failed
     */
    void cancel() throws Exception;
  }

  /**
   * Runs {@code body} on the default pool and waits for it, suspending only the calling fiber;
   * see the class comment for where it runs, what it throws and what cancellation does.
   *
   * <p>Threading: from a fiber of any scheduler the body runs on a {@code picos-blocking-N}
   * thread and the fiber resumes on its scheduler; outside a fiber the calling thread runs it.
   *
   * <p>Cancellation: cancelling the waiting fiber ends the wait at once with its cause and
   * interrupts the body's thread; the late result is dropped.
   *
   * @param <T> the type of the result
   * @param <E> the checked exception {@code body} throws
   * @param body the blocking call
   * @return what {@code body} returned
   * @throws E what {@code body} threw (as well as its unchecked exceptions and errors, as they
   *     are)
   * @throws RuntimeException the fiber's cancellation cause
   * @throws IllegalStateException if the calling thread must not block (an event loop outside a
   *     fiber), or {@value #THREADS_PROPERTY} is not a positive whole number
   * @throws NullPointerException if {@code body} is null
   */
  public static <T, E extends Exception> T call(Call<T, E> body) throws E {
    return defaults().call(body, NO_CANCEL_ACTION);
  }

  /**
   * Runs {@code body} on the default pool like {@link #call(Call)}, and if the waiting fiber is
   * cancelled while {@code body} runs, interrupts it and then runs {@code onCancel} (for example
   * {@code statement::cancel}).
   *
   * <p>Threading: as {@link #call(Call)}; {@code onCancel} runs on the cancelled fiber's thread,
   * once, only if {@code body} had started and not finished.
   *
   * <p>Cancellation: see the class comment; a failure of {@code onCancel} is reported through
   * {@link Support#reportUncaught} and the fiber still throws its cause.
   *
   * @param <T> the type of the result
   * @param <E> the checked exception {@code body} throws
   * @param body the blocking call
   * @param onCancel what stops {@code body} when its fiber is cancelled
   * @return what {@code body} returned
   * @throws E what {@code body} threw
   * @throws RuntimeException the fiber's cancellation cause
   * @throws IllegalStateException if the calling thread must not block, or
   *     {@value #THREADS_PROPERTY} is not a positive whole number
   * @throws NullPointerException if an argument is null
   */
  public static <T, E extends Exception> T call(Call<T, E> body, CancelAction onCancel) throws E {
    return defaults().call(body, onCancel);
  }

  /**
   * An offload whose calls run on {@code executor} instead of the default pool. The executor's
   * threads should be allowed to block; each call is one {@link Executor#execute} of a task that
   * runs the body (a task whose fiber was cancelled before it started returns at once).
   *
   * <p>Threading: safe from any thread; the answer may be shared and used by any number of
   * fibers at once.
   *
   * <p>Cancellation: as for the default pool (see the class comment); a cancelled call's thread
   * is interrupted while it runs the body, and its interrupt flag is cleared before the task
   * returns to the executor.
   *
   * @param executor where the calls run
   * @return an offload to {@code executor}
   * @throws NullPointerException if {@code executor} is null
   */
  public static Offload using(Executor executor) {
    Objects.requireNonNull(executor, "Blocking.using: executor must not be null");
    return new Offload(executor, "Blocking.using(" + executor + ")");
  }

  private static Offload defaults() {
    Offload d = defaults;
    if (d == null) {
      synchronized (Blocking.class) {
        d = defaults;
        if (d == null) {
          int threads = threads(System.getProperty(THREADS_PROPERTY));
          ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 1, TimeUnit.MINUTES,
              new LinkedBlockingQueue<>(),
              Thread.ofPlatform().daemon().name("picos-blocking-", 1).factory());
          pool.allowCoreThreadTimeOut(true);
          d = defaults = new Offload(pool, "the default pool of Blocking (" + threads + " threads)");
        }
      }
    }
    return d;
  }

  /**
   * The default pool's bound for a value of {@value #THREADS_PROPERTY}: {@link #DEFAULT_THREADS}
   * when unset.
   *
   * @throws IllegalStateException if {@code property} is set but not a positive whole number
   */
  static int threads(String property) {
    if (property == null) {
      return DEFAULT_THREADS;
    }
    int threads;
    try {
      threads = Integer.parseInt(property.strip());
    } catch (NumberFormatException notANumber) {
      threads = 0;
    }
    if (threads <= 0) {
      throw new IllegalStateException("Blocking: the system property " + THREADS_PROPERTY
          + " must be a positive whole number of threads, but is \"" + property + "\"; fix it,"
          + " or leave it unset for the default of " + DEFAULT_THREADS);
    }
    return threads;
  }

  /**
   * Where blocking calls run: the default pool ({@link Blocking#call(Call)}) or an executor
   * ({@link Blocking#using(Executor)}). Immutable; safe to share between fibers and threads.
   */
  public static final class Offload {
    private final Executor executor;
    private final String name;

    private Offload(Executor executor, String name) {
      this.executor = executor;
      this.name = name;
    }

    /**
     * Runs {@code body} here and waits for it, suspending only the calling fiber: as
     * {@link Blocking#call(Call)}, on this offload's executor.
     *
     * <p>Threading: from a fiber the body runs on the executor; outside a fiber, on the calling
     * thread.
     *
     * <p>Cancellation: cancelling the waiting fiber ends the wait at once with its cause and
     * interrupts the body's thread; the late result is dropped.
     *
     * @param <T> the type of the result
     * @param <E> the checked exception {@code body} throws
     * @param body the blocking call
     * @return what {@code body} returned
     * @throws E what {@code body} threw
     * @throws RuntimeException the fiber's cancellation cause
     * @throws RejectedExecutionException if the executor refused the call (nothing ran)
     * @throws IllegalStateException if the calling thread must not block
     * @throws NullPointerException if {@code body} is null
     */
    public <T, E extends Exception> T call(Call<T, E> body) throws E {
      return call(body, NO_CANCEL_ACTION);
    }

    /**
     * Runs {@code body} here like {@link #call(Call)}, and if the waiting fiber is cancelled
     * while {@code body} runs, interrupts it and then runs {@code onCancel}; as
     * {@link Blocking#call(Call, CancelAction)}, on this offload's executor.
     *
     * <p>Threading: from a fiber the body runs on the executor, and {@code onCancel} on the
     * cancelled fiber's thread; outside a fiber the calling thread runs the body and
     * {@code onCancel} is not used.
     *
     * <p>Cancellation: see the class comment of {@link Blocking}; a failure of {@code onCancel}
     * is reported through {@link Support#reportUncaught} and the fiber still throws its cause.
     *
     * @param <T> the type of the result
     * @param <E> the checked exception {@code body} throws
     * @param body the blocking call
     * @param onCancel what stops {@code body} when its fiber is cancelled
     * @return what {@code body} returned
     * @throws E what {@code body} threw
     * @throws RuntimeException the fiber's cancellation cause
     * @throws RejectedExecutionException if the executor refused the call (nothing ran)
     * @throws IllegalStateException if the calling thread must not block
     * @throws NullPointerException if an argument is null
     */
    public <T, E extends Exception> T call(Call<T, E> body, CancelAction onCancel) throws E {
      Objects.requireNonNull(body, "Blocking.call: body must not be null");
      Objects.requireNonNull(onCancel, "Blocking.call: onCancel must not be null");
      if (!Fiber.inFiber()) {
        BlockingGuards.check();
        Fiber.check();
        return body.call();
      }
      Fiber.check();
      Job<T, E> job = new Job<>(body);
      try {
        handOver(job);
      } catch (RejectedExecutionException refused) {
        throw new RejectedExecutionException("Blocking.call: " + name + " refused the call, which"
            + " did not run (" + refused.getMessage() + "); offload to an executor that is running"
            + " and accepts tasks", refused);
      }
      job.done.awaitOrWithdraw(() -> job.withdraw(onCancel));
      return job.outcome();
    }

    /**
     * Gives the call to the executor, in a frame of its own: a pool's queue lock may park the
     * carrier for a moment under contention, which the BlockHound integration allows here (and
     * only here) as part of the hand-off, not as a blocking call of the fiber.
     */
    private void handOver(Runnable job) {
      executor.execute(job);
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /**
   * One offloaded call: the task given to the executor, and what the fiber awaits.
   *
   * <h2>State machine</h2>
   * One atomic cell, {@code state}:
   * <pre>
   *   NEW ---------worker starts the body--------> RUNNING (the cell holds the worker's Thread)
   *   NEW ---------fiber stops waiting-----------> ABANDONED    (the body never runs)
   *   RUNNING -----worker ends the body----------> FINISHED     (outcome written first; then done is signalled)
   *   FINISHED ----fiber stops waiting-----------> FINISHED     (the fiber takes the outcome all the same)
   *   RUNNING -----fiber stops waiting-----------> INTERRUPTING --fiber, once interrupt() returned--> ABANDONED
   * </pre>
   * {@code NEW} is {@code null}; {@code FINISHED} and {@code ABANDONED} are final. The worker
   * side ({@link #run}) and the fiber side ({@link #withdraw}, run only when the wait ends
   * without the signal) each run once. A worker ending its body that finds {@code INTERRUPTING}
   * waits for {@code ABANDONED} (so the interrupt cannot land on its next task), clears its
   * interrupt flag and drops the outcome, which nobody will take (reporting an {@link Error},
   * nothing else); a fiber that stops waiting and finds {@code FINISHED} takes the outcome after
   * all, so a result that exists is never lost.
   */
  private static final class Job<T, E extends Exception> implements Runnable {
    private static final Object INTERRUPTING = new Object();
    private static final Object ABANDONED = new Object();
    private static final Object FINISHED = new Object();
    private static final VarHandle STATE;

    static {
      try {
        STATE = MethodHandles.lookup().findVarHandle(Job.class, "state", Object.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final Trigger done = Trigger.create();
    private final Call<T, E> body;
    private volatile Object state;
    /** Written by the worker before it moves to {@code FINISHED}; read after that. */
    private T value;
    private Throwable failure;

    Job(Call<T, E> body) {
      this.body = body;
    }

    @Override
    public void run() {
      Thread worker = Thread.currentThread();
      if (!STATE.compareAndSet(this, null, worker)) {
        return; // abandoned before it started
      }
      T v = null;
      Throwable f = null;
      try {
        v = body.call();
      } catch (Throwable t) {
        f = t;
      }
      value = v;
      failure = f;
      if (STATE.compareAndSet(this, worker, FINISHED)) {
        try {
          done.signal();
        } catch (Throwable resumeFailed) {
          Support.reportUncaught(resumeFailed);
        }
        return;
      }
      while (state != ABANDONED) {
        Thread.yield(); // the fiber is between its CAS and interrupt() returning
      }
      Thread.interrupted();
      if (f instanceof Error error) {
        Support.reportUncaught(error); // nobody takes the outcome; an Error is never expected
      }
    }

    /**
     * The fiber side, when its wait ended without the signal: stops the body if it has not
     * finished, and says so ({@code true}); {@code false} if it had finished, so that the fiber
     * takes its outcome after all.
     */
    boolean withdraw(CancelAction onCancel) {
      for (;;) {
        Object s = state;
        if (s == null) {
          if (STATE.compareAndSet(this, null, ABANDONED)) {
            return true;
          }
        } else if (s instanceof Thread worker) {
          if (STATE.compareAndSet(this, s, INTERRUPTING)) {
            try {
              worker.interrupt();
            } finally {
              state = ABANDONED;
            }
            try {
              onCancel.cancel();
            } catch (Throwable failed) {
              Support.reportUncaught(failed);
            }
            return true;
          }
        } else {
          return false; // FINISHED: the outcome is there, and is not lost
        }
      }
    }

    /** The outcome, once {@link #done} was signalled: the value, or the body's failure thrown. */
    @SuppressWarnings("unchecked")
    T outcome() throws E {
      Throwable f = failure;
      if (f == null) {
        return value;
      }
      if (f instanceof Exception checkedOrNot && !(f instanceof RuntimeException)) {
        throw (E) checkedOrNot; // what the body declared (the compiler's view of what it throws)
      }
      throw Computation.unchecked(f);
    }
  }
}
