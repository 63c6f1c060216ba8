package org.picos;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import org.picos.internal.FiberEvents;
import org.picos.spi.Support;

/**
 * The blocked-carrier detector: a watchdog that notices a fiber holding a carrier thread it
 * shares with other fibers (fifo and multi carriers, Netty and Vert.x event loops, executors)
 * for longer than a threshold without suspending — a JDBC call, a {@code Thread.sleep}, a
 * {@code Mono.block()} or a long computation in a fiber — and reports it once per stall, with the
 * carrier's stack trace (the fiber's frames on top), the fiber, its scheduler and how long.
 * Fibers whose carrier may block ({@code threadPerFiber}, plain threads) are never reported.
 *
 * <p>On by default with a threshold of {@value #DEFAULT_THRESHOLD_MILLIS} ms; the system
 * property {@value #THRESHOLD_PROPERTY} (milliseconds, {@code 0} disables) sets the threshold at
 * startup and {@link #setThreshold} at any time. Reports go to the {@link Reporter} given to
 * {@link #setReporter}; the default logs a {@link System.Logger.Level#WARNING} through
 * {@link System#getLogger} (name {@code org.picos.BlockedCarriers}) with the stack attached.
 * Each report is also a JFR event {@code org.picos.BlockedCarrier} when that event is enabled.
 *
 * <h2>How it works, and what it costs</h2>
 * Each carrier thread keeps a slot with the fiber mounted on it and a count of mounts; a
 * scheduler writes both when it mounts a fiber (two plain stores, no fence, no clock read). One
 * daemon thread, {@code picos-blocked-carrier-watchdog}, started when the first fiber is mounted
 * on a carrier that must not block, samples every watched slot every quarter threshold (at
 * most every 100 ms). A slot
 * showing the same fiber and the same count in samples a threshold apart belongs to a fiber that
 * has not suspended since: a stall. The watchdog then takes the carrier's stack, checks the slot
 * again (a fiber that moved on meanwhile is not reported) and reports. A stall is reported once;
 * when that fiber suspends, or another runs, the carrier is watched afresh. A stall is seen
 * between one threshold and one and a quarter thresholds after it began, and its reported
 * duration is a lower bound.
 *
 * <p>Like Vert.x's blocked-thread checker, this is a diagnosis, not a guard: the stalled fiber
 * runs on. To run blocking code from a fiber, use {@code org.picos.std.blocking.Blocking.call}
 * (a pool of threads that may block) or a {@code threadPerFiber} scheduler.
 *
 * <h2>Threading</h2>
 * All methods are safe from any thread, inside a fiber or not, and none is a cancellation point.
 * The reporter runs on the watchdog thread, one report at a time: a slow reporter delays the
 * next sample; a reporter that throws has its failure passed to the watchdog thread's uncaught
 * exception handler, and the watchdog goes on.
 */
public final class BlockedCarriers {
  private BlockedCarriers() {}

  /** The system property read at startup: the threshold in milliseconds, {@code 0} = off. */
  public static final String THRESHOLD_PROPERTY = "picos.blockedCarrierThresholdMillis";

  /** The threshold when {@value #THRESHOLD_PROPERTY} is not set. */
  public static final long DEFAULT_THRESHOLD_MILLIS = 500;

