/**
 * ThreadLocal context carried by fibers: {@link org.picos.context.ContextRegistryThreadContext}
 * carries every ThreadLocal registered with Micrometer's context-propagation (SLF4J MDC,
 * Micrometer Observation and tracing, Spring Security) across suspensions, without leaking it
 * between fibers that share a carrier thread. Having the jar on the class path is enough.
 */
package org.picos.context;
