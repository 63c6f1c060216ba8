package org.picos.blockhound;

import org.picos.spi.Support;
import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * Teaches <a href="https://github.com/reactor/BlockHound">BlockHound</a> which threads are
 * Picos carriers that must not block: a thread counts as non-blocking exactly while it runs a
 * fiber of a scheduler whose carriers other fibers share ({@code Schedulers.fifo()}, {@code
 * multi(n)}, {@code onExecutor(..)}, event loops through the bridges; see {@link
 * org.picos.spi.Handler#mayBlockCarrier()}). A {@code Thread.sleep}, a socket read, a JDBC call
 * or a {@code Mono.block()} made by such a fiber then fails with BlockHound's {@code
 * BlockingOperationError}, thrown in the fiber at the blocking call, so its stack trace is the
 * fiber's own. Fibers of {@code threadPerFiber()} (each on a thread of its own) and code on
 * plain threads are left alone, as is code on a carrier between fibers: what BlockHound makes
 * of the host thread itself (a Netty loop, a Reactor parallel worker) is the host's own
 * integration's business.
 *
 * <p>Registered as a {@code reactor.blockhound.integration.BlockHoundIntegration} service, so
 * {@code BlockHound.install()} applies it whenever this jar is on the class path; nothing to
 * call. BlockHound needs {@code -XX:+AllowRedefinitionToAddDeleteMethods} on JDK 13 and later.
 *
 * <p>How: BlockHound decides once per thread whether a thread is "dynamic"; for dynamic
 * threads it asks the non-blocking predicate again at every blocking call. Any thread can
 * become a carrier (an executor scheduler runs on threads it does not own), so every thread is
 * dynamic, and the predicate asks the core whether a non-blocking fiber is mounted right now: a
 * read of the carrier's thread-local slot. That cost is paid only at blocking calls and only
 * with BlockHound installed.
 *
 * <p>Picos' own short waits inside a fiber are allowed: the spin of a {@code select} that
 * finds its pick claimed by another party ({@code Pick.claim}), the yield hint of a pinned
 * {@code Fiber.yield()}, and the hand-off of a task to a host executor ({@code
 * ExecutorScheduler.handOver} when a fiber spawns or wakes another, {@code
 * Blocking.Offload.handOver} when it offloads a call), where a {@code ThreadPoolExecutor}'s
 * queue lock may park the carrier for a moment under contention. An executor that blocks in
 * {@code execute} for longer (a bounded queue with a caller-runs or blocking policy) is hidden
 * there too: the blocked-carrier detector still reports it. A fiber's suspension is not a blocking call (its continuation yields;
 * the carrier thread goes on), and a carrier idling between fibers runs no fiber, so neither
 * needs an allowance.
 */
public final class PicosBlockHoundIntegration implements BlockHoundIntegration {

  /** Creates the integration; {@link java.util.ServiceLoader} calls this. */
  public PicosBlockHoundIntegration() {}

  @Override
  public void applyTo(BlockHound.Builder builder) {
    builder.addDynamicThreadPredicate(thread -> true);
    builder.nonBlockingThreadPredicate(current -> current.or(
        thread -> thread == Thread.currentThread() && Support.inNonBlockingFiber()));
    builder.allowBlockingCallsInside("org.picos.std.sync.Pick", "claim");
    builder.allowBlockingCallsInside("org.picos.sched.ContinuationScheduler", "yield");
    builder.allowBlockingCallsInside("org.picos.sched.ExecutorScheduler", "handOver");
    builder.allowBlockingCallsInside("org.picos.std.blocking.Blocking$Offload", "handOver");
  }
}
