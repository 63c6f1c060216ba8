package org.picos.bench;

import jdk.internal.vm.Continuation;
import jdk.internal.vm.ContinuationScope;

/**
 * The JVM floor: bare {@code jdk.internal.vm.Continuation}s with nothing of Picos around them,
 * the cheapest a fiber switch can be on this JVM. Suites compare fibers with it. Only used on
 * the benchmark's own thread; nothing here is thread-safe.
 */
final class Floor {
  static final ContinuationScope SCOPE = new ContinuationScope("bench-floor");

  private Floor() {}

  /** A new continuation running {@code body} in the floor's scope. */
  static Continuation continuation(Runnable body) {
    return new Continuation(SCOPE, body);
  }

  /** Suspends the continuation running on this thread until something runs it again. */
  static void suspend() {
    Continuation.yield(SCOPE);
  }

  /** The continuation running on this thread. */
  static Continuation current() {
    return Continuation.getCurrentContinuation(SCOPE);
  }
}
