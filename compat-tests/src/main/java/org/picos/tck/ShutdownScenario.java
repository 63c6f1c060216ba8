package org.picos.tck;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.spi.Handler;
import org.picos.spi.Support;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.std.structured.Bundle;
import org.picos.std.structured.Control;
import org.picos.std.structured.Flock;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Event;
import org.picos.std.sync.Mutex;

/**
 * Fibers parked in every kind of wait, all at once, then their scheduler stopped; and the check
 * of what a stop promises. Used by {@link StdTck} (stopped by {@link Scheduler#close()}) and by
 * the shutdown matrix of this project, which stops each host every way it can be stopped and
 * adds waits of its own (bridges' awaits, Netty channels) as further {@linkplain #member members}.
 *
 * <p>Use: create it on a scheduler, {@link #parkStdWaits()} (and add members), {@link #awaitParked()},
 * stop the scheduler or its host (within a bound: {@link #withinBound}), then
 * {@link #checkEnded(String)}. The check fails, listing every problem at once, unless
 * <ul>
 *   <li>every member ended exactly once (one that never ended is a hang; one that ran or ended
 *       twice is reported too),</li>
 *   <li>each ended with a {@link SchedulerClosedException} whose message names the stop, or
 *       returned normally where the member allows it,</li>
 *   <li>every protected cleanup and every protected sleep in progress at the stop completed,</li>
 *   <li>no channel element was lost or duplicated: every element whose send returned was
 *       received exactly once, in order, or is still in the channel's buffer; a cancelled send
 *       delivered nothing,</li>
 *   <li>the primitives are consistent afterwards (the mutex unlocked, no offer left queued).</li>
 * </ul>
 * With {@link #injectingCallbackFailures()}, every fiber the scenario starts also has a
 * completion callback that throws an {@link InjectedFailure}: the stop must still keep every
 * promise, and {@link #checkInjectedReported} checks that each failure reached an
 * uncaught-exception handler exactly once.
 */
public final class ShutdownScenario {
  /** The bound on every wait of the scenario: parking, ending, a stop. */
  public static final Duration BOUND = Duration.ofSeconds(20);

  /** How long a protected cleanup sleeps; it runs after the stop, when the host may be gone. */
  private static final Duration CLEANUP_SLEEP = Duration.ofMillis(100);

  /** How long each protected sleep of the sleeping member lasts; one is pending at the stop. */
  private static final Duration PROTECTED_SLEEP = Duration.ofMillis(200);

  private final Scheduler scheduler;
  private final List<Member> members = new CopyOnWriteArrayList<>();
  /** Checked once every member ended: each answers null, or the problem it sees. */
  private final List<Supplier<String>> invariants = new CopyOnWriteArrayList<>();
  private final List<String> injectedSites = new CopyOnWriteArrayList<>();
  private final AtomicInteger cleanupsExpected = new AtomicInteger();
  private final AtomicInteger cleanupsDone = new AtomicInteger();
  private boolean injectCallbackFailures;
  private Runnable hostCheck;

  /** A scenario on {@code scheduler}; nothing is started yet. */
  public ShutdownScenario(Scheduler scheduler) {
    this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
  }

  /**
   * Gives every fiber started from now on (by {@link #start} and {@link #parkStdWaits}) a
   * completion callback that throws an {@link InjectedFailure} naming the fiber.
   */
  public ShutdownScenario injectingCallbackFailures() {
    injectCallbackFailures = true;
    return this;
  }

  /**
   * Runs {@code check} in every member as it starts and as it ends (a failure is recorded as a
   * problem, never thrown): for hosts whose fibers must stay on a thread or context. Use it only
   * where the host outlives the stop ({@code close()} of a scheduler on a host that goes on);
   * after a host shutdown fibers unwind on a fallback thread.
   */
  public ShutdownScenario checkingHost(Runnable check) {
    hostCheck = Objects.requireNonNull(check, "check");
    return this;
  }

