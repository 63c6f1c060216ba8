package org.picos;

import java.util.Map;

/**
 * The JMX view of {@link Fibers}, registered as {@code org.picos:type=Fibers} in the platform
 * MBean server when the first scheduler of the JVM is built, so jconsole, VisualVM or any JMX
 * client sees the fibers of a running service ({@code -Dpicos.jmx=false} keeps it out). Every
 * attribute and operation is read afresh on each call, weakly consistent like {@link Fibers}.
 */
public interface FibersMXBean {
  /** The object name the view is registered under. */
  String OBJECT_NAME = "org.picos:type=Fibers";

  /**
   * The live fibers of each scheduler, by scheduler name (schedulers sharing a name are summed).
   *
   * @return scheduler name to live fiber count
   */
  Map<String, Integer> getLiveFibersPerScheduler();

  /**
   * All live fibers of the JVM's schedulers.
   *
   * @return their number
   */
  int getLiveFibers();

  /**
   * A fiber dump as text, as {@link Fibers#toText()} returns it.
   *
   * @return the dump
   */
  String dump();

  /**
   * A fiber dump as JSON, as {@link Fibers#toJson()} returns it.
   *
   * @return the dump
   */
  String dumpJson();
}
