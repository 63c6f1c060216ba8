package org.picos.bridge.netty;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import io.netty.util.internal.ThreadExecutorMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.spi.HostCache;
import org.picos.sched.ExecutorScheduler;
import org.picos.spi.Timer;

/**
 * The schedulers of {@link PicosNetty}: one shared scheduler per event loop, made on first use
 * and kept as long as the loop, views over them for groups, and schedulers of the caller's own.
 *
 * <h2>How a loop's shutdown is seen, without polling</h2>
 * Every scheduler here is an {@link ExecutorScheduler} over a {@link LoopExecutor}, which is
 * deliberately not an {@code ExecutorService}: given one, the core would poll its
 * {@code isShutdown()} every 50 ms for as long as the scheduler lives. The loop tells instead:
 * <ul>
 *   <li>{@link SingleThreadEventExecutor#addShutdownHook}: the loop runs the hook on its own
 *       thread when a graceful shutdown begins (its first {@code confirmShutdown}), while it still
 *       takes and runs tasks. The hook closes the scheduler, cancelling its fibers, so their
 *       unwinding runs on the loop during the shutdown's quiet period. This holds for the loops
 *       of a {@code MultiThreadIoEventLoopGroup} (each a {@code SingleThreadIoEventLoop}).</li>
 *   <li>{@link EventExecutor#terminationFuture()}: completes once the loop has terminated; the
 *       only signal for loops of other kinds, and a backstop for a hook that the loop could not
 *       run (one added when the shutdown was already past its hooks).</li>
 *   <li>{@link LoopExecutor#execute}: a loop that refuses a slice, or that reached
 *       {@code isShutdown()} while taking it, is gone, and closes the scheduler there and then.</li>
 * </ul>
 * A slice the loop refuses, or takes as it stops taking tasks (it may then drop it), is
 * reported to the core as refused: the scheduler being closed by then, the core runs it on its
 * fallback thread, after an exclusive claim, so a slice the loop did run as well runs once.
 *
 * <h2>The cache</h2>
 * {@link #forLoop} keeps one {@link Shared} per loop in a map with weak keys and weak values.
 * The loop itself holds its scheduler strongly, through the shutdown hook and the termination
 * listener, so the scheduler lives exactly as long as the loop does (and is not shut down) and
 * every call for that loop answers the same object; once the loop has terminated and nobody
 * else holds either, both are collected. Loops do not override {@code equals}, so the map's
 * equality is identity. Called on the loop's own thread (from a handler, or from a fiber on the
 * loop), the answer comes from a {@code FastThreadLocal} of that thread, without the map's lock.
 */
final class LoopSchedulers {
  /** Shared schedulers, by loop; guarded by itself. */
  private static final HostCache<EventExecutor, Shared> LOOPS = new HostCache<>();
  /** Views over groups, by group; guarded by itself. Nothing but their users holds them. */
  private static final HostCache<EventLoopGroup, GroupView> GROUPS = new HostCache<>();

  private LoopSchedulers() {}

  /**
   * The shared scheduler of the loop whose thread this is, for {@link #forLoop} called on it;
   * the loop's termination clears it ({@code FastThreadLocal.removeAll()}).
   */
  private static final FastThreadLocal<Shared> ON_LOOP = new FastThreadLocal<>();

  /** The shared scheduler of {@code loop}, made on first use. */
  static Shared forLoop(EventExecutor loop) {
    if (loop.inEventLoop()) {
      Shared s = ON_LOOP.get();
      if (s == null || s.loop != loop) {
        s = lookUp(loop);
        ON_LOOP.set(s);
      }
      return s;
    }
    return lookUp(loop);
  }

  private static Shared lookUp(EventExecutor loop) {
    return LOOPS.get(loop, Shared::new);
  }

  /** The shared view over {@code group}, made on first use. */
  static GroupView forGroup(EventLoopGroup group) {
    return GROUPS.get(group, GroupView::new);
  }

  /** A new scheduler of the caller's own on {@code loop}; see {@link PicosNetty#newScheduler(EventLoop)}. */
  static ExecutorScheduler ownOnLoop(EventLoop loop) {
    String name = "PicosNetty.newScheduler(" + loop + ")";
    LoopExecutor lane = new LoopExecutor(loop);
    List<Runnable> unwatch = new CopyOnWriteArrayList<>();
    ExecutorScheduler s = ExecutorScheduler.builder(lane)
        .name(name)
        .timer(timerOf(loop))
        .onClose(() -> unwatch.forEach(Runnable::run), null)
        .build();
    lane.owner = s;
    unwatch.add(closeOnShutdown(loop, s, null));
    return s;
  }

