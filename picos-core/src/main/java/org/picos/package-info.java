/**
 * The Picos core, user side: {@link org.picos.Trigger}, {@link org.picos.Computation},
 * {@link org.picos.Fiber}, {@link org.picos.FiberLocal} and {@link org.picos.Scheduler}. Every
 * concurrency library of this project (mutexes, channels, timeouts, scopes) is written against
 * these few classes and nothing else, so it runs on every scheduler: the core ones in
 * {@code org.picos.sched}, and each bridge's (a Netty event loop, a Vert.x context, a Reactor or
 * RxJava scheduler, any executor). What a scheduler implements is in {@code org.picos.spi}.
 *
 * <h2>Understanding cancellation</h2>
 * <ol>
 *   <li><b>A fiber is cancelled through its computation.</b> Every fiber has a
 *       {@link org.picos.Computation} as its cancellation token ({@link
 *       org.picos.Fiber#computation()}); {@code tryCancel(cause)} on it cancels every fiber that
 *       shares it. Nothing stops a fiber from outside: cancellation is a request that the fiber
 *       sees at its next <em>cancellation point</em> — {@code Fiber.check()}, {@code yield},
 *       {@code spawn}, {@code cancelAfter} and every await — where the cause is thrown (an
 *       unchecked cause as is, a checked one wrapped in a
 *       {@link java.util.concurrent.CompletionException}).</li>
 *   <li><b>A cancelled fiber is woken wherever it waits.</b> Every wait is a
 *       {@link org.picos.Trigger} that the scheduler attaches to the waiting fiber's computation
 *       while it is suspended, so cancelling the computation signals the trigger. The await then
 *       answers the cause even if the trigger was also signalled: a library that gets a cause
 *       must re-check what it handed over (a mutex passes ownership on, a channel returns an
 *       element already taken) and then rethrow. {@link org.picos.Trigger#awaitOrAbandon} does
 *       the rethrowing after the library's clean-up.</li>
 *   <li><b>Cancellation can be forbidden.</b> {@link org.picos.Fiber#forbid} runs code that
 *       must finish (clean-up, a join): the computation still becomes cancelled, but the cause
 *       is not delivered until the first cancellation point after the mask is lifted.</li>
 *   <li><b>Scopes narrow the token and chain it.</b> A timeout or a task group gives the fiber
 *       a computation of its own for the duration ({@link org.picos.Fiber#setComputation}) and
 *       attaches a canceler ({@link org.picos.Computation#attachCanceler}) so that cancelling
 *       the outer computation cancels the inner one. Cancelling the inner one (a timeout that
 *       fires) does not cancel the outer one.</li>
 *   <li><b>Closing a scheduler cancels its fibers for life.</b> {@link
 *       org.picos.Scheduler#close()}, or the shutdown of the host under a bridge's scheduler,
 *       cancels each live fiber's current computation with a
 *       {@link org.picos.SchedulerClosedException} and marks the fiber, so the close is seen at
 *       every later cancellation point, even after a scope that discarded its own computation.</li>
 *   <li><b>Cancellation crosses ecosystems.</b> A fiber awaiting a foreign future through a
 *       bridge cancels (or disposes, or detaches from) that future when it is cancelled; a
 *       foreign future made from a fiber cancels the fiber when it is cancelled or disposed.</li>
 * </ol>
 * Outside any scheduler every operation works on plain and virtual threads: each thread has an
 * implicit fiber whose awaits block the thread (OCaml Picos raises there instead), unless a
 * bridge's guard forbids blocking that thread (an event loop).
 */
package org.picos;
