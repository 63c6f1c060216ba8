package org.picos.context;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;
import java.util.List;
import java.util.Objects;
import org.picos.Fiber;
import org.picos.spi.Support;

/**
 * Carries with each fiber, across its suspensions, every ThreadLocal that Micrometer's
 * context-propagation knows: each {@link ThreadLocalAccessor} registered in a
 * {@link ContextRegistry}, by default {@link ContextRegistry#getInstance()}, the registry Reactor
 * and Micrometer Tracing use. That covers the SLF4J MDC once
 * {@code io.micrometer.context.integration.Slf4jThreadLocalAccessor} is registered, Micrometer's
 * current Observation (and so the current tracing span) when micrometer-observation is on the
 * class path (it registers its accessor itself), Spring Security's context, and any ThreadLocal
 * an application registers.
 *
 * <h2>Use</h2>
 * None needed: this jar lists the class in {@code META-INF/services/org.picos.Fiber$ThreadContext},
 * so every fiber spawned in the JVM carries the global registry's accessors. A fiber starts with
 * the values its spawner's thread (or fiber) had, sees them after every await and yield on
 * whatever carrier it resumes, and takes the values it sets itself along; while it is suspended
 * its carrier has its own values back, so fibers sharing a carrier never see each other's. For
 * another registry, give {@code new ContextRegistryThreadContext(registry)} to
 * {@link Fiber#registerThreadContext} or {@link Fiber#withThreadContext}; instances over the
 * same registry are equal, so registering the global one again has no effect.
 *
 * <h2>What is captured and restored</h2>
 * {@link #capture()} reads the registry's accessors and records each one's
 * {@link ThreadLocalAccessor#getValue() value} (null when it has none). {@link #restore},
 * which installs a fiber's values as it resumes, calls {@link ThreadLocalAccessor#setValue(Object)}
 * for each recorded value and {@link ThreadLocalAccessor#setValue()} (which removes the
 * ThreadLocal) for each null one. {@link #restoreCarrier}, which gives the carrier its values
 * back as the fiber suspends or ends, calls {@link ThreadLocalAccessor#restore(Object)} and
 * {@link ThreadLocalAccessor#restore()} instead, the way a context-propagation scope closes, so
 * an accessor that keeps a stack of scopes (Micrometer's {@code ObservationThreadLocalAccessor})
 * closes at each suspension the scope it opened at the resume.
 *
 * <p>Such a stack stays balanced as long as the scopes a fiber opens itself are closed before it
 * suspends: a scope held open across an await is closed on the carrier in place of the one
 * opened for the fiber, and Micrometer reports the mismatch. To run awaiting code under an
 * Observation, open its scope and spawn a fiber inside it: the child starts with that
 * Observation and carries it across all its awaits.
 *
 * <h2>Accessors registered or removed while fibers live</h2>
 * The registry is read at each capture (at every resume and suspension of every fiber), and
 * values are matched by {@linkplain ThreadLocalAccessor#key() accessor key}. {@link #restore}
 * acts on the accessors registered at the latest capture: one registered after the fiber's
 * state was captured (while it was suspended) has no value there and is reset, so the fiber
 * starts with no value for it, never the carrier's; one replaced by another accessor with the
 * same key gives its value to the new one; one removed is no longer touched (its ThreadLocal
 * is then the carrier's, like any ThreadLocal nobody carries). {@link #restoreCarrier} acts on
 * those and also on the accessors of the carrier's state, so an accessor removed while the
 * fiber ran still gets the carrier's value back. Only a change made while a fiber runs can
 * touch that fiber's slice: an accessor registered then is reset on the carrier as the fiber
 * leaves (the carrier's earlier value for it is lost once), and the fiber takes along the value
 * that ThreadLocal had when it suspended, which may be the carrier's. Register accessors at
 * start-up, as Reactor and Micrometer expect anyway.
 *
 * <h2>Failures</h2>
 * An accessor that throws does not stop the others: its failure goes to the calling thread's
 * uncaught-exception handler ({@link Support#reportUncaught}); a value that could not be read
 * counts as none (the ThreadLocal is reset at the matching restore, so nothing leaks from one
 * fiber to another). A null state (the core passes it when a capture failed as a whole) resets
 * every accessor too.
 *
 * <h2>Threads and cost</h2>
 * All methods act on the calling thread's ThreadLocals and are safe on any number of carriers
 * at once: a state is an array made by one capture and never changed after; the only shared
 * field is a volatile cache of the registry's accessors, checked against the registry (its size
 * and an identity comparison per accessor) at each capture and rebuilt only when the registry
 * has changed. A capture allocates the one array holding its values (nothing at all when the
 * registry is empty), plus whatever the accessors' {@code getValue} allocate (the MDC copies its
 * map); a restore allocates nothing, except once per state captured before the registry
 * changed.
 */
public final class ContextRegistryThreadContext implements Fiber.ThreadContext<Object[]> {
  private static final ThreadLocalAccessor<?>[] NO_ACCESSORS = new ThreadLocalAccessor<?>[0];
  /** The state captured when no accessor is registered; shared. */
  private static final Object[] NOTHING = {NO_ACCESSORS};

  private final ContextRegistry registry;
  /**
   * The registry's accessors as of the latest capture. A state records the array it was
   * captured with in its slot 0 and the values in slots 1 to n, in the array's order.
   */
  private volatile ThreadLocalAccessor<?>[] accessors = NO_ACCESSORS;

