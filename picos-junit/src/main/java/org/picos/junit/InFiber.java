package org.picos.junit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.ExtendWith;
import org.picos.Scheduler;

/**
 * Runs each test method's body in a fiber, on a new scheduler per test, with a timeout that
 * prints the fiber dump and a leak check; see {@link PicosExtension} for what happens exactly.
 * On a class, it applies to every test method of the class (and its subclasses); on a method,
 * it overrides the class's.
 *
 * <pre>{@code
 * @InFiber(scheduler = InFiber.Kind.RANDOM, seed = 42, timeoutMillis = 2_000)
 * class MyChannelTest {
 *   @Test
 *   void aConsumerSeesEveryElement() { ... Channel.receive() ... }
 * }
 * }</pre>
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@ExtendWith(PicosExtension.class)
public @interface InFiber {
  /** The core schedulers a test can run on. */
  enum Kind {
    /** {@code Schedulers.fifo()}: one carrier, FIFO order. */
    FIFO,
    /** {@code Schedulers.multi(threads)}: work stealing over {@link InFiber#threads()} carriers. */
    MULTI,
    /** {@code Schedulers.threadPerFiber()}: a virtual thread per fiber. */
    THREAD_PER_FIBER,
    /**
     * {@link RandomExecutor#scheduler(long)}: one carrier, ready fibers in an order drawn from
     * {@link InFiber#seed()}; the seed is printed and attached to a failure.
     */
    RANDOM
  }

  /**
   * The scheduler to run on, unless {@link #provider()} names one.
   *
   * @return the kind of scheduler; fifo by default
   */
  Kind scheduler() default Kind.FIFO;

  /**
   * Carriers of {@link Kind#MULTI}.
   *
   * @return the number of threads; 2 by default
   */
  int threads() default 2;

  /**
   * The seed of {@link Kind#RANDOM}; {@link #FRESH_SEED} draws a new one for each test (printed,
   * and attached to a failure, so the failing order can be replayed by writing it here).
   *
   * @return the seed
   */
  long seed() default FRESH_SEED;

  /** The value of {@link #seed()} that asks for a new seed per test. */
  long FRESH_SEED = Long.MIN_VALUE;

  /**
   * A class with a public no-argument constructor that makes the scheduler (a bridge's, a
   * custom one); it takes precedence over {@link #scheduler()}. The extension closes what it
   * returns after the test.
   *
   * @return the provider; none by default
   */
  Class<? extends Supplier<? extends Scheduler>> provider() default NoProvider.class;

  /**
   * How long the body may run before the test fails with a fiber dump; 0 waits forever.
   *
   * @return the timeout in milliseconds; 10 seconds by default
   */
  long timeoutMillis() default 10_000;

  /**
   * Whether fibers the test started and that are still alive when its body has returned (and a
   * short grace after) fail the test.
   *
   * @return whether to check; true by default
   */
  boolean leakCheck() default true;

  /** The default of {@link #provider()}: no provider. */
  final class NoProvider implements Supplier<Scheduler> {
    private NoProvider() {}

    @Override
    public Scheduler get() {
      throw new UnsupportedOperationException("no provider");
    }
  }
}
