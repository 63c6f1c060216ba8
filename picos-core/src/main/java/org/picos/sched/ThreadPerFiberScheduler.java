package org.picos.sched;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.spi.AbstractScheduler;

/**
 * One thread per fiber, virtual by default: await parks the thread. Needs no JVM flag and
 * suits code that calls blocking JDK APIs, at the price of a thread per fiber.
 */
final class ThreadPerFiberScheduler extends AbstractScheduler {
  private final ThreadFactory factory;
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();

  ThreadPerFiberScheduler(String name, ThreadFactory factory) {
    super(name);
    this.factory = factory;
  }

  @Override
  public Throwable await(Fiber fiber, Trigger trigger) {
    return awaitBlocking(fiber, trigger);
  }

  /** Each fiber has its own thread: blocking it holds up no other fiber. */
  @Override
  public boolean mayBlockCarrier() {
    return true;
  }

  @Override
  public void yield(Fiber fiber) {
    Thread.yield();
  }

  @Override
  public void spawn(Fiber parent, Fiber child, Runnable main) {
    Live cell = new Live(child);
    Thread thread = factory.newThread(() -> {
      mount(child);
      Object[] previous = swapInContexts(child);
      try {
        runMain(child, main);
      } finally {
        swapOutContexts(child, previous);
        threads.remove(Thread.currentThread());
        untrack(cell);
      }
    });
    if (thread == null) {
      throw new IllegalStateException("Scheduler " + name + ": the thread factory returned null");
    }
    track(cell);
    bind(child);
    setData(child, thread);
    threads.add(thread);
    try {
      thread.start();
    } catch (RuntimeException | Error refused) {
      threads.remove(thread);
      unbind(child); // nothing ran: the fiber object may be spawned again
      untrack(cell);
      throw refused;
    }
  }

  /** A fiber's stack is its thread's: safe to read at any time. */
  @Override
  public StackTraceElement[] suspendedStack(Fiber fiber) {
    return data(fiber) instanceof Thread t && threads.contains(t) ? t.getStackTrace() : null;
  }

  @Override
  protected void stopHost() {}

  @Override
  protected void awaitHostStopped() {
    boolean interrupted = false;
    for (Thread t : threads) {
      while (t != Thread.currentThread() && t.isAlive()) {
        try {
          t.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
