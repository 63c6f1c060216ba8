package org.picos.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.exceptions.UndeliverableException;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.netty.FiberChannel;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.sched.Schedulers;
import org.picos.tck.ShutdownScenario;
import org.picos.tck.UncaughtFailures;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;

/**
 * The shutdown matrix: every host of this project, stopped every way it can be stopped, while
 * fibers wait in every kind of scope and wait at once (the std waits of {@link ShutdownScenario},
 * Reactor and RxJava awaits, tasks of {@code asReactorScheduler}/{@code asRxScheduler} that
 * await, and for Netty a channel's fiber in {@code read()} and one in {@code write()}), each
 * fiber's computation carrying a completion callback that throws.
 *
 * <p>Each case checks what a stop promises: the stop returns within a bound; every fiber ends
 * exactly once, with a {@link SchedulerClosedException} naming the stop (or its normal result
 * where one is allowed); every protected cleanup completes; no channel element is lost; the
 * scheduler is closed and a later {@code close()} returns; each injected callback failure reaches
 * the uncaught-exception handler exactly once and nothing else does; and no thread of the host is
 * left once the host was stopped (or, for the schedulers that own their threads, closed).
 *
 * <p>Stops: {@code Scheduler.close()} everywhere; the host's graceful shutdown and its forced one
 * where they exist. Closing a bridge's scheduler leaves its host running (it belongs to the
 * caller), so its threads are not checked then, and the Netty channels' fibers, which belong to
 * the loop rather than to the closed scheduler, join only the cases that stop the loop.
 *
 * <p>To replay: {@code -Dpicos.matrix.repeat=N} runs every case N times in one JVM, and
 * {@code -Dpicos.matrix.skip=REGEX} leaves out the host kinds whose name matches.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ShutdownMatrixTest {
  private static final AtomicInteger IDS = new AtomicInteger();

  enum Stop {
    CLOSE, GRACEFUL, FORCED
  }

  /** A kind of host: its name, how each of its stops is called, and how to make one. */
  record Kind(String name, Map<Stop, String> stops, Supplier<Rig> make) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> cases() {
    int repeat = Integer.getInteger("picos.matrix.repeat", 1);
    Pattern skip = Pattern.compile(System.getProperty("picos.matrix.skip", "$^"));
    List<Kind> kinds = kinds().stream().filter(k -> !skip.matcher(k.name()).find()).toList();
    return IntStream.range(0, repeat).boxed().flatMap(round -> kinds.stream())
        .flatMap(k -> k.stops().entrySet().stream().map(e -> Arguments.of(k, e.getKey(), e.getValue())));
  }

  @ParameterizedTest(name = "{0} stopped by {2}")
  @MethodSource("cases")
  void everyFiberEndsOnceAndNothingIsLost(Kind kind, Stop stop, String how) throws Exception {
    List<Throwable> rxErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Throwable> reactorDropped = new java.util.concurrent.CopyOnWriteArrayList<>();
    RxJavaPlugins.setErrorHandler(rxErrors::add);
    Hooks.onErrorDropped(reactorDropped::add);
    try (UncaughtFailures uncaught = UncaughtFailures.capture(); Rig rig = kind.make().get()) {
      Scheduler s = rig.scheduler;
      ShutdownScenario scenario = new ShutdownScenario(s).injectingCallbackFailures().parkStdWaits();
      parkInBridges(scenario, s);
      if (stop != Stop.CLOSE) {
        rig.parkOnHost(scenario);
      }
      scenario.awaitParked();

      ShutdownScenario.withinBound(how + " of " + kind, ShutdownScenario.BOUND, () -> {
        if (stop == Stop.CLOSE) {
          s.close();
        } else {
          rig.stopHost(stop);
        }
      });
      scenario.checkEnded(stop == Stop.CLOSE ? "closed" : rig.why);
      assertTrue(s.isClosed(), s + " is closed after " + how);
      if (rig.shared) {
        assertThrows(UnsupportedOperationException.class, s::close, "a host's shared scheduler cannot be closed");
      } else {
        ShutdownScenario.withinBound("close() of " + s + " after " + how, ShutdownScenario.BOUND, s::close);
      }
      scenario.checkInjectedReported(uncaught);
      if (stop != Stop.CLOSE || rig.ownsThreads) {
        assertNoThreadLeft(kind + " after " + how, rig.hostThreads, scenario.threads());
      }
      assertEquals(List.of(), uncaught.others(), "failures reported besides the injected ones");
      List<Throwable> unexpectedRx = rxErrors.stream().filter(e -> !isRefusal(e)).toList();
      assertEquals(List.of(), unexpectedRx, "RxJava errors besides refused tasks");
      assertEquals(List.of(), reactorDropped, "errors dropped by Reactor");
    } finally {
      RxJavaPlugins.setErrorHandler(null);
      Hooks.resetOnErrorDropped();
    }
  }

  /** Rx reports each task a shut-down executor refuses; the bridge takes that as the shutdown. */
  private static boolean isRefusal(Throwable e) {
    Throwable cause = e instanceof UndeliverableException ? e.getCause() : e;
    return cause instanceof RejectedExecutionException;
  }

  /** Waits in the Reactor and RxJava bridges, on any host. */
  private static void parkInBridges(ShutdownScenario scenario, Scheduler s) {
    AtomicBoolean monoSubscribed = new AtomicBoolean();
    scenario.start("PicosReactor.await(Mono.never())", monoSubscribed::get,
        () -> PicosReactor.await(Mono.never().doOnSubscribe(x -> monoSubscribed.set(true))));
    AtomicBoolean singleSubscribed = new AtomicBoolean();
    scenario.start("PicosRx.await(Single.never())", singleSubscribed::get,
        () -> PicosRx.await(Single.never().doOnSubscribe(x -> singleSubscribed.set(true))));

    AtomicBoolean taskSubscribed = new AtomicBoolean();
    ShutdownScenario.Member reactorTask = scenario.member(
        "task on PicosReactor.asReactorScheduler awaiting a Mono", taskSubscribed::get, false);
    PicosReactor.asReactorScheduler(s).schedule(() -> reactorTask.runRecorded(
        () -> PicosReactor.await(Mono.never().doOnSubscribe(x -> taskSubscribed.set(true)))));
    AtomicBoolean rxTaskSubscribed = new AtomicBoolean();
    ShutdownScenario.Member rxTask = scenario.member(
        "task on PicosRx.asRxScheduler awaiting a Single", rxTaskSubscribed::get, false);
    PicosRx.asRxScheduler(s).scheduleDirect(() -> rxTask.runRecorded(
        () -> PicosRx.await(Single.never().doOnSubscribe(x -> rxTaskSubscribed.set(true)))));
  }

  /** Fails unless every thread of the host, and every thread a fiber ran on, has ended. */
  private static void assertNoThreadLeft(String what, Predicate<Thread> hostThreads, Set<Thread> seen) {
    long deadline = System.nanoTime() + ShutdownScenario.BOUND.toNanos();
    List<String> alive;
    do {
      alive = Stream.concat(seen.stream(), Thread.getAllStackTraces().keySet().stream().filter(hostThreads))
          .distinct()
          .filter(t -> t.isAlive() && !isShared(t))
          .map(Thread::getName)
          .toList();
      if (alive.isEmpty()) {
        return;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    } while (System.nanoTime() < deadline);
    fail(what + ": threads of the host are still running: " + alive);
  }

  /** The core's shared threads, on which fibers of a host that went away unwind. */
  private static boolean isShared(Thread t) {
    return t.getName().equals("picos-orphans") || t.getName().equals("picos-timer");
  }

  // ---------------------------------------------------------------------------------------
  // The hosts

  /** A host made for one case: its scheduler, how to stop it, and what is left to release. */
  abstract static class Rig implements AutoCloseable {
    final String prefix = "matrix-" + IDS.incrementAndGet();
    Scheduler scheduler;
    /** A fragment of the cancellation message of a host shutdown. */
    String why = "shut down";
    /** Whether close() of the scheduler ends the host's threads (it owns them). */
    boolean ownsThreads;
    /**
     * Whether the scheduler is the host's shared one, which only the host's shutdown closes (its
     * own close() refuses); such a kind has no {@link Stop#CLOSE} case.
     */
    boolean shared;
    /** Recognises the host's threads. */
    Predicate<Thread> hostThreads = t -> t.getName().startsWith(prefix + "-");

    /** Stops the host the given way and waits until it has terminated. */
    void stopHost(Stop stop) throws Exception {
      throw new UnsupportedOperationException(stop.toString());
    }

    /** Parks host-specific members (for Netty, channels' fibers); only for host stops. */
    void parkOnHost(ShutdownScenario scenario) throws Exception {}

    /** Stops whatever the case left running. */
    void release() throws Exception {}

    ThreadFactory threads() {
      AtomicInteger n = new AtomicInteger();
      return r -> {
        Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
        t.setDaemon(true);
        return t;
      };
    }

    @Override
    public void close() throws Exception {
      release();
      if (!shared) {
        ShutdownScenario.withinBound("cleanup close() of " + scheduler, Duration.ofSeconds(5), scheduler::close);
      }
    }
  }

  private static Map<Stop, String> stops(Object... pairs) {
    Map<Stop, String> m = hostStops(pairs);
    Map<Stop, String> all = new LinkedHashMap<>();
    all.put(Stop.CLOSE, "Scheduler.close()");
    all.putAll(m);
    return all;
  }

  /** The stops of a host's shared scheduler: the host's own only. */
  private static Map<Stop, String> hostStops(Object... pairs) {
    Map<Stop, String> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      m.put((Stop) pairs[i], (String) pairs[i + 1]);
    }
    return m;
  }

  static List<Kind> kinds() {
    return List.of(
        new Kind("fifo", stops(), () -> owning(Schedulers.fifo(), true)),
        new Kind("multi(2)", stops(), () -> owning(Schedulers.multi(2), false)),
        new Kind("threadPerFiber", stops(), () -> {
          Rig rig = new Rig() {};
          rig.scheduler = Schedulers.threadPerFiber(Thread.ofVirtual().name(rig.prefix + "-", 0).factory());
          rig.ownsThreads = true;
          return rig;
        }),
        new Kind("Schedulers.onExecutor(fixed pool)",
            stops(Stop.GRACEFUL, "pool.shutdown()", Stop.FORCED, "pool.shutdownNow()"),
            () -> pool(Schedulers::onExecutor)),
        new Kind("PicosFutures.scheduler(fixed pool)",
            hostStops(Stop.GRACEFUL, "pool.shutdown()", Stop.FORCED, "pool.shutdownNow()"),
            () -> shared(pool(PicosFutures::scheduler))),
        new Kind("PicosFutures.newScheduler(fixed pool)",
            stops(Stop.GRACEFUL, "pool.shutdown()", Stop.FORCED, "pool.shutdownNow()"),
            () -> pool(PicosFutures::newScheduler)),
        new Kind("PicosReactor.scheduler(newParallel(2))",
            hostStops(Stop.GRACEFUL, "disposeGracefully()", Stop.FORCED, "dispose()"),
            () -> shared(reactor(true, PicosReactor::scheduler))),
        new Kind("PicosReactor.newScheduler(newParallel(2))",
            stops(Stop.GRACEFUL, "disposeGracefully()", Stop.FORCED, "dispose()"),
            () -> reactor(true, PicosReactor::newScheduler)),
        new Kind("PicosReactor.newScheduler(newSingle())",
            stops(Stop.GRACEFUL, "disposeGracefully()", Stop.FORCED, "dispose()"),
            () -> reactor(false, PicosReactor::newScheduler)),
        new Kind("PicosRx.scheduler(Schedulers.from(fixed pool))",
            hostStops(Stop.GRACEFUL, "pool.shutdown()", Stop.FORCED, "pool.shutdownNow()"),
            () -> shared(rx(PicosRx::scheduler))),
        new Kind("PicosRx.newScheduler(Schedulers.from(fixed pool))",
            stops(Stop.GRACEFUL, "pool.shutdown()", Stop.FORCED, "pool.shutdownNow()"),
            () -> rx(PicosRx::newScheduler)),
        new Kind("PicosNetty.scheduler(loop)",
            hostStops(Stop.GRACEFUL, "shutdownGracefully()", Stop.FORCED, "shutdownGracefully(0, 0)"),
            () -> shared(netty(g -> PicosNetty.scheduler(g.next())))),
        new Kind("PicosNetty.scheduler(group)",
            hostStops(Stop.GRACEFUL, "shutdownGracefully()", Stop.FORCED, "shutdownGracefully(0, 0)"),
            () -> shared(netty(PicosNetty::scheduler))),
        new Kind("PicosNetty.newScheduler(loop)",
            stops(Stop.GRACEFUL, "shutdownGracefully()", Stop.FORCED, "shutdownGracefully(0, 0)"),
            () -> netty(g -> PicosNetty.newScheduler(g.next()))),
        new Kind("PicosNetty.newScheduler(group)",
            stops(Stop.GRACEFUL, "shutdownGracefully()", Stop.FORCED, "shutdownGracefully(0, 0)"),
            () -> netty(PicosNetty::newScheduler)),
        new Kind("PicosVertx.scheduler(context)", hostStops(Stop.GRACEFUL, "vertx.close()"),
            () -> shared(vertx(v -> PicosVertx.scheduler(v.getOrCreateContext())))),
        new Kind("PicosVertx.scheduler(vertx)", hostStops(Stop.GRACEFUL, "vertx.close()"),
            () -> shared(vertx(PicosVertx::scheduler))),
        new Kind("PicosVertx.newScheduler(context)", stops(Stop.GRACEFUL, "vertx.close()"),
            () -> vertx(v -> PicosVertx.newScheduler(v.getOrCreateContext()))),
        new Kind("PicosVertx.newScheduler(vertx)", stops(Stop.GRACEFUL, "vertx.close()"),
            () -> vertx(PicosVertx::newScheduler)));
  }

  /** Marks {@code rig}'s scheduler as its host's shared one. */
  private static Rig shared(Rig rig) {
    rig.shared = true;
    return rig;
  }

  /** A core scheduler that owns its threads, recognised by its name. */
  private static Rig owning(Scheduler s, boolean exactName) {
    Rig rig = new Rig() {};
    rig.scheduler = s;
    rig.ownsThreads = true;
    String name = s.toString();
    rig.hostThreads = exactName ? t -> t.getName().equals(name) : t -> t.getName().startsWith(name + "-");
    return rig;
  }

  private static Rig pool(java.util.function.Function<ExecutorService, Scheduler> make) {
    return new Rig() {
      final ExecutorService pool = Executors.newFixedThreadPool(2, threads());

      {
        scheduler = make.apply(pool);
      }

      @Override
      void stopHost(Stop stop) throws Exception {
        if (stop == Stop.FORCED) {
          pool.shutdownNow();
        } else {
          pool.shutdown();
        }
        assertTrue(pool.awaitTermination(ShutdownScenario.BOUND.toSeconds(), TimeUnit.SECONDS),
            "the pool terminates");
      }

      @Override
      void release() {
        pool.shutdownNow();
      }
    };
  }

  private static Rig reactor(boolean parallel,
      java.util.function.Function<reactor.core.scheduler.Scheduler, Scheduler> make) {
    return new Rig() {
      final reactor.core.scheduler.Scheduler host = parallel
          ? reactor.core.scheduler.Schedulers.newParallel(2, threads())
          : reactor.core.scheduler.Schedulers.newSingle(threads());

      {
        scheduler = make.apply(host);
      }

      @Override
      void stopHost(Stop stop) {
        if (stop == Stop.FORCED) {
          host.dispose();
        } else {
          host.disposeGracefully().block(ShutdownScenario.BOUND);
        }
      }

      @Override
      void release() {
        host.dispose();
      }
    };
  }

  private static Rig rx(java.util.function.Function<io.reactivex.rxjava3.core.Scheduler, Scheduler> make) {
    return new Rig() {
      final ExecutorService pool = Executors.newFixedThreadPool(2, threads());

      {
        scheduler = make.apply(io.reactivex.rxjava3.schedulers.Schedulers.from(pool));
      }

      @Override
      void stopHost(Stop stop) throws Exception {
        if (stop == Stop.FORCED) {
          pool.shutdownNow();
        } else {
          pool.shutdown();
        }
        assertTrue(pool.awaitTermination(ShutdownScenario.BOUND.toSeconds(), TimeUnit.SECONDS),
            "the pool terminates");
      }

      @Override
      void release() {
        pool.shutdownNow();
      }
    };
  }

  private static Rig netty(java.util.function.Function<EventLoopGroup, Scheduler> make) {
    return new Rig() {
      final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory(prefix),
          NioIoHandler.newFactory());
      final EventLoopGroup peers = new MultiThreadIoEventLoopGroup(1,
          new DefaultThreadFactory(prefix + "-peer-loops"), NioIoHandler.newFactory());

      {
        scheduler = make.apply(group);
        why = "shut"; // "shut down", or "shutting down" where a channel closed with its loop
        hostThreads = t -> t.getName().startsWith(prefix + "-") && !t.getName().startsWith(prefix + "-peer");
      }

      @Override
      void stopHost(Stop stop) {
        var terminated = stop == Stop.FORCED
            ? group.shutdownGracefully(0, 0, TimeUnit.SECONDS)
            : group.shutdownGracefully();
        assertTrue(terminated.awaitUninterruptibly(ShutdownScenario.BOUND.toMillis()), "the group terminates");
      }

      /**
       * Two loopback connections served by the host's loops, each with a fiber of its own: one
       * reads from a peer that sends nothing; one writes to a peer that does not read, so its
       * write suspends once the channel is not writable.
       */
      @Override
      void parkOnHost(ShutdownScenario scenario) {
        AtomicBoolean reading = new AtomicBoolean();
        // A channel's read ends the stream (returns null) when the channel closes with its loop.
        ShutdownScenario.Member reader = scenario.member("FiberChannel.read(), the peer sends nothing",
            reading::get, true);
        Channel readServer = serve(b -> {}, PicosNetty.fiberPerChannel(ch -> reader.run(() -> {
          reading.set(true);
          Object msg = ch.read();
          if (msg != null) {
            ReferenceCountUtil.release(msg);
            throw new AssertionError("read a message the peer never sent");
          }
          return "end of stream";
        })));
        connect(readServer, b -> {});

        AtomicReference<FiberChannel> writing = new AtomicReference<>();
        ShutdownScenario.Member writer = scenario.member("FiberChannel.write(), the peer does not read",
            () -> writing.get() != null && !writing.get().channel().isWritable(), false);
        Channel writeServer = serve(b -> b
                .childOption(ChannelOption.SO_SNDBUF, 4096)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(4096, 8192)),
            PicosNetty.fiberPerChannel(ch -> writer.run(() -> {
              writing.set(ch);
              for (;;) {
                ch.write(Unpooled.wrappedBuffer(new byte[16 * 1024]));
              }
            })));
        connect(writeServer, b -> b.option(ChannelOption.AUTO_READ, false).option(ChannelOption.SO_RCVBUF, 4096));
      }

      private Channel serve(java.util.function.Consumer<ServerBootstrap> options, io.netty.channel.ChannelHandler child) {
        ServerBootstrap b = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
            .childHandler(child);
        options.accept(b);
        return b.bind("127.0.0.1", 0).syncUninterruptibly().channel();
      }

      private void connect(Channel server, java.util.function.Consumer<Bootstrap> options) {
        Bootstrap b = new Bootstrap().group(peers).channel(NioSocketChannel.class)
            .handler(new ChannelInboundHandlerAdapter());
        options.accept(b);
        b.connect("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort()).syncUninterruptibly();
      }

      @Override
      void release() {
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        peers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        group.terminationFuture().awaitUninterruptibly(ShutdownScenario.BOUND.toMillis());
        peers.terminationFuture().awaitUninterruptibly(ShutdownScenario.BOUND.toMillis());
      }
    };
  }

  private static Rig vertx(java.util.function.Function<Vertx, Scheduler> make) {
    return new Rig() {
      final Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
      final AtomicBoolean closed = new AtomicBoolean();

      {
        scheduler = make.apply(vertx);
        why = "closed";
        hostThreads = t -> false; // Vert.x names its threads alike in every instance: the fibers' threads are checked
      }

      @Override
      void stopHost(Stop stop) throws Exception {
        closed.set(true);
        vertx.close().await(ShutdownScenario.BOUND.toSeconds(), TimeUnit.SECONDS);
      }

      @Override
      void release() throws Exception {
        if (closed.compareAndSet(false, true)) {
          vertx.close().await(ShutdownScenario.BOUND.toSeconds(), TimeUnit.SECONDS);
        }
      }
    };
  }
}