  /** A new scheduler of the caller's own over {@code group}; see {@link PicosNetty#newScheduler(EventLoopGroup)}. */
  static ExecutorScheduler ownOnGroup(EventLoopGroup group) {
    String name = "PicosNetty.newScheduler(" + group + ")";
    Map<EventExecutor, LoopExecutor> lanes = new IdentityHashMap<>();
    for (EventExecutor loop : group) {
      lanes.put(loop, new LoopExecutor(loop));
    }
    if (lanes.isEmpty()) {
      throw new IllegalArgumentException("PicosNetty.newScheduler: " + group + " has no event loops");
    }
    List<Runnable> unwatch = new CopyOnWriteArrayList<>();
    ExecutorScheduler s = ExecutorScheduler.builder(lanes.values().iterator().next())
        .name(name)
        .placement(() -> {
          LoopExecutor lane = lanes.get(place(group));
          if (lane == null) {
            throw new IllegalStateException(group + ".next() answered a loop that is not one of"
                + " its own: PicosNetty.newScheduler(group) needs a group whose loops are fixed");
          }
          return lane;
        })
        .timer((task, nanos) -> scheduleOn(place(group), task, nanos))
        .onClose(() -> unwatch.forEach(Runnable::run), null)
        .build();
    for (LoopExecutor lane : lanes.values()) {
      lane.owner = s;
      unwatch.add(closeOnShutdown(lane.loop, s, null));
    }
    return s;
  }

  /**
   * The loop a new fiber of {@code group} runs on: the calling thread's loop when it is one of
   * the group's (a child stays with its parent; work started from a handler stays with its
   * channel), else {@code group.next()}.
   */
  static EventLoop place(EventLoopGroup group) {
    EventExecutor current = ThreadExecutorMap.currentExecutor();
    if (current instanceof EventLoop loop && current.parent() == group && current.inEventLoop()) {
      return loop;
    }
    return group.next();
  }

  /**
   * Closes {@code s} when {@code loop} begins shutting down (see the class comment) and answers
   * how to stop watching. Closes it at once if the loop is already shutting down. The loop holds
   * {@code anchor} for as long as it watches.
   */
  private static Runnable closeOnShutdown(EventExecutor loop, ExecutorScheduler s, Object anchor) {
    Watch watch = new Watch(s, "Event loop " + loop + " of scheduler " + s + " was shut down"
        + " while this fiber was alive", anchor);
    @SuppressWarnings("unchecked")
    Future<Object> termination = (Future<Object>) loop.terminationFuture();
    termination.addListener(watch);
    SingleThreadEventExecutor hooked = null;
    if (loop instanceof SingleThreadEventExecutor single) {
      try {
        single.addShutdownHook(watch);
        hooked = single;
      } catch (RejectedExecutionException alreadyShutDown) {
        // isShuttingDown() is true: closed below.
      }
    }
    if (loop.isShuttingDown()) {
      watch.run();
    }
    SingleThreadEventExecutor withHook = hooked;
    return () -> {
      termination.removeListener(watch);
      if (withHook != null && !withHook.isShuttingDown()) {
        try {
          withHook.removeShutdownHook(watch);
        } catch (RejectedExecutionException shutDownMeanwhile) {
          // The hook runs or has run; closing a closed scheduler does nothing.
        }
      }
    };
  }

  /**
   * Closes a scheduler when its loop's shutdown begins (as a shutdown hook, on the loop) or ends
   * (as a listener of the termination future). Holds {@code anchor}, so the loop keeps it alive.
   */
  private static final class Watch implements Runnable, GenericFutureListener<Future<Object>> {
    private final ExecutorScheduler scheduler;
    private final String why;
    @SuppressWarnings({"unused", "FieldCanBeLocal"})
    private final Object anchor;

    Watch(ExecutorScheduler scheduler, String why, Object anchor) {
      this.scheduler = scheduler;
      this.why = why;
      this.anchor = anchor;
    }

    @Override
    public void run() {
      scheduler.hostClosed(why);
    }

    @Override
    public void operationComplete(Future<Object> terminated) {
      scheduler.hostClosed(why);
    }
  }

  /** {@code executor}'s timer as a Picos timer; see {@link #scheduleOn}. */
  static Timer timerOf(EventExecutor executor) {
    return (task, nanos) -> scheduleOn(executor, task, nanos);
  }

  /**
   * Runs {@code task} after {@code nanos} on {@code executor}'s timer; falls back to the shared
   * timer thread once the executor is shutting down: Netty cancels the scheduled tasks of a loop
   * that shuts down, so a timer armed there (by a fiber's protected cleanup, say) would never
   * fire. Timers armed before the shutdown are moved by the scheduler when it closes (see
   * {@link ExecutorScheduler}).
   */
  static Runnable scheduleOn(EventExecutor executor, Runnable task, long nanos) {
    if (executor.isShuttingDown()) {
      return Timer.shared().schedule(task, nanos);
    }
    try {
      ScheduledFuture<?> f = executor.schedule(task, nanos, TimeUnit.NANOSECONDS);
      return () -> f.cancel(false);
    } catch (RejectedExecutionException shuttingDown) {
      return Timer.shared().schedule(task, nanos);
    }
  }

