package org.picos.internal;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Threshold;
import jdk.jfr.Timespan;
import org.picos.BlockedCarriers;
import org.picos.Fiber;

/**
 * Internal: the JFR events of Picos, all in category "Picos" and, like the JDK's own
 * virtual-thread events, disabled until a recording enables them (for example
 * {@code RecordingStream.enable("org.picos.FiberStart")} or a {@code .jfc} settings file):
 *
 * <ul>
 *   <li>{@code org.picos.FiberStart} and {@code org.picos.FiberEnd}: a fiber was tracked by its
 *       scheduler, and its main returned (instant events; fiber id, name, scheduler).
 *   <li>{@code org.picos.FiberSuspended}: a fiber awaited a trigger for longer than the event's
 *       threshold (default 20 ms): a duration event with what it waited for.
 *   <li>{@code org.picos.BlockedCarrier}: the blocked-carrier detector ({@link BlockedCarriers})
 *       saw a fiber hold a shared carrier too long; the carrier's stack is a text field (the
 *       event's own stack trace would be the watchdog's).
 *   <li>{@code org.picos.PinnedAwait}: an await was refused because the fiber was pinned to its
 *       carrier, with the reason.
 * </ul>
 *
 * <p>Cost when no recording enables them: the emitting code allocates an event object that
 * escape analysis removes and calls methods that are empty until JFR instruments the class; no
 * clock read, no branch on shared state. {@code FiberSuspended}, whose object would live across
 * the suspension, is made only while enabled (one read of its type's enabled flag per await).
 * Not an API: the event names and fields are.
 */
public final class FiberEvents {
  private FiberEvents() {}

  /** {@code org.picos.FiberStart}. */
  @Name("org.picos.FiberStart")
  @Label("Fiber Start")
  @Category("Picos")
  @Description("A fiber was started on a scheduler")
  @Enabled(false)
  @StackTrace(false)
  static final class Start extends Event {
    @Label("Fiber Id")
    long fiberId;

    @Label("Fiber Name")
    String fiberName;

    @Label("Scheduler")
    String scheduler;
  }

  /** {@code org.picos.FiberEnd}. */
  @Name("org.picos.FiberEnd")
  @Label("Fiber End")
  @Category("Picos")
  @Description("The main of a fiber returned")
  @Enabled(false)
  @StackTrace(false)
  static final class End extends Event {
    @Label("Fiber Id")
    long fiberId;

    @Label("Fiber Name")
    String fiberName;

    @Label("Scheduler")
    String scheduler;
  }

  /** {@code org.picos.FiberSuspended}; public so {@code Trigger.await} can time itself. */
  @Name("org.picos.FiberSuspended")
  @Label("Fiber Suspended")
  @Category("Picos")
  @Description("A fiber awaited a trigger longer than the threshold")
  @Enabled(false)
  @Threshold("20 ms")
  @StackTrace(false)
  public static final class Suspended extends Event {
    @Label("Fiber Id")
    long fiberId;

    @Label("Fiber Name")
    String fiberName;

    @Label("Scheduler")
    String scheduler;

    @Label("Waiting For")
    String waitingFor;

    private static final jdk.jfr.EventType TYPE = jdk.jfr.EventType.getEventType(Suspended.class);

    /** Creates the event; call {@code begin()} before the wait. */
    public Suspended() {}

    /** Whether a recording enables this event now. */
    public static boolean enabled() {
      return TYPE.isEnabled();
    }

    /**
     * A begun event when a recording enables this event, else null. The event object is live
     * across the wait, so on a fiber it would be frozen with the suspended stack (48 bytes per
     * suspended fiber, found in a heap histogram) unless the JIT removed it: made only when it
     * will be used.
     */
    public static Suspended beginIfEnabled() {
      if (!enabled()) {
        return null;
      }
      Suspended event = new Suspended();
      event.begin();
      return event;
    }

    /**
     * Commits the event if the wait was long enough and the event is enabled.
     *
     * @param fiber the fiber that waited
     * @param waitingFor what it waited for (rendered only when committed)
     */
    public void end(Fiber fiber, Object waitingFor) {
      end();
      if (shouldCommit()) {
        fiberId = fiber.id();
        fiberName = fiber.name();
        scheduler = String.valueOf(CoreAccess.get().handler(fiber));
        this.waitingFor = String.valueOf(waitingFor);
        commit();
      }
    }
  }

  /** {@code org.picos.BlockedCarrier}. */
  @Name("org.picos.BlockedCarrier")
  @Label("Blocked Carrier")
  @Category("Picos")
  @Description("A fiber held a carrier thread it shares with other fibers without suspending for"
      + " longer than the blocked-carrier threshold")
  @Enabled(false)
  @StackTrace(false)
  static final class Blocked extends Event {
    @Label("Fiber Id")
    long fiberId;

    @Label("Fiber Name")
    String fiberName;

    @Label("Scheduler")
    String scheduler;

    @Label("Carrier Thread")
    Thread carrier;

    @Label("Blocked For")
    @Timespan(Timespan.NANOSECONDS)
    long blockedFor;

    @Label("Carrier Stack Trace")
    String carrierStackTrace;
  }

  /** {@code org.picos.PinnedAwait}. */
  @Name("org.picos.PinnedAwait")
  @Label("Pinned Await Refused")
  @Category("Picos")
  @Description("A fiber could not suspend because it was pinned to its carrier thread; the await"
      + " threw")
  @Enabled(false)
  static final class Pinned extends Event {
    @Label("Fiber Id")
    long fiberId;

    @Label("Scheduler")
    String scheduler;

    @Label("Reason")
    String reason;
  }

  /**
   * Records that {@code fiber} was started on {@code scheduler}.
   *
   * @param fiber the fiber
   * @param scheduler its scheduler
   */
  public static void started(Fiber fiber, Object scheduler) {
    Start e = new Start();
    if (e.isEnabled()) {
      e.fiberId = fiber.id();
      e.fiberName = fiber.name();
      e.scheduler = String.valueOf(scheduler);
      e.commit();
    }
  }

  /**
   * Records that the main of {@code fiber} returned.
   *
   * @param fiber the fiber
   * @param scheduler its scheduler
   */
  public static void ended(Fiber fiber, Object scheduler) {
    End e = new End();
    if (e.isEnabled()) {
      e.fiberId = fiber.id();
      e.fiberName = fiber.name();
      e.scheduler = String.valueOf(scheduler);
      e.commit();
    }
  }

  /**
   * Records a stall seen by the blocked-carrier detector.
   *
   * @param stall the stall
   */
  public static void blockedCarrier(BlockedCarriers.Stall stall) {
    Blocked e = new Blocked();
    if (e.isEnabled()) {
      e.fiberId = stall.fiber().id();
      e.fiberName = stall.fiber().name();
      e.scheduler = stall.scheduler();
      e.carrier = stall.carrier();
      e.blockedFor = stall.blockedFor().toNanos();
      StringBuilder b = new StringBuilder();
      for (StackTraceElement frame : stall.stackTrace()) {
        b.append("at ").append(frame).append('\n');
      }
      e.carrierStackTrace = b.toString();
      e.commit();
    }
  }

  /**
   * Records an await refused because the fiber was pinned.
   *
   * @param fiber the fiber
   * @param scheduler its scheduler
   * @param reason why it was pinned
   */
  public static void pinnedAwait(Fiber fiber, Object scheduler, String reason) {
    Pinned e = new Pinned();
    if (e.isEnabled()) {
      e.fiberId = fiber.id();
      e.scheduler = String.valueOf(scheduler);
      e.reason = reason;
      e.commit();
    }
  }
}