  /** The scheduler under test. */
  public Scheduler scheduler() {
    return scheduler;
  }

  // ---------------------------------------------------------------------------------------
  // Members

  /**
   * One fiber (or task) the scenario follows: it runs its body through {@link #run}, which
   * records how often it started and ended, the threads it ran on and how it ended.
   */
  public final class Member {
    private final String name;
    private final BooleanSupplier parked;
    private final boolean mayReturn;
    private final AtomicInteger runs = new AtomicInteger();
    private final AtomicInteger ends = new AtomicInteger();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final List<String> problems = new CopyOnWriteArrayList<>();
    private volatile Throwable failure;
    private volatile boolean returned;

    private Member(String name, BooleanSupplier parked, boolean mayReturn) {
      this.name = name;
      this.parked = parked;
      this.mayReturn = mayReturn;
    }

    /** The member's name, as the report shows it. */
    public String name() {
      return name;
    }

    /**
     * Runs {@code body} as this member and returns its value or rethrows its failure. Call it
     * once, in the fiber (or task) the member stands for.
     */
    public <T> T run(Callable<T> body) throws Exception {
      runs.incrementAndGet();
      threads.add(Thread.currentThread());
      checkHostQuietly("at start");
      try {
        T value = body.call();
        returned = true;
        return value;
      } catch (Exception | Error e) {
        failure = e;
        throw e;
      } finally {
        threads.add(Thread.currentThread());
        checkHostQuietly("at end");
        ends.incrementAndGet();
      }
    }

    /** {@link #run}, with a checked failure wrapped (as {@link Computation#unchecked} does). */
    public <T> T runUnchecked(Callable<T> body) {
      try {
        return run(body);
      } catch (Exception e) {
        throw Computation.unchecked(e);
      }
    }

    /**
     * {@link #run} for a task whose failure nobody else should see (a task given to a foreign
     * scheduler, which would report it): the outcome is recorded here and checked by
     * {@link #checkEnded}, so it is not lost.
     */
    public void runRecorded(Callable<?> body) {
      try {
        run(body);
      } catch (Exception | Error recorded) {
        // checked by checkEnded
      }
    }

