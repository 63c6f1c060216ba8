package org.picos.bench.soak;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.sched.Schedulers;
import org.picos.std.structured.Control;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Mutex;
import org.picos.spi.Timer;

/**
 * The soak test: the interop workload run for a set duration, watching for leaks, lost
 * elements and throughput decay. Run by {@code benchmarks/soak}; writes {@code SOAK.md}.
 *
 * <h2>Workload</h2>
 * Nine hosts: the core's {@code fifo()}, {@code multi(2)}, {@code threadPerFiber()} and
 * {@code onExecutor(fixed pool)}, and the bridges' schedulers over a {@link ForkJoinPool}, a
 * Reactor {@code parallel()} scheduler, Rx {@code computation()}, a Netty NIO event-loop group
 * and a Vert.x instance. A few thousand worker fibers are spread over them. Each worker runs a
 * random number of rounds and then ends, starting its successor on a random host (so fibers
 * are steadily created and retired). A round is one of:
 * <ul>
 *   <li>a send to, or a receive from, one of the shared channels (bounded ones and a
 *       rendezvous one), under {@link Control#terminateAfter} with a deadline of a few
 *       milliseconds, which fires for a fraction of them;
 *   <li>a section under the shared {@link Mutex} (sometimes yielding inside it, so that others
 *       queue), half of them under a deadline as well;
 *   <li>a computation started on another host and awaited, with
 *       {@link Computation#cancelAfter} set shorter than the slow fraction of them takes.
 * </ul>
 * Every element sent is counted (and summed) when its send returns, every element received
 * when its receive returns; a send or receive cut by its deadline moved nothing. At the end the
 * workers are told to stop (all their waits are bounded, so they all end soon), the channels
 * are drained, and the counts and sums must match exactly. The mutex guards a plain counter
 * that must equal the number of sections entered.
 *
 * <h2>Measurements and verdicts</h2>
 * Every interval (a minute by default) the main thread records the rounds completed, the
 * timeouts fired, the fibers started, the heap used after a full collection
 * ({@link System#gc()}, then {@link MemoryMXBean}) and the number of live platform threads.
 * The first interval is a warm-up. The run passes when the heap after GC of the last interval
 * is within 10% of the first measured one, no measured interval's throughput is below half of
 * the median, nothing was lost, the mutex excluded, no fiber failed unexpectedly and every
 * fiber ended when told to.
 *
 * <h2>Threading</h2>
 * Counters are {@link LongAdder}s updated by the fibers; the main thread reads and resets them
 * once per interval, so an interval's figures may include a round or two of the next one.
 */
public final class Soak {
  /** The cause of a cross-host wait cut by its deadline (stackless, shared). */
  private static final Control.Terminate REMOTE_TIMEOUT =
      new Control.Terminate("soak: the cross-host computation passed its deadline");
  /** A slow remote computation sleeps this long; the cross-host deadline is shorter. */
  private static final Duration REMOTE_SLOW = Duration.ofMillis(6);
  private static final Duration REMOTE_DEADLINE = Duration.ofMillis(3);
  private static final double HEAP_TOLERANCE = 0.10;
  private static final double THROUGHPUT_FLOOR = 0.5;