  /**
   * One stall, as the watchdog saw it.
   *
   * @param fiber the fiber holding the carrier
   * @param scheduler its scheduler's name
   * @param carrier the carrier thread
   * @param blockedFor how long the fiber had held the carrier without suspending when seen (a
   *     lower bound)
   * @param stackTrace the carrier's stack when seen, innermost frame first
   */
  public record Stall(Fiber fiber, String scheduler, Thread carrier, Duration blockedFor,
      List<StackTraceElement> stackTrace) {
    /** Copies the stack; checks for nulls. */
    public Stall {
      Objects.requireNonNull(fiber, "fiber");
      Objects.requireNonNull(scheduler, "scheduler");
      Objects.requireNonNull(carrier, "carrier");
      Objects.requireNonNull(blockedFor, "blockedFor");
      stackTrace = List.copyOf(stackTrace);
    }

    /** What happened and what to do, in one sentence. */
    public String message() {
      return fiber + " on " + scheduler + " has held carrier thread '" + carrier.getName()
          + "' for " + blockedFor.toMillis() + " ms without suspending, so no other fiber of"
          + " that carrier ran meanwhile. Run blocking calls (JDBC, file or socket I/O,"
          + " Thread.sleep, Future.get, Mono.block) through org.picos.std.blocking.Blocking.call"
          + " or on a threadPerFiber scheduler; split long computations with Fiber.yield().";
    }

    /** The stall as a throwable whose stack trace is the carrier's: for loggers. */
    public Throwable toThrowable() {
      Throwable t = new Throwable(fiber + " held carrier thread '" + carrier.getName() + "' for "
          + blockedFor.toMillis() + " ms; this is the carrier's stack when seen", null, false, true) {
        @Override
        public String toString() {
          return "blocked carrier: " + getMessage();
        }
      };
      t.setStackTrace(stackTrace.toArray(StackTraceElement[]::new));
      return t;
    }
  }

  /** Receives stalls; runs on the watchdog thread. */
  @FunctionalInterface
  public interface Reporter {
    /**
     * Reports one stall. Should be quick: the watchdog samples no carrier meanwhile.
     *
     * @param stall what was seen
     */
    void report(Stall stall);
  }

  private static final Reporter LOG = stall -> System.getLogger(BlockedCarriers.class.getName())
      .log(System.Logger.Level.WARNING, stall.message(), stall.toThrowable());

  private static volatile long thresholdNanos = initialThreshold();
  private static volatile Reporter reporter = LOG;
  private static final ConcurrentLinkedQueue<Watch> WATCHED = new ConcurrentLinkedQueue<>();
  /** The watchdog thread, once started; guarded by the class. */
  private static Thread watchdog;