    private void checkHostQuietly(String when) {
      Runnable check = hostCheck;
      if (check == null) {
        return;
      }
      try {
        check.run();
      } catch (Throwable wrongPlace) {
        problems.add(name + ": off its host " + when + ": " + wrongPlace.getMessage());
      }
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /**
   * A member started elsewhere (a task of a foreign scheduler, a channel's fiber): its body must
   * call {@link Member#run}. {@code parked} tells when it is waiting where the scenario wants it;
   * {@code mayReturn} allows it to end normally (instead of with the stop's cancellation).
   */
  public Member member(String name, BooleanSupplier parked, boolean mayReturn) {
    Member m = new Member(Objects.requireNonNull(name, "name"), Objects.requireNonNull(parked, "parked"),
        mayReturn);
    members.add(m);
    return m;
  }

  /**
   * Starts a fiber on the scheduler running {@code body} as a new member that must end with the
   * stop's cancellation; {@code parked} tells when it waits where the scenario wants it.
   */
  public Member start(String name, BooleanSupplier parked, Callable<?> body) {
    Member m = member(name, parked, false);
    Computation<Object> c = Computation.create();
    if (injectCallbackFailures) {
      String site = "completion callback of " + name;
      injectedSites.add(site);
      c.whenDone(() -> {
        throw new InjectedFailure(site);
      });
    }
    scheduler.spawn(Fiber.create(false, c), Support.capturing(c, () -> m.run(body)));
    return m;
  }

  /**
   * Adds a check made once every member has ended: {@code problem} answers null when all is
   * well, else a description of what is wrong.
   */
  public void invariant(Supplier<String> problem) {
    invariants.add(Objects.requireNonNull(problem, "problem"));
  }

  /** The threads the members ran on (where they started and where they ended). */
  public Set<Thread> threads() {
    Set<Thread> all = new LinkedHashSet<>();
    for (Member m : members) {
      all.addAll(m.threads);
    }
    return all;
  }

  /** The sites of the failures injected so far (see {@link #injectingCallbackFailures()}). */
  public List<String> injectedSites() {
    return List.copyOf(injectedSites);
  }

  // ---------------------------------------------------------------------------------------
  // The std waits

  /**
   * Starts fibers parked in every kind of wait picos-std has: a trigger, a computation, a mutex
   * held by another fiber, a channel send and receive, a {@link Bundle} whose body and children
   * wait, a bundle and a {@link Flock} joining children that wait (one forked a grandchild), a
   * {@link Control#terminateAfter} around a wait, a fiber retrying {@code terminateAfter} with
   * short timeouts that catches only {@link Control.Timeout}, cleanup that sleeps in
   * {@code finally} under {@link Control#protect}, a protected sleep in progress, and
   * {@link Event#select} of a receive and a timeout in a loop fed by a sender of numbered
   * elements.
   */
  public ShutdownScenario parkStdWaits() {
    Trigger plain = Trigger.create();
    start("Trigger.await", () -> awaited(plain), () -> {
      throw woken(plain.await());
    });

    Computation<Object> never = Computation.create();
    start("Computation.await", () -> Handler.triggerEntries(never) > 0, never::await);

    parkOnMutex();
    parkOnChannels();
    parkInBundles();
    parkInFlock();

    Trigger timed = Trigger.create();
    start("Control.terminateAfter(1 h) around a wait", () -> awaited(timed),
        () -> Control.terminateAfter(Duration.ofHours(1), () -> {
          throw woken(timed.await());
        }));

    AtomicInteger timeouts = new AtomicInteger();
    start("terminateAfter(2 ms) retried, catching only Control.Timeout", () -> timeouts.get() >= 3, () -> {
      for (;;) {
        try {
          Control.terminateAfter(Duration.ofMillis(2), () -> {
            throw woken(Trigger.create().await());
          });
        } catch (Control.Timeout attemptTimedOut) {
          timeouts.incrementAndGet();
        }
      }
    });

    Trigger beforeCleanup = Trigger.create();
    start("protected cleanup sleeping in finally", () -> awaited(beforeCleanup),
        () -> withCleanup(() -> {
          throw woken(beforeCleanup.await());
        }));

    AtomicInteger armed = new AtomicInteger();
    AtomicInteger slept = new AtomicInteger();
    start("Control.protect(sleep) in progress at the stop", () -> armed.get() > 0, () -> {
      for (;;) {
        Control.check();
        Control.protect(() -> {
          armed.incrementAndGet();
          Control.sleep(PROTECTED_SLEEP);
          slept.incrementAndGet();
          return null;
        });
      }
    });
    invariant(() -> slept.get() == armed.get() ? null
        : "a protected sleep never ended: " + armed.get() + " armed, " + slept.get() + " ended");

    parkInSelect();
    invariant(() -> cleanupsDone.get() == cleanupsExpected.get() ? null
        : "protected cleanups completed: " + cleanupsDone.get() + " of " + cleanupsExpected.get());
    return this;
  }

  private void parkOnMutex() {
    Mutex mutex = new Mutex();
    Trigger holding = Trigger.create();
    Computation<Void> locked = Computation.create();
    start("Mutex holder awaiting a trigger", () -> mutex.isLocked() && awaited(holding), () -> {
      mutex.lock();
      try {
        locked.tryReturn(null);
        throw woken(holding.await());
      } finally {
        mutex.unlock();
      }
    });
    start("Mutex.lock, held by another fiber", () -> mutex.queueLength() == 1, () -> {
      locked.await();
      mutex.lock();
      try {
        // The holder's unlock may hand the mutex over before the stop reaches this fiber.
        throw woken(Trigger.create().await());
      } finally {
        mutex.unlock();
      }
    });
    invariant(() -> !mutex.isLocked() && mutex.queueLength() == 0 ? null
        : "the mutex is left inconsistent: " + mutex);
  }

  private void parkOnChannels() {
    Channel<String> unreceived = Channel.rendezvous();
    start("Channel.send, nobody receiving", () -> unreceived.waitingSenders() == 1, () -> {
      unreceived.send("sent to nobody");
      throw new AssertionError("Channel.send returned with nobody receiving");
    });
    invariant(() -> {
      if (unreceived.waitingSenders() != 0) {
        return "a cancelled send left its offer queued: " + unreceived.waitingSenders();
      }
      return unreceived.tryReceive().isPresent() ? "a cancelled send delivered its element" : null;
    });
    Channel<String> unsent = Channel.rendezvous();
    start("Channel.receive, nobody sending", () -> unsent.waitingReceivers() == 1, unsent::receive);
    invariant(() -> unsent.waitingReceivers() == 0 && !unsent.trySend("late") ? null
        : "a cancelled receive left its offer queued");
  }

  private void parkInBundles() {
    Trigger body = Trigger.create();
    Trigger child = Trigger.create();
    Trigger beforeCleanup = Trigger.create();
    AtomicBoolean sleeping = new AtomicBoolean();
    Member awaiting = member("Bundle child awaiting a trigger", () -> awaited(child), false);
    Member asleep = member("Bundle child in Control.sleep(1 h)", sleeping::get, false);
    Member cleaning = member("Bundle child with protected cleanup", () -> awaited(beforeCleanup), false);
    start("Bundle.joinAfter, body and children waiting", () -> awaited(body), () -> Bundle.joinAfter(b -> {
      b.fork(() -> awaiting.runUnchecked(() -> {
        throw woken(child.await());
      }));
      b.fork(() -> asleep.runUnchecked(() -> {
        sleeping.set(true);
        Control.sleep(Duration.ofHours(1));
        throw new AssertionError("slept for an hour");
      }));
      b.fork(() -> cleaning.runUnchecked(() -> withCleanup(() -> {
        throw woken(beforeCleanup.await());
      })));
      throw woken(body.await());
    }));

    Trigger first = Trigger.create();
    Computation<Object> second = Computation.create();
    AtomicBoolean joining = new AtomicBoolean();
    Member one = member("joined Bundle child awaiting a trigger", () -> awaited(first), false);
    Member two = member("joined Bundle child awaiting a computation", () -> Handler.triggerEntries(second) > 0, false);
    start("Bundle.joinAfter joining children that wait", joining::get, () -> Bundle.joinAfter(b -> {
      b.fork(() -> one.runUnchecked(() -> {
        throw woken(first.await());
      }));
      b.fork(() -> two.runUnchecked(second::await));
      joining.set(true);
      return "the body returned";
    }));
  }

  private void parkInFlock() {
    Channel<String> nothing = Channel.rendezvous();
    Trigger timed = Trigger.create();
    Trigger parent = Trigger.create();
    Trigger grandchild = Trigger.create();
    AtomicBoolean joining = new AtomicBoolean();
    Member receiving = member("Flock child in Channel.receive", () -> nothing.waitingReceivers() == 1, false);
    Member timing = member("Flock child in terminateAfter(1 h) around a wait", () -> awaited(timed), false);
    Member forking = member("Flock child that forked a grandchild", () -> awaited(parent), false);
    Member forked = member("Flock grandchild awaiting a trigger", () -> awaited(grandchild), false);
    start("Flock.joinAfter joining children that wait", joining::get, () -> Flock.joinAfter(() -> {
      Flock.fork(() -> receiving.runUnchecked(nothing::receive));
      Flock.fork(() -> timing.runUnchecked(() -> Control.terminateAfter(Duration.ofHours(1), () -> {
        throw woken(timed.await());
      })));
      Flock.fork(() -> forking.runUnchecked(() -> {
        Flock.fork(() -> forked.runUnchecked(() -> {
          throw woken(grandchild.await());
        }));
        throw woken(parent.await());
      }));
      joining.set(true);
      return "the body returned";
    }));
    invariant(() -> nothing.waitingReceivers() == 0 ? null
        : "a cancelled receive of a flock child left its offer queued");
  }

  private void parkInSelect() {
    Channel<Integer> numbers = Channel.bounded(4);
    AtomicInteger sent = new AtomicInteger();
    List<Integer> received = Collections.synchronizedList(new ArrayList<>());
    start("sender of numbered elements", () -> sent.get() > 16, () -> {
      for (int i = 0;; i++) {
        if (i % 8 == 7) {
          Control.sleep(Duration.ofMillis(1)); // lets the selecting receiver time out now and then
        }
        numbers.send(i);
        sent.set(i + 1);
      }
    });
    start("Event.select(receiveEvent, after(1 ms)) in a loop", () -> received.size() > 16, () -> {
      for (;;) {
        int x = Event.select(numbers.receiveEvent(), Event.after(Duration.ofMillis(1)).map(timedOut -> -1));
        if (x >= 0) {
          received.add(x);
        }
      }
    });
    invariant(() -> {
      List<Integer> all = new ArrayList<>(received);
      List<Integer> buffered = new ArrayList<>();
      for (Integer x; (x = numbers.tryReceive().orElse(null)) != null; ) {
        buffered.add(x);
      }
      all.addAll(buffered);
      int n = sent.get();
      List<Integer> expected = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        expected.add(i);
      }
      if (all.equals(expected)) {
        return numbers.waitingSenders() + numbers.waitingReceivers() == 0 ? null
            : "offers left queued on the selected channel: " + numbers;
      }
      Set<Integer> missing = new LinkedHashSet<>(expected);
      all.forEach(missing::remove);
      List<Integer> extra = new ArrayList<>(all);
      expected.forEach(extra::remove);
      return "channel elements lost or duplicated: " + n + " sends returned; received " + received.size()
          + ", still buffered " + buffered + "; missing " + missing + ", duplicated or unsent " + extra
          + (missing.isEmpty() && extra.isEmpty() ? ", out of order" : "");
    });
  }

