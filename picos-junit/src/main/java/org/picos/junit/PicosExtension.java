package org.picos.junit;

import java.lang.reflect.Method;
import java.lang.reflect.UndeclaredThrowableException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;
import org.junit.platform.commons.support.AnnotationSupport;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Fibers;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;

/**
 * The JUnit 5 extension behind {@link InFiber} (it also works alone, with
 * {@code @ExtendWith(PicosExtension.class)} and {@link InFiber}'s defaults). For each test
 * method (plain, repeated or parameterized) it:
 * <ol>
 *   <li>builds the scheduler {@link InFiber} asks for, a new one per test;
 *   <li>runs the method's body in a fiber of it, so {@code Fiber.current()}, suspending waits,
 *       {@code Fiber.spawn} and the std library behave as in production code, and the JUnit
 *       thread only waits;
 *   <li>if the body has not ended within {@link InFiber#timeoutMillis()}, takes a fiber dump
 *       while the fibers are still where they are stuck, cancels the body's fiber and fails the
 *       test with a {@link TimeoutException} whose message holds the dump (the counterpart of
 *       kotlinx.coroutines' {@code CoroutinesTimeout});
 *   <li>if the body returned but fibers it started on the scheduler are still alive after a
 *       grace of {@value #LEAK_GRACE_MILLIS} ms, fails the test with their dump (a leak check,
 *       off with {@code leakCheck = false});
 *   <li>closes the scheduler, which cancels whatever is left, so nothing outlives the test.
 * </ol>
 * A body that fails fails the test with its own exception, unchanged; on the random scheduler
 * the seed is printed and attached to the failure as a suppressed note saying how to replay it.
 *
 * <p>Threading: the body runs on the scheduler's carrier, not on the JUnit thread; JUnit's own
 * {@code @Timeout} still applies around the whole of it.
 */
public final class PicosExtension implements InvocationInterceptor {
  /** How long fibers started by a passing body may take to end before they count as leaked. */
  public static final long LEAK_GRACE_MILLIS = 200;

  @InFiber
  private static final class Defaults {}

  /** Creates the extension; JUnit calls this. */
  public PicosExtension() {}

  @Override
  public void interceptTestMethod(Invocation<Void> invocation,
      ReflectiveInvocationContext<Method> invocationContext, ExtensionContext context)
      throws Throwable {
    runInFiber(invocation, context);
  }

  @Override
  public void interceptTestTemplateMethod(Invocation<Void> invocation,
      ReflectiveInvocationContext<Method> invocationContext, ExtensionContext context)
      throws Throwable {
    runInFiber(invocation, context);
  }

  private static InFiber settings(ExtensionContext context) {
    Optional<InFiber> onMethod =
        AnnotationSupport.findAnnotation(context.getTestMethod(), InFiber.class);
    if (onMethod.isPresent()) {
      return onMethod.get();
    }
    for (Optional<Class<?>> c = context.getTestClass(); c.isPresent();
        c = Optional.ofNullable(c.get().getEnclosingClass())) {
      Optional<InFiber> onClass = AnnotationSupport.findAnnotation(c.get(), InFiber.class);
      if (onClass.isPresent()) {
        return onClass.get();
      }
    }
    return Defaults.class.getAnnotation(InFiber.class);
  }

  private static Scheduler scheduler(InFiber settings, long seed) throws Exception {
    if (settings.provider() != InFiber.NoProvider.class) {
      Supplier<? extends Scheduler> provider =
          settings.provider().getDeclaredConstructor().newInstance();
      Scheduler s = provider.get();
      if (s == null) {
        throw new IllegalStateException(settings.provider().getName() + " returned no scheduler");
      }
      return s;
    }
    return switch (settings.scheduler()) {
      case FIFO -> Schedulers.fifo();
      case MULTI -> Schedulers.multi(settings.threads());
      case THREAD_PER_FIBER -> Schedulers.threadPerFiber();
      case RANDOM -> RandomExecutor.scheduler(seed);
    };
  }