  private static long initialThreshold() {
    String value = System.getProperty(THRESHOLD_PROPERTY);
    if (value == null) {
      return Duration.ofMillis(DEFAULT_THRESHOLD_MILLIS).toNanos();
    }
    try {
      long millis = Long.parseLong(value.trim());
      if (millis >= 0) {
        return Duration.ofMillis(millis).toNanos();
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    System.getLogger(BlockedCarriers.class.getName()).log(System.Logger.Level.WARNING,
        "Ignoring -D" + THRESHOLD_PROPERTY + "=" + value + ": give a whole number of"
            + " milliseconds, 0 to turn the blocked-carrier detector off; using "
            + DEFAULT_THRESHOLD_MILLIS + " ms");
    return Duration.ofMillis(DEFAULT_THRESHOLD_MILLIS).toNanos();
  }

  /**
   * Sets how long a fiber may hold a shared carrier without suspending before it is reported;
   * {@link Duration#ZERO} turns the detector off. Takes effect within one sample period of the
   * watchdog (a quarter of the previous threshold, at most 100 ms).
   *
   * @param threshold zero or positive
   * @throws IllegalArgumentException if negative
   */
  public static void setThreshold(Duration threshold) {
    Objects.requireNonNull(threshold, "threshold");
    if (threshold.isNegative()) {
      throw new IllegalArgumentException("threshold must be zero (off) or positive: " + threshold);
    }
    thresholdNanos = threshold.toNanos();
    Thread w;
    synchronized (BlockedCarriers.class) {
      w = watchdog;
    }
    if (w != null) {
      LockSupport.unpark(w);
    }
  }

  /**
   * The current threshold; {@link Duration#ZERO} when the detector is off.
   *
   * @return the threshold
   */
  public static Duration threshold() {
    return Duration.ofNanos(thresholdNanos);
  }

  /**
   * Sets where stalls are reported; {@code null} restores the default ({@code System.Logger}
   * warning).
   *
   * @param r the reporter, or null
   */
  public static void setReporter(Reporter r) {
    reporter = r == null ? LOG : r;
  }

  // ---------------------------------------------------------------------------------------
  // The watchdog

  /**
   * The watchdog's view of one carrier: weak, so a carrier whose thread ended is forgotten.
   * Every field other than the referent is read and written by the watchdog thread only.
   */
  private static final class Watch extends WeakReference<Fiber.Carrier> {
    Fiber lastFiber;
    int lastMounts;
    long sinceNanos;
    boolean reported;

    Watch(Fiber.Carrier carrier) {
      super(carrier);
    }
  }

  /** Called once per carrier, by its thread, on its first mount of a fiber that must not block. */
  static void watch(Fiber.Carrier carrier) {
    WATCHED.add(new Watch(carrier));
    synchronized (BlockedCarriers.class) {
      if (watchdog == null) {
        watchdog = Thread.ofPlatform().daemon().name("picos-blocked-carrier-watchdog")
            .unstarted(BlockedCarriers::watchLoop);
        watchdog.setContextClassLoader(null);
        watchdog.start();
      }
    }
  }

  /**
   * For fiber dumps: each fiber mounted right now on a carrier of a scheduler whose carriers
   * must not block, with its carrier. Weakly consistent; safe from any thread.
   */
  static Map<Fiber, Thread> mountedNow() {
    Map<Fiber, Thread> mounted = new IdentityHashMap<>();
    for (Watch w : WATCHED) {
      Fiber.Carrier c = w.get();
      Fiber f = c == null ? null : c.mountedFiber();
      if (f != null) {
        mounted.put(f, c.thread);
      }
    }
    return mounted;
  }

  /** The longest the watchdog sleeps: the coarse clock's precision. */
  private static final long TICK_NANOS = 100_000_000L;

  /** Written by the watchdog each time it wakes; 0 until it runs. */
  private static volatile long coarseMillis;

  /**
   * {@link System#currentTimeMillis()} to within about 100 ms, without a system call once the
   * watchdog runs (it ticks this clock even while the detector is off): what fiber dumps use to
   * say since when a fiber waits, at the cost of one load per await.
   */
  static long coarseMillis() {
    long now = coarseMillis;
    return now != 0 ? now : System.currentTimeMillis();
  }

  private static void watchLoop() {
    for (;;) {
      coarseMillis = System.currentTimeMillis();
      long threshold = thresholdNanos;
      LockSupport.parkNanos(threshold > 0
          ? Math.min(Math.max(threshold / 4, 1_000_000L), TICK_NANOS) : TICK_NANOS);
      coarseMillis = System.currentTimeMillis();
      threshold = thresholdNanos;
      if (threshold > 0) {
        sample(System.nanoTime(), threshold);
      }
    }
  }

  private static void sample(long now, long threshold) {
    for (Iterator<Watch> it = WATCHED.iterator(); it.hasNext(); ) {
      Watch w = it.next();
      Fiber.Carrier c = w.get();
      if (c == null || !c.thread.isAlive()) {
        it.remove();
        continue;
      }
      Fiber fiber = c.mountedFiber();
      int mounts = c.mounts();
      if (fiber != w.lastFiber || mounts != w.lastMounts) {
        w.lastFiber = fiber;
        w.lastMounts = mounts;
        w.sinceNanos = now;
        w.reported = false;
        continue;
      }
      if (fiber == null || w.reported || now - w.sinceNanos < threshold
          || fiber.handler.mayBlockCarrier()) {
        continue;
      }
      StackTraceElement[] stack = c.thread.getStackTrace();
      if (c.mountedFiber() != fiber || c.mounts() != mounts) {
        continue; // it suspended while the stack was taken: the stack is not the stall's
      }
      w.reported = true;
      Stall stall = new Stall(fiber, String.valueOf(fiber.handler), c.thread,
          Duration.ofNanos(now - w.sinceNanos), List.of(stack));
      FiberEvents.blockedCarrier(stall);
      try {
        reporter.report(stall);
      } catch (Throwable failure) {
        Support.reportUncaught(failure);
      }
    }
  }
}
