package org.picos.internal;

import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.spi.Handler;

/**
 * Internal: how the scheduler SPI ({@code org.picos.spi}) reaches the scheduler-side state of
 * the user classes of {@code org.picos} (a fiber's handler and private data, a trigger's
 * scheduler-side transitions) without making that state public API. Not for users or
 * schedulers: use {@link Handler}'s protected operations instead.
 *
 * <p>The one implementation lives in {@code org.picos} and registers itself when {@link Fiber}
 * is initialized; {@link #get()} makes sure that has happened.
 */
public interface CoreAccess {
  /** The scheduler-side trigger transitions: see {@link Handler#onSignal}. */
  boolean onSignal(Trigger trigger, Runnable action);

  /** See {@link Handler#awaitsWith}. */
  boolean awaitsWith(Trigger trigger, Runnable action);

  /** See {@link Handler#dispose}. */
  void dispose(Trigger trigger);

  /** The number of trigger entries of a running computation; see {@link Handler#triggerEntries}. */
  int triggerEntries(Computation<?> computation);

  Handler handler(Fiber fiber);

  void bind(Fiber fiber, Handler handler);

  Object data(Fiber fiber);

  void setData(Fiber fiber, Object data);

  Fiber mount(Fiber fiber);

  void unmount(Fiber previous);

  void inheritContexts(Fiber fiber);

  Object[] swapInContexts(Fiber fiber);

  void swapOutContexts(Fiber fiber, Object[] carrier);

  void closeWith(Fiber fiber, Throwable cause);

  boolean isClosed(Fiber fiber);

  /** The registered implementation; initializes {@code org.picos} first if needed. */
  static CoreAccess get() {
    CoreAccess access = Holder.instance;
    if (access == null) {
      try {
        Class.forName(Fiber.class.getName(), true, Fiber.class.getClassLoader());
      } catch (ClassNotFoundException impossible) {
        throw new AssertionError(impossible);
      }
      access = Holder.instance;
    }
    return access;
  }

  /** Called once, by {@code org.picos}, when {@link Fiber} is initialized. */
  static void register(CoreAccess access) {
    synchronized (Holder.class) {
      if (Holder.instance != null) {
        throw new IllegalStateException("CoreAccess is registered once, by org.picos");
      }
      Holder.instance = access;
    }
  }

  /** Where the registered implementation is kept. */
  final class Holder {
    private static volatile CoreAccess instance;

    private Holder() {}
  }
}
