package org.picos.internal;

import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.TreeMap;
import javax.management.InstanceAlreadyExistsException;
import javax.management.ObjectName;
import org.picos.Fibers;
import org.picos.FibersMXBean;
import org.picos.spi.AbstractScheduler;
import org.picos.spi.Support;

/**
 * Internal: the {@link FibersMXBean}, registered once per JVM by the first scheduler built
 * (unless {@code -Dpicos.jmx=false}). A JVM without {@code java.management} (a jlinked image
 * without it) or whose MBean server refuses gets no view and no error: the failure goes to the
 * uncaught-exception handler once, and schedulers work as before.
 */
public final class FibersJmx implements FibersMXBean {
  /** System property: {@code false} keeps the view out of the platform MBean server. */
  public static final String PROPERTY = "picos.jmx";

  private static volatile boolean attempted;

  private FibersJmx() {}

  /** Registers the view if no earlier call did; cheap after the first call. */
  public static void registerOnce() {
    if (attempted) {
      return;
    }
    synchronized (FibersJmx.class) {
      if (attempted) {
        return;
      }
      attempted = true;
    }
    if ("false".equalsIgnoreCase(System.getProperty(PROPERTY))) {
      return;
    }
    try {
      ManagementFactory.getPlatformMBeanServer()
          .registerMBean(new FibersJmx(), new ObjectName(OBJECT_NAME));
    } catch (InstanceAlreadyExistsException another) {
      // another copy of Picos (another class loader) registered first: its view stands
    } catch (LinkageError | Exception e) {
      Support.reportUncaught(new IllegalStateException("Picos could not register its JMX view "
          + OBJECT_NAME + "; fiber dumps remain available from org.picos.Fibers", e));
    }
  }

  @Override
  public Map<String, Integer> getLiveFibersPerScheduler() {
    Map<String, Integer> counts = new TreeMap<>();
    for (AbstractScheduler s : AbstractScheduler.registered()) {
      counts.merge(s.toString(), s.liveFibers(), Integer::sum);
    }
    return counts;
  }

  @Override
  public int getLiveFibers() {
    int n = 0;
    for (AbstractScheduler s : AbstractScheduler.registered()) {
      n += s.liveFibers();
    }
    return n;
  }

  @Override
  public String dump() {
    return Fibers.toText();
  }

  @Override
  public String dumpJson() {
    return Fibers.toJson();
  }
}
