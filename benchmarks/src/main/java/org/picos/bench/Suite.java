package org.picos.bench;

import java.lang.annotation.ElementType;
import java.lang.annotation.Repeatable;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a JMH benchmark class as one suite of {@code benchmarks/run}: the class's
 * {@code @Benchmark} methods are its contenders, and {@link RunSuites} turns their results into
 * one table of {@code RESULTS.md}, each contender with its ratio to {@link #reference()}
 * measured in the same run. Adding a suite is adding one class with this annotation; nothing
 * else lists suites.
 *
 * <p>Every suite class also carries the JMH annotations it needs, at least
 * {@code @Fork(jvmArgsAppend = Suite.ADD_EXPORTS)} so the forked JVM can use continuations;
 * {@link RunSuites} sets only the number of forks, iterations and their times (quick or full;
 * see {@link #ownIterations()}).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface Suite {
  /** The JVM flag every forked benchmark JVM needs for {@code jdk.internal.vm.Continuation}. */
  String ADD_EXPORTS = "--add-exports=java.base/jdk.internal.vm=ALL-UNNAMED";

  /** The suite's heading in RESULTS.md. */
  String title();

  /** What one operation is, and anything a reader needs to judge the numbers (markdown). */
  String description();

  /** The name of the benchmark method every ratio is computed against. */
  String reference();

  /**
   * The result to tabulate: empty for JMH's primary score (time per operation), otherwise the
   * name of a secondary result, such as an {@code @AuxCounters} field.
   */
  String metric() default "";

  /** The unit to print for {@link #metric()}; ignored for the primary score. */
  String unit() default "";

  /**
   * Whether the suite's own {@code @Warmup}/{@code @Measurement} annotations decide its
   * iterations, instead of the quick/full settings of {@link RunSuites} (for single-shot suites
   * whose shots take seconds). Forks are always set by RunSuites.
   */
  boolean ownIterations() default false;

  /** Position of the suite in RESULTS.md (ascending); suites added later pick larger numbers. */
  int order() default 100;

  /** A one-line label of a contender in the table; the method name is used without it. */
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.METHOD)
  @interface Contender {
    String value();
  }

  /**
   * A target the suite is judged by, written in RESULTS.md as met or missed by how much. Set
   * exactly one of {@link #ratioAtMost}, {@link #speedupAtLeast} or {@link #atMost}; with none
   * set, the target is met when the contender produced a result at all (it did not fail).
   */
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.TYPE)
  @Repeatable(Goals.class)
  @interface Goal {
    /** The contender judged. */
    String is();

    /** The contender it is compared with (for the two ratio kinds). */
    String vs() default "";

    /** Met when {@code score(is) / score(vs) <= ratioAtMost} (at most that many times slower). */
    double ratioAtMost() default Double.NaN;

    /** Met when {@code score(vs) / score(is) >= speedupAtLeast} (at least that many times faster). */
    double speedupAtLeast() default Double.NaN;

    /** Met when {@code score(is) <= atMost}, in the suite's unit. */
    double atMost() default Double.NaN;

    /** The target as the issue states it. */
    String text();
  }

  /** Container of repeated {@link Goal}s. */
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.TYPE)
  @interface Goals {
    Goal[] value();
  }
}
