package org.picos.sched;

import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.spi.Support;

/**
 * The core schedulers. All but {@link #threadPerFiber()} run fibers as continuations and need
 * the JVM flag {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}; creating one
 * without it fails at once with a message naming the flag. Threads they create are daemons.
 */
public final class Schedulers {
  private static final AtomicInteger IDS = new AtomicInteger();
  private static volatile Scheduler shared;

  private Schedulers() {}

  /**
   * One carrier thread, fibers run in FIFO order, cancelled fibers resumed first. The cheapest
   * scheduler, and a deterministic one when fibers only talk to each other.
   */
  public static Scheduler fifo() {
    return new FifoScheduler("fifo-" + IDS.incrementAndGet());
  }

  /**
   * {@code threads} carrier threads with a queue each and work stealing between them (a
   * {@link ForkJoinPool} in FIFO mode): a fiber may resume on another carrier than it suspended
   * on. {@link Scheduler#close()} stops the threads.
   *
   * @throws IllegalArgumentException if {@code threads} is not positive
   */
  public static Scheduler multi(int threads) {
    if (threads <= 0) {
      throw new IllegalArgumentException("multi: threads must be positive, was " + threads);
    }
    String name = "multi(" + threads + ")-" + IDS.incrementAndGet();
    AtomicInteger n = new AtomicInteger();
    ForkJoinPool pool = new ForkJoinPool(threads, p -> {
      ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
      t.setName(name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    }, null, true);
    return ExecutorScheduler.builder(pool)
        .name(name)
        .ownsExecutor()
        .onClose(pool::shutdown, () -> awaitTermination(pool))
        .build();
  }

  private static void awaitTermination(ForkJoinPool pool) {
    boolean interrupted = false;
    for (;;) {
      try {
        if (pool.awaitTermination(1, TimeUnit.MINUTES)) {
          break;
        }
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** A thread per fiber, virtual threads. Needs no JVM flag; await parks the fiber's thread. */
  public static Scheduler threadPerFiber() {
    return threadPerFiber(Thread.ofVirtual().name("picos-fiber-", 0).factory());
  }

  /** A thread per fiber, each made by {@code factory}. */
  public static Scheduler threadPerFiber(ThreadFactory factory) {
    Objects.requireNonNull(factory, "factory");
    return new ThreadPerFiberScheduler("threadPerFiber-" + IDS.incrementAndGet(), factory);
  }

  /**
   * Fibers run on {@code executor}: each slice between suspensions is one task. On a
   * single-threaded executor a fiber never leaves that thread. Closing the scheduler leaves the
   * executor running; shutting the executor down (if it is an ExecutorService) closes the
   * scheduler, cancelling its fibers. See {@link ExecutorScheduler} for more options.
   */
  public static ExecutorScheduler onExecutor(Executor executor) {
    return ExecutorScheduler.builder(executor).build();
  }

  /**
   * Starts {@code fiber} running {@code main} by the rule every bridge follows for new work:
   * on {@code where} when it is not null; otherwise, called in a fiber, on that fiber's
   * scheduler ({@link Fiber#spawn(Fiber, Runnable)}, a cancellation point); otherwise on
   * {@link #shared()}. All or nothing, as {@code spawn} is.
   *
   * @throws org.picos.SchedulerClosedException if the chosen scheduler is closed
   * @throws RuntimeException the calling fiber's cancellation cause (when it spawns a child)
   * @throws NullPointerException if {@code fiber} or {@code main} is null
   */
  public static void spawn(Scheduler where, Fiber fiber, Runnable main) {
    if (where != null) {
      where.spawn(fiber, main);
    } else if (Fiber.inFiber()) {
      Fiber.spawn(fiber, main);
    } else {
      shared().spawn(fiber, main);
    }
  }

  /**
   * Starts {@code body} in a new fiber chosen as {@link #spawn(Scheduler, Fiber, Runnable)}
   * does and returns its computation, which completes with the body's value or failure; cancel
   * it to cancel the fiber.
   *
   * @throws org.picos.SchedulerClosedException if the chosen scheduler is closed
   * @throws RuntimeException the calling fiber's cancellation cause (when it spawns a child)
   * @throws NullPointerException if {@code body} is null
   */
  public static <T> Computation<T> start(Scheduler where, Callable<T> body) {
    Objects.requireNonNull(body, "body");
    Computation<T> c = Computation.create();
    spawn(where, Fiber.create(false, c), Support.capturing(c, body));
    return c;
  }

  /**
   * The scheduler that work started outside any fiber runs on by default (bridges use it when
   * given no scheduler): {@link #multi(int)} sized to the available processors, created on
   * first use. It lives as long as the JVM: its {@code close()} throws
   * {@link UnsupportedOperationException}.
   */
  public static Scheduler shared() {
    Scheduler s = shared;
    if (s == null) {
      synchronized (Schedulers.class) {
        s = shared;
        if (s == null) {
          s = shared = new Shared(multi(Runtime.getRuntime().availableProcessors()));
        }
      }
    }
    return s;
  }

  /** {@link #shared()}: a scheduler nobody may close. */
  private static final class Shared implements Scheduler {
    private final Scheduler delegate;

    Shared(Scheduler delegate) {
      this.delegate = delegate;
    }

    @Override
    public <T> Computation<T> start(Callable<T> main) {
      return delegate.start(main);
    }

    @Override
    public void spawn(Fiber fiber, Runnable main) {
      delegate.spawn(fiber, main);
    }

    @Override
    public void close() {
      throw new UnsupportedOperationException(
          "Schedulers.shared() lives as long as the JVM and cannot be closed;"
              + " close only the schedulers you create");
    }

    @Override
    public boolean isClosed() {
      return false;
    }

    @Override
    public String toString() {
      return "shared " + delegate;
    }
  }
}
