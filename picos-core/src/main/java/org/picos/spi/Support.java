package org.picos.spi;

import java.lang.Thread.UncaughtExceptionHandler;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.internal.CoreAccess;

/**
 * What schedulers, bridges and libraries built on the core share to keep the one promise every
 * part of Picos makes: a failure is never lost. Safe from any thread.
 */
public final class Support {
  private Support() {}

  /**
   * A fiber main that runs {@code body} and completes {@code computation} with its value or
   * failure. If the computation was completed first (typically cancelled from outside), a value
   * is dropped, and so is the computation's own cancellation unwinding out of the body
   * ({@link Computation#isCancellation}); any other failure goes to {@link #reportUncaught}.
   *
   * @throws NullPointerException if an argument is null
   */
  public static <T> Runnable capturing(Computation<T> computation, Callable<? extends T> body) {
    Objects.requireNonNull(computation, "computation");
    Objects.requireNonNull(body, "body");
    return () -> {
      T value;
      try {
        value = body.call();
      } catch (Throwable failure) {
        if (!computation.tryCancel(failure) && !computation.isCancellation(failure)) {
          reportUncaught(failure);
        }
        return;
      }
      computation.tryReturn(value);
    };
  }

  /**
   * Hands {@code failure}, which nobody can receive, to the calling thread's uncaught-exception
   * handler (or prints it, if that handler throws).
   */
  public static void reportUncaught(Throwable failure) {
    Thread t = Thread.currentThread();
    UncaughtExceptionHandler h = t.getUncaughtExceptionHandler();
    try {
      h.uncaughtException(t, failure);
    } catch (Throwable ignored) {
      failure.printStackTrace();
    }
  }

  /**
   * {@code computation.tryCancel(cause)} for a timer or a host's callback, where nobody would see
   * a failure of a trigger's action: such a failure goes to {@link #reportUncaught}.
   *
   * @return whether this call cancelled the computation
   */
  public static boolean cancelReporting(Computation<?> computation, Throwable cause) {
    try {
      return computation.tryCancel(cause);
    } catch (Throwable failure) {
      reportUncaught(failure);
      return true;
    }
  }

  /**
   * Whether the calling code runs in a fiber whose carrier thread it must not block: a fiber of
   * a scheduler whose {@link Handler#mayBlockCarrier()} is {@code false} (fifo and multi
   * carriers, event loops, executors). Outside any fiber, and in {@code threadPerFiber} fibers,
   * {@code false}. For tools that flag blocking calls (the BlockHound integration). Safe from any
   * thread; two thread-local reads.
   */
  public static boolean inNonBlockingFiber() {
    return Fiber.inFiber() && !CoreAccess.get().handler(Fiber.current()).mayBlockCarrier();
  }

  /**
   * A wait description for {@link org.picos.Trigger#create(Object)} and
   * {@link Computation#awaitDescribed}: {@code operation + " on " + on}, built only when a fiber
   * dump or a log asks, so that {@code on}'s current state is shown (for example
   * {@code "Mutex.lock on Mutex[locked, 2 waiting]"}). Make one per primitive or per wait, not
   * per call on a hot path, when {@code on} is long-lived. Safe from any thread.
   *
   * @param operation what waits, such as {@code "Mutex.lock"}
   * @param on the object waited on (its {@code toString()} is used)
   * @return the description
   */
  public static Object waitDescription(String operation, Object on) {
    Objects.requireNonNull(operation, "operation");
    return new Object() {
      @Override
      public String toString() {
        return operation + " on " + on;
      }
    };
  }
}
