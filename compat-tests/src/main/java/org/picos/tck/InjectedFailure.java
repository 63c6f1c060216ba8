package org.picos.tck;

/**
 * A failure the kit injects on purpose: thrown by a completion callback, a trigger action or a
 * {@link org.picos.Fiber.ThreadContext} hook it installs, to check that the scheduler reports it
 * to an uncaught-exception handler and keeps its promises anyway. Its message names the site; it
 * carries no stack trace.
 */
public final class InjectedFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** A failure thrown at {@code site}, a short description such as "completion callback of f". */
  public InjectedFailure(String site) {
    super(site, null, false, false);
  }

  /** Where the failure was thrown: the message given at construction. */
  public String site() {
    return getMessage();
  }
}
