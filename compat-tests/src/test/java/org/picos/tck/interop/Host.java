package org.picos.tck.interop;

import java.util.function.Supplier;
import org.picos.Scheduler;

/**
 * One kind of scheduler taking part in the interop matrix: how to create it, how a fiber checks
 * that it runs where that scheduler promises (its loop, its context, its workers), and how to
 * release whatever the host owns after the scheduler is closed.
 *
 * @param name a short name for messages
 * @param create a new scheduler on a fresh host
 */
public record Host(String name, Supplier<Running> create) {
  /** A live scheduler of this host. */
  public interface Running extends AutoCloseable {
    Scheduler scheduler();

    /** Throws an AssertionError if the calling fiber is not on this host. */
    void checkHost();

    /**
     * Whether failures reported on the host's threads reach the JVM's default uncaught-exception
     * handler; false where the threads have a handler of their own (Reactor's global schedulers).
     */
    default boolean carrierReportsVisible() {
      return true;
    }

    /** Closes the scheduler and stops the host. */
    @Override
    void close();
  }

  @Override
  public String toString() {
    return name;
  }
}
