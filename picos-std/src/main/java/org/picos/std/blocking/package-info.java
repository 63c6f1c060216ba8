/**
 * Blocking code called from fibers: {@link org.picos.std.blocking.Blocking#call} runs a blocking
 * call (JDBC, a file read, a library's {@code block()}) on a pool of platform threads while only
 * the calling fiber waits, so the fiber's carrier (an event loop, a fifo or multi carrier) goes
 * on running other fibers; cancelling the fiber interrupts the call and runs a cancel action
 * such as {@code Statement::cancel}.
 */
package org.picos.std.blocking;
