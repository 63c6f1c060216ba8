package org.picos.spi;

import java.util.Arrays;
import java.util.Objects;

/**
 * Checks run before a plain thread (outside any fiber) blocks in a Picos wait. A guard throws,
 * typically an {@link IllegalStateException} saying to use a fiber, when the calling thread must
 * never block, such as an event-loop thread whose blocking would deadlock it. Bridges register
 * the guard of their host.
 */
public final class BlockingGuards {
  private static volatile Runnable[] guards = new Runnable[0];

  private BlockingGuards() {}

  /** Registers {@code guard}; registering the same guard twice has no further effect. */
  public static synchronized void add(Runnable guard) {
    Objects.requireNonNull(guard, "guard");
    Runnable[] now = guards;
    if (Arrays.asList(now).contains(guard)) {
      return;
    }
    Runnable[] next = Arrays.copyOf(now, now.length + 1);
    next[now.length] = guard;
    guards = next;
  }

  /** Removes a guard registered with {@link #add}. */
  public static synchronized void remove(Runnable guard) {
    guards = Arrays.stream(guards).filter(g -> g != guard).toArray(Runnable[]::new);
  }

  /**
   * Runs every guard: throws if the calling thread must not block. Called by the core before a
   * plain thread blocks; a bridge may call it before a blocking wait of its own.
   */
  public static void check() {
    for (Runnable guard : guards) {
      guard.run();
    }
  }
}
