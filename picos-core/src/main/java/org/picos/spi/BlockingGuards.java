package org.picos.spi;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.picos.Fiber;

/**
 * The {@link BlockingGuard}s a blocking Picos wait outside a fiber must pass: those registered
 * as services (found with {@link ServiceLoader} when this class initialises) and those added
 * with {@link #add}. {@code Trigger.await}, {@code Computation.await} and the bridges' await
 * methods call {@link #check()} on entry, so a refused thread is refused every time, even when
 * the result is already there. Inside a fiber the guards are never asked: a fiber's wait
 * suspends it instead of blocking its thread.
 */
public final class BlockingGuards {
  private static final Comparator<BlockingGuard> MOST_SPECIFIC_FIRST =
      Comparator.comparingInt(BlockingGuard::precedence).reversed();

  /** Sorted by decreasing precedence (stable, so equal ones keep their registration order). */
  private static volatile BlockingGuard[] guards = discovered();

  private BlockingGuards() {}

  private static BlockingGuard[] discovered() {
    List<BlockingGuard> found = new ArrayList<>();
    Iterator<BlockingGuard> it =
        ServiceLoader.load(BlockingGuard.class, BlockingGuard.class.getClassLoader()).iterator();
    for (;;) {
      try {
        if (!it.hasNext()) {
          break;
        }
        found.add(it.next());
      } catch (ServiceConfigurationError e) {
        if (!(e.getCause() instanceof LinkageError)) {
          Support.reportUncaught(e);
        } // else: the host library is absent, so none of its threads can ask
      }
    }
    found.sort(MOST_SPECIFIC_FIRST);
    return found.toArray(BlockingGuard[]::new);
  }

  /**
   * Registers {@code guard} besides the discovered ones, in its precedence order; registering
   * the same guard twice has no further effect. Meant for tests and for hosts without a bridge
   * jar.
   *
   * <p>Threading: safe from any thread; waits starting afterwards ask the guard.
   *
   * @param guard the guard to add
   * @throws NullPointerException if {@code guard} is null
   */
  public static synchronized void add(BlockingGuard guard) {
    Objects.requireNonNull(guard, "guard");
    BlockingGuard[] now = guards;
    if (Arrays.asList(now).contains(guard)) {
      return;
    }
    BlockingGuard[] next = Arrays.copyOf(now, now.length + 1);
    next[now.length] = guard;
    Arrays.sort(next, MOST_SPECIFIC_FIRST);
    guards = next;
  }

  /**
   * Removes a guard registered with {@link #add} (or a discovered one); does nothing if it is
   * not registered.
   *
   * <p>Threading: safe from any thread; waits starting afterwards no longer ask it.
   *
   * @param guard the guard to remove
   */
  public static synchronized void remove(BlockingGuard guard) {
    guards = Arrays.stream(guards).filter(g -> g != guard).toArray(BlockingGuard[]::new);
  }

  /**
   * Refuses a blocking wait where it must not happen: outside any fiber, asks the guards in
   * decreasing precedence and lets the first refusal through; inside a fiber returns at once.
   * The core calls it on entry to every wait; a bridge calls it on entry to a blocking wait of
   * its own, before any fast path.
   *
   * <p>Threading: call it on the thread about to wait; it never blocks.
   *
   * @throws RuntimeException the refusal of the most specific guard that refuses the calling
   *     thread
   */
  public static void check() {
    BlockingGuard[] now = guards;
    if (now.length == 0 || Fiber.inFiber()) {
      return;
    }
    for (BlockingGuard guard : now) {
      guard.check();
    }
  }
}
