/**
 * Structured concurrency for fibers, after Picos' {@code picos_std.structured}: scopes that
 * outlive none of their children ({@link org.picos.std.structured.Bundle} explicit,
 * {@link org.picos.std.structured.Flock} implicit), child results
 * ({@link org.picos.std.structured.Promise}), combinators ({@link org.picos.std.structured.Run})
 * and control operations with timeouts ({@link org.picos.std.structured.Control}). A failing
 * member terminates its siblings and the failure is thrown at the join; cancellation of the
 * parent reaches every member; {@link org.picos.std.structured.Control.Terminate} is the
 * silent way to stop.
 */
package org.picos.std.structured;
