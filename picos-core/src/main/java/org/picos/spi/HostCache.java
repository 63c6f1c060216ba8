package org.picos.spi;

import java.lang.ref.WeakReference;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.function.Function;

/**
 * One value per host object — the shared scheduler of an event loop, an executor, a Vert.x
 * instance — made on first use and answered for that host on every later call, with neither
 * keeping the other alive: the host is a weak key and the value is held weakly too. A value lives
 * as long as someone holds it (typically its own live fibers, or a shutdown hook the host holds);
 * once nobody does, it is collected and the next call makes a new one. Hosts are compared with
 * {@code equals}, which loops, executors, schedulers and Vert.x instances do not override, so the
 * comparison is identity.
 *
 * <p>Threading: safe from any thread; {@link #get} holds the cache's lock while {@code make}
 * runs, so exactly one value is made per host at a time, and {@code make} must not call back
 * into the same cache.
 *
 * @param <K> the host's type
 * @param <V> the value's type
 */
public final class HostCache<K, V> {
  /** Guarded by itself. */
  private final Map<K, WeakReference<V>> values = new WeakHashMap<>();

  /**
   * The value of {@code host}: the one made before if it is still alive, or else the one that
   * {@code make} makes now.
   *
   * @param host the host; must not be null
   * @param make makes the host's value; called at most once per call, under the cache's lock; a
   *     failure propagates and nothing is cached
   * @return the host's value, never null
   * @throws NullPointerException if an argument is null or {@code make} returns null
   */
  public V get(K host, Function<? super K, ? extends V> make) {
    Objects.requireNonNull(host, "HostCache.get: host must not be null");
    Objects.requireNonNull(make, "HostCache.get: make must not be null");
    synchronized (values) {
      WeakReference<V> ref = values.get(host);
      V value = ref == null ? null : ref.get();
      if (value == null) {
        value = Objects.requireNonNull(make.apply(host), "HostCache.get: make returned null");
        values.put(host, new WeakReference<>(value));
      }
      return value;
    }
  }
}