  /** Runs {@code body}, then sleeps under {@link Control#protect} in its {@code finally}. */
  private Object withCleanup(Callable<?> body) throws Exception {
    cleanupsExpected.incrementAndGet();
    try {
      return body.call();
    } finally {
      Control.protect(() -> {
        Control.sleep(CLEANUP_SLEEP);
        cleanupsDone.incrementAndGet();
        return null;
      });
    }
  }

  /** Whether a fiber awaits {@code t} (its resume action is attached). */
  private static boolean awaited(Trigger t) {
    try {
      t.isInitial();
      return false;
    } catch (IllegalStateException awaiting) {
      return true;
    }
  }

  /** What a fiber woken from a trigger it only expects to be cancelled from throws. */
  private static RuntimeException woken(Throwable cause) {
    if (cause == null) {
      return new IllegalStateException("a trigger nobody signals was signalled");
    }
    return Computation.unchecked(cause);
  }

  // ---------------------------------------------------------------------------------------
  // Waiting and checking

  /** Waits until every member is parked; fails, naming the others, after {@link #BOUND}. */
  public void awaitParked() {
    long deadline = System.nanoTime() + BOUND.toNanos();
    List<Member> waiting;
    do {
      waiting = members.stream().filter(m -> !m.parked.getAsBoolean()).toList();
      if (waiting.isEmpty()) {
        return;
      }
      List<String> early = members.stream().filter(m -> m.ends.get() > 0)
          .map(m -> m.name + " ended before the stop: " + outcome(m)).toList();
      if (!early.isEmpty()) {
        fail(scheduler + ": " + String.join("; ", early));
      }
      pause();
    } while (System.nanoTime() < deadline);
    fail(scheduler + ": not parked within " + BOUND + ": " + waiting);
  }

