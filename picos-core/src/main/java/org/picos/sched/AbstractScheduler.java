package org.picos.sched;

import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Handler;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;

/**
 * What every core scheduler shares: the set of live fibers, {@link #start}, and the close
 * protocol.
 *
 * <h2>Close protocol</h2>
 * <pre>
 *   OPEN --close()/hostClosed(why)--> CLOSING: closed = true, then every live fiber's
 *          computation is cancelled with a SchedulerClosedException
 *   CLOSING --last live fiber ends--> TERMINATED: the 'terminated' computation returns,
 *          and stopHost() releases the host's threads
 * </pre>
 * A spawn racing with close either is seen by close in the live set (and cancelled there) or
 * sees {@code closed} itself and cancels its child, so no fiber escapes; the child's main still
 * runs (spawn is all or nothing) and ends at its first cancellation point.
 */
abstract class AbstractScheduler extends Handler implements Scheduler {
  final String name;
  /** Fibers spawned and not yet ended. */
  final Set<Fiber> live = ConcurrentHashMap.newKeySet();
  private final Computation<Void> terminated = Computation.create();
  private volatile SchedulerClosedException closeCause;

  AbstractScheduler(String name) {
    this.name = Objects.requireNonNull(name, "name");
  }

  @Override
  public <T> Computation<T> start(Callable<T> main) {
    Objects.requireNonNull(main, "main");
    if (closeCause != null) {
      throw new SchedulerClosedException(
          "Scheduler " + name + " is closed: it cannot start new fibers");
    }
    Computation<T> c = Computation.create();
    Fiber fiber = Fiber.create(false, c);
    spawnRoot(fiber, capturing(c, main));
    return c;
  }

  /** Registers a spawned fiber as live; cancels it if the scheduler is closing. */
  final void track(Fiber fiber) {
    live.add(fiber);
    SchedulerClosedException cause = closeCause;
    if (cause != null) {
      fiber.computation().tryCancel(cause);
    }
  }

  /** Called when a fiber's main has returned. */
  final void untrack(Fiber fiber) {
    live.remove(fiber);
    if (closeCause != null && live.isEmpty()) {
      terminated.tryReturn(null);
    }
  }

  /** The number of fibers spawned and not yet ended. */
  public final int liveFibers() {
    return live.size();
  }

  @Override
  public final boolean isClosed() {
    return closeCause != null;
  }

  /**
   * Starts closing because the host went away (or close was called): cancels every live fiber
   * with a cause built from {@code why}. Does not wait.
   */
  final void beginClose(String why) {
    synchronized (this) {
      if (closeCause != null) {
        return;
      }
      closeCause = new SchedulerClosedException(why);
    }
    for (Fiber f : live) {
      f.computation().tryCancel(closeCause);
    }
    if (live.isEmpty()) {
      terminated.tryReturn(null);
    }
  }

  @Override
  public final void close() {
    beginClose("Scheduler " + name + " was closed while this fiber was alive");
    Fiber self = Fiber.current();
    if (Fiber.inFiber() && handlerOf(self) == this) {
      // A fiber of ours cannot wait for itself; the last fiber to end releases the host.
      terminated.whenDone(this::stopHost);
      return;
    }
    Fiber.forbid(terminated::await);
    stopHost();
    awaitHostStopped();
  }

  /**
   * Releases the host's threads once no fiber is left, without waiting for them: it may run on
   * one of them. Idempotent.
   */
  abstract void stopHost();

  /** Waits until the threads released by {@link #stopHost()} are gone. */
  void awaitHostStopped() {}

  @Override
  public String toString() {
    return name;
  }
}
