package org.picos;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.picos.spi.AbstractScheduler;

/**
 * Fiber dumps: every live fiber of every scheduler of the JVM (those built on
 * {@link AbstractScheduler}), like a thread dump, with the stack of each suspended fiber. No
 * agent, nothing recorded on hot paths beyond one trigger reference and a coarse-clock read (a
 * load, no system call) per suspension; the stacks are read only when a dump asks.
 *
 * <p>Weakly consistent: each fiber is read once, while fibers keep running, migrating and
 * ending; a dump never stops a scheduler. Reading a suspended fiber's frames holds back that
 * one fiber's resume for the time of the read (a signal that arrives meanwhile is acted on as
 * soon as the read ends, by the dumping thread); a fiber caught in the instant between its
 * await and its carrier's switch away from it, or resuming just before the read, is listed as
 * suspended without a stack.
 */
public final class Fibers {
  private Fibers() {}

  /** What a fiber was doing when the dump read it. */
  public enum State {
    /** Mounted on a carrier thread that must not block ({@link FiberInfo#thread()} says which). */
    RUNNING,
    /** Suspended on a trigger that is not yet signalled. */
    SUSPENDED,
    /** Ready to run, or running on a thread of its own or one the dump does not watch. */
    RUNNABLE
  }

  /**
   * One fiber as read by a dump.
   *
   * @param id the fiber's sequence number
   * @param name its name, or null
   * @param scheduler its scheduler's name
   * @param state running, suspended or runnable
   * @param thread the carrier thread's name while {@link State#RUNNING}, else null
   * @param waitingFor what it waits for (null unless suspended)
   * @param sinceMillis when the wait began ({@link System#currentTimeMillis()} to within about
   *     100 ms; 0 unless suspended)
   * @param computation its computation's {@code toString()}
   * @param forbid whether cancellation is forbidden
   * @param scope the {@code toString()} of the scope it was started in ({@link Fiber#setScope}:
   *     a std {@code Bundle} or {@code Flock}, a bridge's channel or deployment), or null
   * @param stack a suspended fiber's frames, innermost first (empty when not suspended, or when
   *     caught in the instant it suspends or resumes)
   */
  public record FiberInfo(long id, String name, String scheduler, State state, String thread,
      String waitingFor, long sinceMillis, String computation, boolean forbid, String scope,
      List<StackTraceElement> stack) {}

  /**
   * Takes a snapshot of every live fiber. Safe from any thread, inside a fiber or not; not a
   * cancellation point.
   *
   * @return an immutable list, grouped by scheduler
   */
  public static List<FiberInfo> dump() {
    List<FiberInfo> all = new ArrayList<>();
    Map<Fiber, Thread> mounted = BlockedCarriers.mountedNow();
    for (AbstractScheduler s : AbstractScheduler.registered()) {
      for (Fiber f : s.liveFiberSnapshot()) {
        all.add(read(s, f, mounted.get(f)));
      }
    }
    return List.copyOf(all);
  }

  private static FiberInfo read(AbstractScheduler s, Fiber f, Thread carrier) {
    long since = f.awaitingSinceMillis();
    Trigger t = f.awaitingTrigger();
    boolean suspended = t != null && !t.isSignaled();
    List<StackTraceElement> stack = List.of();
    if (suspended) {
      StackTraceElement[] frames = s.suspendedStack(f);
      stack = frames == null ? List.of() : List.of(frames);
    }
    State state = suspended ? State.SUSPENDED : carrier != null ? State.RUNNING : State.RUNNABLE;
    return new FiberInfo(f.id(), f.name(), s.toString(), state,
        state == State.RUNNING ? carrier.getName() : null,
        suspended ? t.waitDescription() : null, suspended ? since : 0,
        text(f.computation()), f.hasForbidden(), text(f.scope()), stack);
  }