  /**
   * Waits (within {@link #BOUND}) until every member has ended, then checks everything the class
   * comment lists; {@code why} is a fragment every cancellation message must contain.
   */
  public void checkEnded(String why) {
    long deadline = System.nanoTime() + BOUND.toNanos();
    while (members.stream().anyMatch(m -> m.ends.get() == 0) && System.nanoTime() < deadline) {
      pause();
    }
    List<String> problems = new ArrayList<>();
    for (Member m : members) {
      problems.addAll(m.problems);
      int runs = m.runs.get();
      int ends = m.ends.get();
      if (runs != 1) {
        problems.add(m.name + ": started " + runs + " times");
      }
      if (ends == 0) {
        problems.add(m.name + ": never ended (hangs) after the stop");
        continue;
      }
      if (ends > 1) {
        problems.add(m.name + ": ended " + ends + " times");
      }
      Throwable f = m.failure;
      if (m.returned) {
        if (!m.mayReturn) {
          problems.add(m.name + ": returned normally instead of being cancelled by the stop");
        }
      } else if (!(f instanceof SchedulerClosedException)) {
        problems.add(m.name + ": ended with " + describe(f) + ", not a SchedulerClosedException");
      } else if (f.getMessage() == null || !f.getMessage().contains(why)) {
        problems.add(m.name + ": its cancellation does not name the stop ('" + why + "'): " + f.getMessage());
      }
    }
    if (problems.isEmpty()) {
      for (Supplier<String> invariant : invariants) {
        String problem = invariant.get();
        if (problem != null) {
          problems.add(problem);
        }
      }
    }
    if (!problems.isEmpty()) {
      fail(scheduler + ": " + problems.size() + " problem(s) after the stop:\n  "
          + String.join("\n  ", problems));
    }
  }

