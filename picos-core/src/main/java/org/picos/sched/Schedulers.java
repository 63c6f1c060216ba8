package org.picos.sched;

import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.picos.Scheduler;

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
   * {@code threads} carrier threads, each with its own queue. Every new fiber (root or child) is
   * placed on one carrier and stays there for life: on the spawning carrier unless that one has
   * more fibers waiting to run than another (taken in turn), which spreads a fan-out over all
   * carriers. A fiber never migrates to another carrier once started, because code compiled by
   * the JIT may keep using the {@code Thread.currentThread()} (and so the ThreadLocals and, for
   * example, a ForkJoinPool's worker queue) it saw before a suspension; a fiber resumed on
   * another thread would act on the old one. {@link Scheduler#close()} stops the threads.
   *
   * @throws IllegalArgumentException if {@code threads} is not positive
   */
  public static Scheduler multi(int threads) {
    if (threads <= 0) {
      throw new IllegalArgumentException("multi: threads must be positive, was " + threads);
    }
    String name = "multi(" + threads + ")-" + IDS.incrementAndGet();
    Carriers carriers = new Carriers(name, threads);
    return ExecutorScheduler.builder(carriers.executors[0])
        .name(name)
        .placement(carriers::place)
        .shutdownWhen(() -> false)
        .onClose(carriers::shutdown, carriers::awaitTermination)
        .build();
  }

  /** The carrier threads of {@link #multi}: one single-threaded executor each. */
  private static final class Carriers {
    final ThreadPoolExecutor[] executors;
    private final Thread[] threads;
    private final AtomicInteger turn = new AtomicInteger();

    Carriers(String name, int n) {
      executors = new ThreadPoolExecutor[n];
      threads = new Thread[n];
      for (int i = 0; i < n; i++) {
        int index = i;
        executors[i] = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, name + "-" + (index + 1));
          t.setDaemon(true);
          threads[index] = t;
          return t;
        });
        executors[i].prestartAllCoreThreads();
      }
    }

    /** The carrier for a new fiber: the calling carrier unless another one is less busy. */
    Executor place() {
      ThreadPoolExecutor other = executors[Math.floorMod(turn.getAndIncrement(), executors.length)];
      Thread self = Thread.currentThread();
      for (int i = 0; i < threads.length; i++) {
        if (threads[i] == self) {
          ThreadPoolExecutor here = executors[i];
          return here.getQueue().size() <= other.getQueue().size() ? here : other;
        }
      }
      return other;
    }

    void shutdown() {
      for (ThreadPoolExecutor e : executors) {
        e.shutdown();
      }
    }

    void awaitTermination() {
      boolean interrupted = false;
      for (ThreadPoolExecutor e : executors) {
        for (;;) {
          try {
            if (e.awaitTermination(1, TimeUnit.MINUTES)) {
              break;
            }
          } catch (InterruptedException ie) {
            interrupted = true;
          }
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** A thread per fiber, virtual threads. Needs no JVM flag; await parks the fiber's thread. */
  public static Scheduler threadPerFiber() {
    return threadPerFiber(Thread.ofVirtual().name("picos-fiber-", 0).factory());
  }

  /** A thread per fiber, each made by {@code factory}. */
  public static Scheduler threadPerFiber(ThreadFactory factory) {
    java.util.Objects.requireNonNull(factory, "factory");
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
    public <T> org.picos.Computation<T> start(java.util.concurrent.Callable<T> main) {
      return delegate.start(main);
    }

    @Override
    public void spawn(org.picos.Fiber fiber, Runnable main) {
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