  private static void runInFiber(Invocation<Void> invocation, ExtensionContext context)
      throws Throwable {
    InFiber settings = settings(context);
    boolean random = settings.provider() == InFiber.NoProvider.class
        && settings.scheduler() == InFiber.Kind.RANDOM;
    long seed = settings.seed() != InFiber.FRESH_SEED ? settings.seed()
        : ThreadLocalRandom.current().nextLong();
    if (random) {
      System.out.println(context.getDisplayName() + ": random scheduler seed " + seed);
    }
    Scheduler scheduler = scheduler(settings, seed);
    String test = context.getRequiredTestMethod().getName();
    Throwable failure = null;
    try {
      failure = runAndCheck(invocation, scheduler, settings, test);
    } finally {
      if (failure instanceof TimeoutException) {
        closeInTheBackground(scheduler); // a stuck fiber must not also hang the test run
      } else {
        try {
          scheduler.close();
        } catch (RuntimeException | Error closing) {
          if (failure == null) {
            failure = closing;
          } else {
            failure.addSuppressed(closing);
          }
        }
      }
    }
    if (failure != null) {
      if (random) {
        failure.addSuppressed(new Note(test + " ran on " + scheduler + "; replay its order with"
            + " @InFiber(scheduler = InFiber.Kind.RANDOM, seed = " + seed + "L)"));
      }
      throw failure;
    }
  }

  /** Runs the body in a fiber; returns why the test fails, or null. */
  private static Throwable runAndCheck(Invocation<Void> invocation, Scheduler scheduler,
      InFiber settings, String test) throws InterruptedException {
    Fiber[] main = new Fiber[1];
    Computation<Void> body = scheduler.start(() -> {
      main[0] = Fiber.current();
      try {
        invocation.proceed();
      } catch (Exception | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new UndeclaredThrowableException(t);
      }
      return null;
    });
    CountDownLatch ended = new CountDownLatch(1);
    body.whenDone(ended::countDown);
    long timeout = settings.timeoutMillis();
    if (timeout > 0 && !ended.await(timeout, TimeUnit.MILLISECONDS)) {
      TimeoutException timedOut = new TimeoutException(test + " did not end within " + timeout
          + " ms on " + scheduler + ". Fiber dump taken then:\n" + Fibers.toText());
      body.tryCancel(timedOut);
      return timedOut;
    } else if (timeout <= 0) {
      ended.await();
    }
    Throwable thrown = body.canceled();
    if (thrown != null) {
      return thrown;
    }
    if (settings.leakCheck()) {
      List<Fibers.FiberInfo> left = leftAlive(scheduler, main[0]);
      if (!left.isEmpty()) {
        return new AssertionError(test + " left " + left.size() + " fiber(s) alive on "
            + scheduler + " after it returned (join them: Flock.joinAfter, Bundle, or await"
            + " their computations): " + left + "\nFiber dump:\n" + Fibers.toText());
      }
    }
    return null;
  }

  /** The fibers of {@code scheduler} other than {@code main} still alive after the grace. */
  private static List<Fibers.FiberInfo> leftAlive(Scheduler scheduler, Fiber main)
      throws InterruptedException {
    String name = scheduler.toString();
    long mainId = main.id();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LEAK_GRACE_MILLIS);
    for (;;) {
      List<Fibers.FiberInfo> left = Fibers.dump().stream()
          .filter(i -> i.scheduler().equals(name) && i.id() != mainId).toList();
      if (left.isEmpty() || System.nanoTime() - deadline > 0) {
        return left;
      }
      Thread.sleep(5);
    }
  }

  private static void closeInTheBackground(Scheduler scheduler) {
    // A failure of this close goes to the thread's uncaught-exception handler.
    Thread closer = new Thread(scheduler::close, "picos-junit-close-" + scheduler);
    closer.setDaemon(true);
    closer.start();
  }

  /** A note attached to a failure: says where it ran; no stack of its own. */
  private static final class Note extends Exception {
    private static final long serialVersionUID = 1L;

    Note(String message) {
      super(message, null, false, false);
    }
  }
}