  /**
   * An event loop as the executor of one scheduler ({@link #owner}). Every slice is a task of
   * the loop; a refusal, or an acceptance once the loop has reached {@code isShutdown()} (after
   * which its last pass over the queue may already be over, so the task may never run), closes
   * the owner and is reported as a refusal: the core then runs the slice on its fallback thread
   * (see the class comment).
   */
  static final class LoopExecutor implements Executor {
    final EventExecutor loop;
    /** Set once, before the scheduler can start a fiber. */
    volatile ExecutorScheduler owner;

    LoopExecutor(EventExecutor loop) {
      this.loop = loop;
    }

    @Override
    public void execute(Runnable slice) {
      try {
        loop.execute(slice);
      } catch (RejectedExecutionException refused) {
        if (loop.isShuttingDown()) {
          loopGone();
        }
        throw refused;
      }
      if (loop.isShutdown()) {
        loopGone();
        throw new RejectedExecutionException("Event loop " + loop + " took a task while it"
            + " stopped taking tasks, and may drop it");
      }
    }

    private void loopGone() {
      ExecutorScheduler s = owner;
      s.hostClosed("Event loop " + loop + " of scheduler " + s + " was shut down while this"
          + " fiber was alive");
    }

    @Override
    public String toString() {
      return loop.toString();
    }
  }

  /**
   * The shared scheduler of one loop, as {@link PicosNetty#scheduler(EventLoop)} answers it:
   * starts fibers on {@link #fibers} and refuses to be closed, since everyone using the loop
   * shares it; it closes itself when the loop shuts down.
   */
  static final class Shared implements Scheduler {
    final EventExecutor loop;
    final ExecutorScheduler fibers;

    Shared(EventExecutor loop) {
      this.loop = loop;
      LoopExecutor lane = new LoopExecutor(loop);
      fibers = ExecutorScheduler.builder(lane)
          .name("PicosNetty.scheduler(" + loop + ")")
          .timer(timerOf(loop))
          .build();
      lane.owner = fibers;
      // The loop holds this through the watch: as long as it lives, this does. Never removed.
      closeOnShutdown(loop, fibers, this);
    }

    @Override
    public <T> Computation<T> start(Callable<T> main) {
      return fibers.start(main);
    }

    @Override
    public void spawn(Fiber fiber, Runnable main) {
      fibers.spawn(fiber, main);
    }

    /** Refused: see {@link PicosNetty#scheduler(EventLoop)}. */
    @Override
    public void close() {
      throw new UnsupportedOperationException("PicosNetty.scheduler(" + loop + ") is shared by"
          + " everyone using this event loop and cannot be closed; it closes itself when the loop"
          + " shuts down. For a scheduler of your own to close, use PicosNetty.newScheduler(loop).");
    }

    @Override
    public boolean isClosed() {
      return fibers.isClosed();
    }

    @Override
    public String toString() {
      return fibers.toString();
    }
  }

  /**
   * {@link PicosNetty#scheduler(EventLoopGroup)}: each new fiber goes to the shared scheduler of
   * the loop {@link #place} picks, and belongs to it for life; its children, spawned on its
   * loop, stay there too. Holds no fibers of its own, so it cannot be closed either.
   */
  static final class GroupView implements Scheduler {
    final EventLoopGroup group;

    GroupView(EventLoopGroup group) {
      this.group = group;
    }

    @Override
    public <T> Computation<T> start(Callable<T> main) {
      return forLoop(place(group)).fibers.start(main);
    }

    @Override
    public void spawn(Fiber fiber, Runnable main) {
      forLoop(place(group)).fibers.spawn(fiber, main);
    }

    /** Refused: see {@link PicosNetty#scheduler(EventLoopGroup)}. */
    @Override
    public void close() {
      throw new UnsupportedOperationException("PicosNetty.scheduler(" + group + ") is shared by"
          + " everyone using this event-loop group and cannot be closed; its fibers end when the"
          + " group shuts down. For a scheduler of your own to close, use"
          + " PicosNetty.newScheduler(group).");
    }

    /** Whether the group is shutting down: from then on its loops take no new fibers. */
    @Override
    public boolean isClosed() {
      return group.isShuttingDown();
    }

    @Override
    public String toString() {
      return "PicosNetty.scheduler(" + group + ")";
    }
  }
}