  /**
   * {@code o.toString()}, or null for null; a user's {@code toString} that throws (a returned
   * value's, a scope's) is shown, not thrown: a dump never fails.
   */
  private static String text(Object o) {
    if (o == null) {
      return null;
    }
    try {
      return o.toString();
    } catch (RuntimeException failure) {
      return o.getClass().getName() + " (its toString failed: " + failure + ")";
    }
  }

  /**
   * Writes a dump as text in the style of a thread dump, one paragraph per scheduler. Safe from
   * any thread; not a cancellation point.
   *
   * @param out where to write
   * @throws UncheckedIOException if {@code out} fails
   */
  public static void print(Appendable out) {
    try {
      out.append("Picos fiber dump ").append(Instant.now().toString()).append('\n');
      String current = null;
      for (FiberInfo i : dump()) {
        if (!i.scheduler().equals(current)) {
          current = i.scheduler();
          out.append("\nScheduler \"").append(current).append("\"\n");
        }
        out.append("  Fiber#").append(Long.toString(i.id()));
        if (i.name() != null) {
          out.append(" \"").append(i.name()).append('"');
        }
        out.append(' ').append(i.state().name());
        if (i.state() == State.RUNNING) {
          out.append(" on thread \"").append(i.thread()).append('"');
        } else if (i.state() == State.SUSPENDED) {
          out.append(" waiting for ").append(i.waitingFor()).append(" since ")
              .append(Instant.ofEpochMilli(i.sinceMillis()).toString());
        }
        out.append("\n    computation ").append(i.computation())
            .append(i.forbid() ? ", cancellation forbidden" : "").append('\n');
        if (i.scope() != null) {
          out.append("    in ").append(i.scope()).append('\n');
        }
        for (StackTraceElement frame : i.stack()) {
          out.append("      at ").append(frame.toString()).append('\n');
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A dump as text, as {@link #print(Appendable)} writes it. Safe from any thread.
   *
   * @return the text
   */
  public static String toText() {
    StringBuilder b = new StringBuilder();
    print(b);
    return b.toString();
  }

  /**
   * A dump as JSON, shaped like {@code jcmd Thread.dump_to_file -format=json}: a top object with
   * the time and the schedulers, each with its fibers, each fiber with its fields and its stack
   * as an array of frame strings. Safe from any thread.
   *
   * @return the JSON text
   */
  public static String toJson() {
    StringBuilder b = new StringBuilder("{\"fiberDump\":{\"time\":");
    string(b, Instant.now().toString());
    b.append(",\"schedulers\":[");
    String current = null;
    boolean firstFiber = true;
    for (FiberInfo i : dump()) {
      if (!i.scheduler().equals(current)) {
        b.append(current == null ? "{\"name\":" : "]},{\"name\":");
        current = i.scheduler();
        string(b, current);
        b.append(",\"fibers\":[");
        firstFiber = true;
      }
      b.append(firstFiber ? "{" : ",{").append("\"id\":").append(i.id()).append(",\"name\":");
      string(b, i.name());
      b.append(",\"state\":");
      string(b, i.state().name());
      b.append(",\"thread\":");
      string(b, i.thread());
      b.append(",\"waitingFor\":");
      string(b, i.waitingFor());
      b.append(",\"since\":");
      string(b, i.sinceMillis() == 0 ? null : Instant.ofEpochMilli(i.sinceMillis()).toString());
      b.append(",\"computation\":");
      string(b, i.computation());
      b.append(",\"forbid\":").append(i.forbid()).append(",\"scope\":");
      string(b, i.scope());
      b.append(",\"stack\":[");
      for (int k = 0; k < i.stack().size(); k++) {
        if (k > 0) {
          b.append(',');
        }
        string(b, i.stack().get(k).toString());
      }
      b.append("]}");
      firstFiber = false;
    }
    b.append(current == null ? "]}}" : "]}]}}");
    return b.toString();
  }

  private static void string(StringBuilder b, String s) {
    if (s == null) {
      b.append("null");
      return;
    }
    b.append('"');
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