  /** The command line: see {@link #USAGE}. */
  record Options(double minutes, int intervalSeconds, int fibers, long seed, Path out) {
    static Options parse(String[] args) {
      double minutes = 10;
      int interval = 60;
      int fibers = 3000;
      long seed = 1;
      Path out = Path.of("SOAK.md");
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        if (arg.equals("--help")) {
          throw new IllegalArgumentException(USAGE);
        }
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("missing value after " + arg + "\n" + USAGE);
        }
        String value = args[++i];
        switch (arg) {
          case "--minutes" -> minutes = Double.parseDouble(value);
          case "--interval-seconds" -> interval = Integer.parseInt(value);
          case "--fibers" -> fibers = Integer.parseInt(value);
          case "--seed" -> seed = Long.parseLong(value);
          case "--out" -> out = Path.of(value);
          default -> throw new IllegalArgumentException("unknown option " + arg + "\n" + USAGE);
        }
      }
      if (!(minutes > 0) || interval <= 0 || fibers <= 0) {
        throw new IllegalArgumentException(
            "--minutes, --interval-seconds and --fibers must be positive\n" + USAGE);
      }
      return new Options(minutes, interval, fibers, seed, out);
    }
  }

  private static final String USAGE = "usage: Soak [--minutes N (10)] [--interval-seconds S (60)]"
      + " [--fibers F (3000)] [--seed L (1)] [--out FILE (SOAK.md)]";

  /** A host: its Picos scheduler and how to stop what it runs on. */
  private record Host(String name, Scheduler scheduler, Stopper stop) {}

  @FunctionalInterface
  private interface Stopper {
    void stop() throws Exception;
  }

  /** One interval's figures. */
  private record Interval(int index, double seconds, long rounds, long timeouts, long sent,
      long received, long started, long heapAfterGc, int threads, int liveFibers) {
    double roundsPerSecond() {
      return rounds / seconds;
    }
  }

  /** A check and its outcome. */
  record Verdict(String check, boolean passed, String detail) {}

  private final Options options;
  private final List<Host> hosts = new ArrayList<>();
  private final List<Channel<Long>> channels = List.of(
      Channel.bounded(16), Channel.bounded(64), Channel.bounded(256), Channel.rendezvous());
  private final Mutex mutex = new Mutex();
  /** Guarded by {@link #mutex}; must end equal to {@link #sections}. */
  private long guarded;

  private final LongAdder rounds = new LongAdder();
  private final LongAdder timeouts = new LongAdder();
  private final LongAdder started = new LongAdder();
  private final LongAdder sent = new LongAdder();
  private final LongAdder sentSum = new LongAdder();
  private final LongAdder received = new LongAdder();
  private final LongAdder receivedSum = new LongAdder();
  private final LongAdder sections = new LongAdder();
  private final LongAdder totalSent = new LongAdder();
  private final LongAdder totalReceived = new LongAdder();
  private final LongAdder totalRounds = new LongAdder();
  private final LongAdder totalTimeouts = new LongAdder();
  private final LongAdder totalStarted = new LongAdder();
  private final AtomicInteger liveWorkers = new AtomicInteger();
  private final AtomicInteger liveRemotes = new AtomicInteger();
  private final LongAdder failures = new LongAdder();
  private final ConcurrentLinkedQueue<Throwable> firstFailures = new ConcurrentLinkedQueue<>();
  private volatile boolean stopping;

  Soak(Options options) {
    this.options = options;
  }

  /**
   * Runs the soak with the options on the command line (see the class comment; {@code --help}
   * lists them), writes the report and exits the JVM: status 0 when every check passed, 1 when
   * one failed, 2 for a bad command line.
   *
   * @param args {@code --minutes N}, {@code --interval-seconds S}, {@code --fibers F},
   *     {@code --seed L}, {@code --out FILE}
   * @throws IOException if the report cannot be written
   */
  public static void main(String[] args) throws IOException {
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    List<Verdict> verdicts = new Soak(options).run();
    System.exit(verdicts.stream().allMatch(Verdict::passed) ? 0 : 1);
  }

  // ---------------------------------------------------------------------------------------
  // The run

  /** Runs the workload, closes the hosts, writes the report; returns every check's verdict. */
  List<Verdict> run() throws IOException {
    Set<Thread> threadsBefore = Thread.getAllStackTraces().keySet();
    startHosts();
    Instant began = Instant.now();
    say("soak: %d fibers on %d hosts for %s min, reporting every %d s; hosts: %s",
        options.fibers, hosts.size(), options.minutes, options.intervalSeconds,
        hosts.stream().map(Host::name).collect(Collectors.joining(", ")));
    SplittableRandom seeds = new SplittableRandom(options.seed);
    for (int i = 0; i < options.fibers; i++) {
      spawnWorker(hosts.get(i % hosts.size()), seeds.nextLong());
    }

    List<Interval> intervals = new ArrayList<>();
    long end = System.nanoTime() + (long) (options.minutes * 60e9);
    long intervalNanos = TimeUnit.SECONDS.toNanos(options.intervalSeconds);
    long last = System.nanoTime();
    while (last < end) {
      long next = Math.min(end, last + intervalNanos);
      sleepUntil(next);
      long now = System.nanoTime();
      Interval interval = measure(intervals.size() + 1, (now - last) / 1e9);
      intervals.add(interval);
      say("interval %2d: %,10d rounds (%,9.0f/s), %,8d timeouts, %,9d sent, %,9d received,"
          + " %,7d fibers started, heap after GC %6.1f MiB, %3d threads, %d live workers",
          interval.index, interval.rounds, interval.roundsPerSecond(), interval.timeouts,
          interval.sent, interval.received, interval.started, mib(interval.heapAfterGc),
          interval.threads, interval.liveFibers);
      last = now;
    }

    List<Verdict> verdicts = new ArrayList<>();
    verdicts.add(stopWorkers());
    verdicts.add(drainAndCount());
    verdicts.add(new Verdict("mutual exclusion", guarded == sections.sum(),
        String.format("%,d sections entered under the mutex, guarded counter %,d",
            sections.sum(), guarded)));
    verdicts.add(new Verdict("no fiber failed", failures.sum() == 0,
        failures.sum() == 0 ? "no unexpected exception in any fiber"
            : failures.sum() + " unexpected exceptions, first: " + firstFailures));
    verdicts.add(heapVerdict(intervals));
    verdicts.add(throughputVerdict(intervals));
    verdicts.add(shutdownHosts(threadsBefore));
    Instant ended = Instant.now();

    boolean passed = verdicts.stream().allMatch(Verdict::passed);
    for (Verdict v : verdicts) {
      say("%s %s: %s", v.passed ? "PASS" : "FAIL", v.check, v.detail);
    }
    writeReport(began, ended, intervals, verdicts, passed);
    say("soak: %s; report written to %s", passed ? "passed" : "FAILED", options.out);
    return verdicts;
  }

  private static void sleepUntil(long deadline) {
    for (long left; (left = deadline - System.nanoTime()) > 0; ) {
      try {
        TimeUnit.NANOSECONDS.sleep(left);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private Interval measure(int index, double seconds) {
    long r = rounds.sumThenReset();
    long t = timeouts.sumThenReset();
    long s = sent.sumThenReset();
    long v = received.sumThenReset();
    long f = started.sumThenReset();
    totalRounds.add(r);
    totalTimeouts.add(t);
    totalSent.add(s);
    totalReceived.add(v);
    totalStarted.add(f);
    return new Interval(index, seconds, r, t, s, v, f, heapAfterGc(),
        ManagementFactory.getThreadMXBean().getThreadCount(), liveWorkers.get());
  }

  /** Heap used right after a full collection (two, so that finalizable leftovers go too). */
  private static long heapAfterGc() {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    System.gc();
    System.gc();
    return memory.getHeapMemoryUsage().getUsed();
  }

  // ---------------------------------------------------------------------------------------
  // Hosts

  private void startHosts() {
    ExecutorService fixed = Executors.newFixedThreadPool(2, daemon("soak-fixed-"));
    ForkJoinPool forkJoin = new ForkJoinPool(2, pool -> {
      ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
      t.setName("soak-forkjoin-" + t.getPoolIndex());
      return t;
    }, null, false);
    MultiThreadIoEventLoopGroup group =
        new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    Vertx vertx = Vertx.vertx();
    hosts.add(new Host("Schedulers.fifo()", Schedulers.fifo(), () -> {}));
    hosts.add(new Host("Schedulers.multi(2)", Schedulers.multi(2), () -> {}));
    hosts.add(new Host("Schedulers.threadPerFiber()", Schedulers.threadPerFiber(), () -> {}));
    hosts.add(new Host("Schedulers.onExecutor(fixed pool of 2)", Schedulers.onExecutor(fixed),
        () -> terminate(fixed)));
    hosts.add(new Host("PicosFutures.newScheduler(ForkJoinPool(2))", PicosFutures.newScheduler(forkJoin),
        () -> terminate(forkJoin)));
    hosts.add(new Host("PicosReactor.newScheduler(parallel())",
        PicosReactor.newScheduler(reactor.core.scheduler.Schedulers.parallel()),
        reactor.core.scheduler.Schedulers::shutdownNow));
    hosts.add(new Host("PicosRx.newScheduler(computation())",
        PicosRx.newScheduler(io.reactivex.rxjava3.schedulers.Schedulers.computation()),
        io.reactivex.rxjava3.schedulers.Schedulers::shutdown));
    hosts.add(new Host("PicosNetty.newScheduler(NIO group of 2)", PicosNetty.newScheduler(group),
        () -> group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync()));
    hosts.add(new Host("PicosVertx.newScheduler(vertx)", PicosVertx.newScheduler(vertx),
        () -> vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS)));
  }

  private static ThreadFactory daemon(String prefix) {
    AtomicInteger ids = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + ids.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  private static void terminate(ExecutorService executor) throws InterruptedException {
    executor.shutdown();
    if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException(executor + " did not terminate within 30 s");
    }
  }

  /** Closes every Picos scheduler, then what it runs on; checks that the threads went away. */
  private Verdict shutdownHosts(Set<Thread> threadsBefore) {
    List<String> problems = new ArrayList<>();
    for (Host host : hosts) {
      try {
        host.scheduler.close();
        host.stop.stop();
      } catch (Exception e) {
        problems.add(host.name + ": " + e);
      }
    }
    // Threads that the JVM, Netty or Vert.x end asynchronously get a moment to go.
    List<Thread> left = List.of();
    for (int i = 0; i < 100; i++) {
      left = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.isAlive() && !threadsBefore.contains(t) && !jvmWide(t)).toList();
      if (left.isEmpty()) {
        break;
      }
      sleepUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100));
    }
    Set<Thread> after = Thread.getAllStackTraces().keySet();
    List<String> kept = after.stream().filter(t -> !threadsBefore.contains(t) && jvmWide(t))
        .map(Thread::getName).sorted().toList();
    if (!left.isEmpty()) {
      problems.add("threads started since and still running after 10 s: " + left.stream()
          .map(t -> t.getName() + (t.isDaemon() ? " (daemon)" : "")).sorted().toList());
    }
    return new Verdict("clean shutdown", problems.isEmpty(), String.format(
        "%s; %d platform threads before the hosts started, %d after they stopped"
            + " (JVM-wide daemons that stay: %s)",
        problems.isEmpty() ? "every host closed, none of its threads left" : problems,
        threadsBefore.size(), after.size(), kept));
  }

  /**
   * Whether {@code t} is one of the JVM-wide daemon threads that outlive every host by design:
   * the virtual threads' carrier pool and unblocker (of {@code threadPerFiber()}), the JDK's
   * cleaner, the core's shared timer ({@code Timer.shared()}) and the blocked-carrier
   * detector's watchdog (one per JVM, started on the first mount). Every thread of the
   * hosts themselves has a name outside this list (the soak's own pools are named
   * {@code soak-*}).
   */
  private static boolean jvmWide(Thread t) {
    String name = t.getName();
    return t.isDaemon() && (name.startsWith("ForkJoinPool-") || name.startsWith("Cleaner-")
        || name.equals("VirtualThread-unblocker") || name.equals("picos-timer")
        || name.equals("picos-blocked-carrier-watchdog"));
  }

  // ---------------------------------------------------------------------------------------
  // Workers

  private void spawnWorker(Host host, long seed) {
    liveWorkers.incrementAndGet();
    started.increment();
    try {
      host.scheduler.start(() -> {
        work(seed);
        return null;
      });
    } catch (RuntimeException e) {
      liveWorkers.decrementAndGet();
      if (!(stopping && e instanceof SchedulerClosedException)) {
        fail(e);
      }
    }
  }

  /** A worker's life: its rounds, then its successor on a random host. */
  private void work(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int life = 50 + rnd.nextInt(450);
    try {
      for (int i = 0; i < life && !stopping; i++) {
        round(rnd);
        rounds.increment();
      }
    } catch (SchedulerClosedException e) {
      if (!stopping) {
        fail(e);
      }
    } catch (Throwable t) {
      fail(t);
    } finally {
      liveWorkers.decrementAndGet();
      if (!stopping) {
        spawnWorker(hosts.get(rnd.nextInt(hosts.size())), rnd.nextLong());
      }
    }
  }

  private void round(SplittableRandom rnd) {
    int kind = rnd.nextInt(8);
    if (kind < 3) {
      Channel<Long> channel = channels.get(rnd.nextInt(channels.size()));
      long item = 1 + rnd.nextInt(1_000_000);
      if (withDeadline(rnd, () -> {
        channel.send(item);
        return Boolean.TRUE;
      }) != null) {
        sent.increment();
        sentSum.add(item);
      }
    } else if (kind < 6) {
      Channel<Long> channel = channels.get(rnd.nextInt(channels.size()));
      Long item = withDeadline(rnd, channel::receive);
      if (item != null) {
        received.increment();
        receivedSum.add(item);
      }
    } else if (kind == 6) {
      boolean yieldInside = rnd.nextInt(4) == 0;
      Callable<Boolean> section = () -> mutex.protect(() -> {
        guarded++;
        sections.increment();
        if (yieldInside) {
          Fiber.yield();
        }
        return Boolean.TRUE;
      });
      if (rnd.nextBoolean()) {
        withDeadline(rnd, section);
      } else {
        call(section);
      }
    } else {
      remote(rnd);
    }
  }

  /** Runs {@code body} under a deadline of 1 to 8 ms; null (and counted) if it fired. */
  private <T> T withDeadline(SplittableRandom rnd, Callable<T> body) {
    try {
      return Control.terminateAfter(Duration.ofMillis(1 + rnd.nextInt(8)), body);
    } catch (Control.Timeout e) {
      timeouts.increment();
      return null;
    }
  }

  private static <T> T call(Callable<T> body) {
    try {
      return body.call();
    } catch (Exception e) {
      throw Computation.unchecked(e);
    }
  }

  /** Awaits a computation on a random host, cut by {@link Computation#cancelAfter}. */
  private void remote(SplittableRandom rnd) {
    Host other = hosts.get(rnd.nextInt(hosts.size()));
    boolean slow = rnd.nextInt(6) == 0;
    long value = rnd.nextLong();
    liveRemotes.incrementAndGet();
    Computation<Long> result;
    try {
      result = other.scheduler.start(() -> {
        try {
          if (slow) {
            Control.sleep(REMOTE_SLOW);
          } else {
            Fiber.yield();
          }
          return value;
        } finally {
          liveRemotes.decrementAndGet();
        }
      });
    } catch (RuntimeException e) {
      liveRemotes.decrementAndGet();
      throw e;
    }
    result.cancelAfter(REMOTE_DEADLINE, REMOTE_TIMEOUT);
    try {
      long got = result.await();
      if (got != value) {
        fail(new AssertionError("a remote computation returned " + got + ", not " + value));
      }
    } catch (Control.Terminate e) {
      if (e != REMOTE_TIMEOUT) {
        throw e;
      }
      timeouts.increment();
    }
  }

  private void fail(Throwable t) {
    failures.increment();
    if (firstFailures.size() < 5) {
      firstFailures.add(t);
      t.printStackTrace();
    }
  }

  // ---------------------------------------------------------------------------------------
  // The end

  /** Tells the workers to stop and waits for them (and their remote computations) to end. */
  private Verdict stopWorkers() {
    stopping = true;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while ((liveWorkers.get() > 0 || liveRemotes.get() > 0) && System.nanoTime() < deadline) {
      sleepUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20));
    }
    // Rounds completed after the last interval still count towards the totals.
    totalRounds.add(rounds.sumThenReset());
    totalTimeouts.add(timeouts.sumThenReset());
    totalSent.add(sent.sumThenReset());
    totalReceived.add(received.sumThenReset());
    totalStarted.add(started.sumThenReset());
    int workers = liveWorkers.get();
    int remotes = liveRemotes.get();
    return new Verdict("every fiber ended", workers == 0 && remotes == 0, String.format(
        "%,d workers started in all, %,d rounds; when told to stop, %s",
        totalStarted.sum(), totalRounds.sum(), workers == 0 && remotes == 0
            ? "all ended within 60 s"
            : workers + " workers and " + remotes + " remote computations still live after 60 s"));
  }

  /** Drains the channels and compares what was sent with what was received. */
  private Verdict drainAndCount() {
    long drained = 0;
    long drainedSum = 0;
    for (Channel<Long> channel : channels) {
      for (Optional<Long> item; (item = channel.tryReceive()).isPresent(); ) {
        drained++;
        drainedSum += item.get();
      }
      channel.close();
    }
    long s = totalSent.sum();
    long r = totalReceived.sum();
    boolean ok = s == r + drained && sentSum.sum() == receivedSum.sum() + drainedSum;
    return new Verdict("nothing lost", ok, String.format(
        "%,d elements sent (sum %,d); %,d received + %,d left in the channels = %,d (sum %,d)",
        s, sentSum.sum(), r, drained, r + drained, receivedSum.sum() + drainedSum));
  }

  private static List<Interval> measured(List<Interval> intervals) {
    return intervals.size() > 1 ? intervals.subList(1, intervals.size()) : intervals;
  }

  private static Verdict heapVerdict(List<Interval> intervals) {
    List<Interval> m = measured(intervals);
    if (m.size() < 2) {
      return new Verdict("heap flat", false,
          "needs at least two intervals after the warm-up; run longer or shorten the interval");
    }
    long first = m.get(0).heapAfterGc;
    long last = m.get(m.size() - 1).heapAfterGc;
    double change = (double) (last - first) / first;
    return new Verdict("heap flat", Math.abs(change) <= HEAP_TOLERANCE, String.format(
        "heap after GC %.1f MiB in interval %d, %.1f MiB in interval %d: %+.1f%% (limit ±%.0f%%)",
        mib(first), m.get(0).index, mib(last), m.get(m.size() - 1).index, change * 100,
        HEAP_TOLERANCE * 100));
  }

  private static Verdict throughputVerdict(List<Interval> intervals) {
    List<Interval> m = measured(intervals);
    double[] rates = m.stream().mapToDouble(Interval::roundsPerSecond).sorted().toArray();
    if (rates.length == 0) {
      return new Verdict("throughput steady", false, "no interval was measured");
    }
    double median = rates.length % 2 == 1 ? rates[rates.length / 2]
        : (rates[rates.length / 2 - 1] + rates[rates.length / 2]) / 2;
    Interval lowest = m.stream()
        .min((a, b) -> Double.compare(a.roundsPerSecond(), b.roundsPerSecond())).orElseThrow();
    boolean ok = lowest.roundsPerSecond() >= THROUGHPUT_FLOOR * median;
    return new Verdict("throughput steady", ok, String.format(
        "median %,.0f rounds/s; lowest %,.0f/s in interval %d (%.0f%% of the median, floor %.0f%%)",
        median, lowest.roundsPerSecond(), lowest.index,
        100 * lowest.roundsPerSecond() / median, THROUGHPUT_FLOOR * 100));
  }

  // ---------------------------------------------------------------------------------------
  // The report

  private void writeReport(Instant began, Instant ended, List<Interval> intervals,
      List<Verdict> verdicts, boolean passed) throws IOException {
    DateTimeFormatter utc = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
        .withZone(ZoneOffset.UTC);
    String gcs = ManagementFactory.getGarbageCollectorMXBeans().stream()
        .map(GarbageCollectorMXBean::getName).collect(Collectors.joining(", "));
    StringBuilder md = new StringBuilder();
    md.append("# Soak run\n\n")
        .append("Written by `benchmarks/soak` (`org.picos.bench.soak.Soak`); see benchmarks/README.md.\n\n")
        .append("- Result: **").append(passed ? "passed" : "FAILED").append("**\n")
        .append("- Date: ").append(utc.format(began)).append(" to ").append(utc.format(ended))
        .append('\n')
        .append("- JDK: ").append(System.getProperty("java.vm.name")).append(' ')
        .append(Runtime.version()).append(" (").append(System.getProperty("java.vendor"))
        .append(")\n")
        .append("- Machine: ").append(Runtime.getRuntime().availableProcessors())
        .append(" cores, ").append(System.getProperty("os.name")).append(' ')
        .append(System.getProperty("os.arch")).append("; max heap ")
        .append(String.format("%.0f MiB", mib(Runtime.getRuntime().maxMemory())))
        .append(", GC: ").append(gcs).append('\n')
        .append("- Run: ").append(options.minutes).append(" min, intervals of ")
        .append(options.intervalSeconds).append(" s, ").append(options.fibers)
        .append(" worker fibers, seed ").append(options.seed).append('\n')
        .append("- Hosts: ").append(hosts.stream().map(h -> "`" + h.name + "`")
            .collect(Collectors.joining(", "))).append("\n\n")
        .append("Each round is a channel send or receive under `Control.terminateAfter` (1-8 ms),"
            + " a `Mutex` section (half under a deadline), or a computation started on a random"
            + " host and awaited with `cancelAfter(3 ms)` (one in six sleeps 6 ms). Workers live"
            + " 50-499 rounds and then start their successor on a random host. Interval 1 is the"
            + " warm-up; heap is measured after `System.gc()`; threads are live platform"
            + " threads (the virtual threads of `threadPerFiber()` are not counted).\n\n")
        .append("| Interval | Seconds | Rounds | Rounds/s | Timeouts | Sent | Received |"
            + " Fibers started | Heap after GC (MiB) | Threads | Live workers |\n")
        .append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Interval i : intervals) {
      md.append(String.format("| %d%s | %.1f | %,d | %,.0f | %,d | %,d | %,d | %,d | %.1f | %d | %d |%n",
          i.index, i.index == 1 && intervals.size() > 1 ? " (warm-up)" : "", i.seconds, i.rounds,
          i.roundsPerSecond(), i.timeouts, i.sent, i.received, i.started, mib(i.heapAfterGc),
          i.threads, i.liveFibers));
    }
    md.append(String.format("%nTotals: %,d rounds, %,d timeouts fired, %,d worker fibers started.%n%n",
        totalRounds.sum(), totalTimeouts.sum(), totalStarted.sum()));
    md.append("## Verdicts\n\n| Check | Result | Detail |\n|---|---|---|\n");
    for (Verdict v : verdicts) {
      md.append("| ").append(v.check).append(" | ").append(v.passed ? "pass" : "**FAIL**")
          .append(" | ").append(v.detail.replace("|", "\\|")).append(" |\n");
    }
    Path parent = options.out.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(options.out, md.toString());
  }

  private static double mib(long bytes) {
    return bytes / (1024.0 * 1024.0);
  }

  private static void say(String format, Object... args) {
    System.out.println(String.format(format, args));
    System.out.flush();
  }
}
