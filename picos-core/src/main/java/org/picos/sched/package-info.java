/**
 * The core schedulers, made by {@link org.picos.sched.Schedulers}: {@code fifo()} (one carrier
 * thread), {@code multi(n)} (work stealing), {@code threadPerFiber()} (virtual threads, no JVM
 * flag needed), {@code onExecutor(executor)} and {@link org.picos.sched.ExecutorScheduler} (any
 * {@link java.util.concurrent.Executor}, the base of every bridge), and {@code shared()}, where
 * work started outside any fiber runs by default. {@code Schedulers.spawn} and {@code start}
 * apply the one placement rule every bridge follows: an explicit scheduler, else the calling
 * fiber's, else the shared one.
 *
 * <h2>Cancellation on these schedulers</h2>
 * Every scheduler here resumes a cancelled fiber promptly (the fifo scheduler puts it first in
 * line) and answers its await with the cause. {@code close()} refuses new work, cancels every
 * live fiber for life with a {@link org.picos.SchedulerClosedException} (see
 * {@code org.picos}'s overview), waits until the fibers have ended and stops the carrier threads.
 * An {@code ExecutorScheduler} also closes itself when its host shuts down; fibers its host can
 * no longer run then unwind on a fallback daemon thread, and timers armed on the host's timer
 * move to the shared timer, so a protected clean-up that sleeps still ends. Fibers that forbid
 * cancellation finish what they do first.
 */
package org.picos.sched;