  /** Carries the accessors of {@link ContextRegistry#getInstance()}; what ServiceLoader uses. */
  public ContextRegistryThreadContext() {
    this(ContextRegistry.getInstance());
  }

  /**
   * Carries the accessors of {@code registry}.
   *
   * @throws NullPointerException if {@code registry} is null
   */
  public ContextRegistryThreadContext(ContextRegistry registry) {
    this.registry = Objects.requireNonNull(registry, "registry");
  }

  /** The registry whose accessors this context carries. */
  public ContextRegistry registry() {
    return registry;
  }

  @Override
  public Object[] capture() {
    ThreadLocalAccessor<?>[] as = registered();
    int n = as.length;
    if (n == 0) {
      return NOTHING;
    }
    Object[] state = new Object[n + 1];
    state[0] = as;
    for (int i = 0; i < n; i++) {
      state[i + 1] = read(as[i]);
    }
    return state;
  }

  @Override
  public void restore(Object[] state) {
    install(state, false);
  }

  @Override
  public void restoreCarrier(Object[] carrierState) {
    install(carrierState, true);
  }

  /** Equal when over the same registry: the core then carries it once. */
  @Override
  public boolean equals(Object other) {
    return other instanceof ContextRegistryThreadContext c && c.registry == registry;
  }

  @Override
  public int hashCode() {
    return System.identityHashCode(registry);
  }

  @Override
  public String toString() {
    return "ContextRegistryThreadContext" + java.util.Arrays.toString(accessors);
  }

  /** The registry's accessors now: the cached array, or a new one if the registry changed. */
  private ThreadLocalAccessor<?>[] registered() {
    ThreadLocalAccessor<?>[] cached = accessors;
    List<ThreadLocalAccessor<?>> live = registry.getThreadLocalAccessors();
    if (same(cached, live)) {
      return cached;
    }
    // Racing refreshes may each write an array; they hold the same accessors, and a state
    // captured with the one that lost is restored by the element-wise comparison in install.
    ThreadLocalAccessor<?>[] fresh = live.toArray(NO_ACCESSORS);
    accessors = fresh;
    return fresh;
  }

  /** Whether {@code live} holds exactly {@code cached}'s accessors, in order. */
  private static boolean same(ThreadLocalAccessor<?>[] cached, List<ThreadLocalAccessor<?>> live) {
    int n = cached.length;
    if (live.size() != n) {
      return false;
    }
    try {
      for (int i = 0; i < n; i++) {
        if (live.get(i) != cached[i]) {
          return false;
        }
      }
    } catch (IndexOutOfBoundsException shrunk) {
      return false;
    }
    return true;
  }

  private static boolean same(ThreadLocalAccessor<?>[] a, ThreadLocalAccessor<?>[] b) {
    if (a == b) {
      return true;
    }
    if (a.length != b.length) {
      return false;
    }
    for (int i = 0; i < a.length; i++) {
      if (a[i] != b[i]) {
        return false;
      }
    }
    return true;
  }

  private void install(Object[] state, boolean carrier) {
    ThreadLocalAccessor<?>[] now = accessors;
    if (state == null) {
      for (ThreadLocalAccessor<?> a : now) {
        write(a, null, carrier);
      }
      return;
    }
    ThreadLocalAccessor<?>[] captured = (ThreadLocalAccessor<?>[]) state[0];
    if (same(captured, now)) {
      for (int i = 0; i < now.length; i++) {
        write(now[i], state[i + 1], carrier);
      }
      return;
    }
    // The registry changed since this state was captured: match values by key.
    Object[] capturedKeys = keys(captured);
    Object[] nowKeys = keys(now);
    for (int i = 0; i < now.length; i++) {
      int j = indexOf(capturedKeys, nowKeys[i]);
      write(now[i], j < 0 ? null : state[j + 1], carrier);
    }
    if (carrier) {
      for (int j = 0; j < captured.length; j++) {
        if (indexOf(nowKeys, capturedKeys[j]) < 0) {
          write(captured[j], state[j + 1], true);
        }
      }
    }
  }

  /** The accessors' keys; an accessor whose key() throws gets a key that matches nothing. */
  private static Object[] keys(ThreadLocalAccessor<?>[] as) {
    Object[] keys = new Object[as.length];
    for (int i = 0; i < as.length; i++) {
      try {
        keys[i] = as[i].key();
      } catch (Throwable failure) {
        Support.reportUncaught(failure);
        keys[i] = new Object();
      }
    }
    return keys;
  }

  private static int indexOf(Object[] keys, Object key) {
    for (int i = 0; i < keys.length; i++) {
      if (Objects.equals(keys[i], key)) {
        return i;
      }
    }
    return -1;
  }

  private static Object read(ThreadLocalAccessor<?> accessor) {
    try {
      return accessor.getValue();
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
      return null;
    }
  }

  @SuppressWarnings("unchecked")
  private static void write(ThreadLocalAccessor<?> accessor, Object value, boolean carrier) {
    ThreadLocalAccessor<Object> a = (ThreadLocalAccessor<Object>) accessor;
    try {
      if (carrier) {
        if (value == null) {
          a.restore();
        } else {
          a.restore(value);
        }
      } else if (value == null) {
        a.setValue();
      } else {
        a.setValue(value);
      }
    } catch (Throwable failure) {
      Support.reportUncaught(failure);
    }
  }
}