  /**
   * Checks that every failure injected by the scenario's completion callbacks was reported to
   * an uncaught-exception handler exactly once (waiting up to {@link #BOUND} for the last ones).
   */
  public void checkInjectedReported(UncaughtFailures uncaught) throws InterruptedException {
    Set<String> mine = Set.copyOf(injectedSites);
    uncaught.awaitReports(r -> r.failure() instanceof InjectedFailure f && mine.contains(f.site()),
        mine.size(), BOUND);
    List<String> reported = uncaught.injectedSites().stream().filter(mine::contains).toList();
    List<String> problems = new ArrayList<>();
    for (String site : injectedSites) {
      long n = reported.stream().filter(site::equals).count();
      if (n != 1) {
        problems.add(site + " reported " + n + " times");
      }
    }
    if (!problems.isEmpty()) {
      fail(scheduler + ": injected failures not reported exactly once: " + problems);
    }
  }

  private static String outcome(Member m) {
    return m.returned ? "returned" : describe(m.failure);
  }

  private static String describe(Throwable f) {
    if (f == null) {
      return "nothing recorded";
    }
    String trace = Arrays.stream(f.getStackTrace()).limit(6).map(String::valueOf)
        .collect(Collectors.joining(" < "));
    return f + (trace.isEmpty() ? "" : " at " + trace);
  }

  private static void pause() {
    try {
      Thread.sleep(2);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** An action that may throw anything. */
  @FunctionalInterface
  public interface Action {
    void run() throws Exception;
  }

  /**
   * Runs {@code action} on a thread of its own and fails if it does not end within
   * {@code bound} (showing where it hangs), or rethrows what it threw.
   */
  public static void withinBound(String what, Duration bound, Action action) {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try {
        action.run();
      } catch (Throwable e) {
        failure.set(e);
      }
    }, "bounded: " + what);
    t.setDaemon(true);
    t.start();
    try {
      t.join(bound.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while waiting for " + what, e);
    }
    if (t.isAlive()) {
      String stack = Arrays.stream(t.getStackTrace()).limit(12).map(String::valueOf)
          .collect(Collectors.joining("\n    "));
      fail(what + " did not return within " + bound + "; it waits at\n    " + stack);
    }
    Throwable e = failure.get();
    if (e != null) {
      throw new AssertionError(what + " failed: " + e, e);
    }
  }
}
