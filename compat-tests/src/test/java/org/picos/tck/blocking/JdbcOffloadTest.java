package org.picos.tck.blocking;

import static org.junit.jupiter.api.Assertions.*;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTimeoutException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.BlockedCarriers;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.bridge.netty.PicosNetty;
import org.picos.std.blocking.Blocking;

/**
 * {@link Blocking#call} with a real JDBC driver on a real embedded database (H2, in memory),
 * from fibers on a real Netty event loop that also serves a ping over loopback TCP: the loop
 * keeps answering while a fiber waits for a query; cancelling that fiber interrupts the call and
 * {@code Statement.cancel()} stops a query that interrupts cannot; the pool thread is reclaimed;
 * SQL failures keep their type; on the loop outside a fiber the call is refused every time. The
 * blocked-carrier detector stays silent about the offloaded call and reports the one made right
 * on the loop, naming the loop's scheduler and the fiber's own frames.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class JdbcOffloadTest {
  /** A query that keeps H2 busy for many minutes, checking only for Statement.cancel(). */
  private static final String ENDLESS_QUERY = "SELECT COUNT(*) FROM SYSTEM_RANGE(1, 100000) A,"
      + " SYSTEM_RANGE(1, 100000) B WHERE A.X + B.X = 0";
  /** A generous bound for "promptly": this is a claim about correctness, not speed. */
  private static final Duration PROMPTLY = Duration.ofMillis(500);

  private static final AtomicInteger DATABASES = new AtomicInteger();

  private final List<ExecutorService> pools = new ArrayList<>();
  private EventLoopGroup group;
  private EventLoop loop;
  private String url;
  private Connection connection;
  private final LinkedBlockingQueue<BlockedCarriers.Stall> stalls = new LinkedBlockingQueue<>();

  @BeforeEach
  void start() throws SQLException {
    BlockedCarriers.setThreshold(Duration.ofMillis(200));
    BlockedCarriers.setReporter(stalls::add);
    group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("jdbc-loop", true),
        NioIoHandler.newFactory());
    loop = group.next();
    url = "jdbc:h2:mem:offload" + DATABASES.incrementAndGet() + ";DB_CLOSE_DELAY=-1";
    connection = DriverManager.getConnection(url);
    try (Statement s = connection.createStatement()) {
      s.execute("CREATE ALIAS SLEEP FOR 'java.lang.Thread.sleep(long)'");
    }
  }

  @AfterEach
  void stop() throws Exception {
    BlockedCarriers.setReporter(null);
    BlockedCarriers.setThreshold(Duration.ofMillis(BlockedCarriers.DEFAULT_THRESHOLD_MILLIS));
    try (Connection c = connection; Statement s = c.createStatement()) {
      s.execute("SHUTDOWN");
    }
    for (ExecutorService pool : pools) {
      pool.shutdownNow();
      assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS), "a pool thread did not end");
    }
    assertTrue(group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
  }

  /** An offload to a pool of one thread: a call that kept its thread would starve the next. */
  private Blocking.Offload onePoolThread() {
    ExecutorService pool = Executors.newSingleThreadExecutor(
        r -> Thread.ofPlatform().daemon().name("jdbc-offload").unstarted(r));
    pools.add(pool);
    return Blocking.using(pool);
  }

  /** Waits, from a second connection, until {@code sql} is executing in the database. */
  private void untilExecuting(String sql) throws Exception {
    try (Connection observer = DriverManager.getConnection(url);
        Statement s = observer.createStatement()) {
      for (int i = 0; i < 10_000; i++) {
        try (ResultSet rs = s.executeQuery(
            "SELECT COUNT(*) FROM INFORMATION_SCHEMA.SESSIONS WHERE EXECUTING_STATEMENT = '"
                + sql.replace("'", "''") + "'")) {
          rs.next();
          if (rs.getInt(1) > 0) {
            return;
          }
        }
        Thread.sleep(1);
      }
    }
    fail("the statement never started: " + sql);
  }

  /** An echo server on {@link #loop}: each connection is a fiber writing back what it reads. */
  private int pingServerOnTheLoop() throws InterruptedException {
    Channel server = new ServerBootstrap()
        .group(group)
        .channel(NioServerSocketChannel.class)
        .childHandler(PicosNetty.fiberPerChannel(ch -> {
          for (Object msg; (msg = ch.read()) != null; ) {
            ch.writeAndFlush((ByteBuf) msg);
          }
        }))
        .bind("127.0.0.1", 0).sync().channel();
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  /** One ping over {@code socket}; returns when the echo came back. */
  private static void ping(Socket socket) throws Exception {
    OutputStream out = socket.getOutputStream();
    InputStream in = socket.getInputStream();
    out.write('p');
    out.flush();
    assertEquals('p', in.read(), "no echo");
  }

  @Test
  void whileAFiberWaitsForAQueryTheOtherFibersOfItsLoopKeepAnswering() throws Exception {
    int port = pingServerOnTheLoop();
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(10_000);
      ping(socket); // the connection's fiber is up
      CountDownLatch started = new CountDownLatch(1);
      Fiber[] fiber = new Fiber[1];
      Computation<String> query = PicosNetty.scheduler(loop).start(() -> {
        fiber[0] = Fiber.current();
        String ranOn = Blocking.call(() -> {
          started.countDown();
          try (Statement s = connection.createStatement()) {
            s.execute("CALL SLEEP(1500)");
          }
          return Thread.currentThread().getName();
        });
        assertTrue(loop.inEventLoop(), "the fiber came back to its loop");
        return ranOn;
      });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      long worst = 0;
      int pingsDuringTheQuery = 0;
      for (int i = 0; i < 10 && query.isRunning(); i++) {
        long before = System.nanoTime();
        ping(socket);
        worst = Math.max(worst, System.nanoTime() - before);
        if (query.isRunning()) {
          pingsDuringTheQuery++;
        }
        Thread.sleep(50);
      }
      assertTrue(pingsDuringTheQuery >= 5, "only " + pingsDuringTheQuery + " pings before the query ended");
      assertTrue(worst < PROMPTLY.toNanos(),
          "a ping took " + TimeUnit.NANOSECONDS.toMillis(worst) + " ms while a fiber of the loop was in JDBC");
      assertTrue(query.await().startsWith("picos-blocking-"), query.resultNow());
      assertTrue(stalls.stream().noneMatch(st -> st.fiber() == fiber[0]),
          "the offloaded call held no carrier: " + stalls);
    }
  }

  /** The contrast: the same JDBC call made right in a fiber freezes the loop until it returns. */
  @Test
  void withoutTheOffloadTheSameCallFreezesTheLoop() throws Exception {
    int port = pingServerOnTheLoop();
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(10_000);
      ping(socket);
      CountDownLatch started = new CountDownLatch(1);
      CompletableFuture<Long> ended = new CompletableFuture<>();
      Fiber[] fiber = new Fiber[1];
      Scheduler onLoop = PicosNetty.scheduler(loop);
      onLoop.start(() -> {
        fiber[0] = Fiber.current();
        started.countDown();
        try (Statement s = connection.createStatement()) {
          s.execute("CALL SLEEP(700)"); // blocks the event-loop thread itself
        }
        ended.complete(System.nanoTime());
        return null;
      });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      ping(socket);
      long answered = System.nanoTime();
      assertTrue(answered >= ended.get(10, TimeUnit.SECONDS), "the loop answered while it was blocked");
      BlockedCarriers.Stall stall = stalls.poll(10, TimeUnit.SECONDS);
      assertNotNull(stall, "the detector did not report the blocked loop");
      assertSame(fiber[0], stall.fiber());
      assertEquals(onLoop.toString(), stall.scheduler());
      assertTrue(stall.carrier().getName().startsWith("jdbc-loop"), stall.carrier().getName());
      assertTrue(stall.stackTrace().stream().anyMatch(f -> f.getClassName().startsWith("org.h2.")),
          "the JDBC driver's frames: " + stall.stackTrace());
      assertTrue(stall.stackTrace().stream().anyMatch(f -> f.getClassName().equals(getClass().getName())
          && f.getMethodName().contains("withoutTheOffloadTheSameCallFreezesTheLoop")),
          "the fiber's own frame: " + stall.stackTrace());
      Thread.sleep(300);
      assertEquals(List.of(), List.copyOf(stalls), "one report per stall");
    }
  }

  @Test
  void cancellingTheFiberStopsTheQueryThroughStatementCancelAndReclaimsThePoolThread()
      throws Exception {
    Blocking.Offload offload = onePoolThread();
    CompletableFuture<SQLException> queryEnded = new CompletableFuture<>();
    CompletableFuture<Throwable> fiberSaw = new CompletableFuture<>();
    Statement statement = connection.createStatement();
    Computation<Long> fiber = PicosNetty.scheduler(loop).start(() -> {
      try {
        return offload.call(() -> {
          try (ResultSet rs = statement.executeQuery(ENDLESS_QUERY)) {
            rs.next();
            return rs.getLong(1);
          } catch (SQLException e) {
            queryEnded.complete(e);
            throw e;
          }
        }, statement::cancel);
      } catch (Throwable t) {
        fiberSaw.complete(t);
        throw t;
      }
    });
    untilExecuting(ENDLESS_QUERY);
    CancellationException cause = new CancellationException("the client went away");
    fiber.tryCancel(cause);
    assertSame(cause, fiberSaw.get(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS), "the fiber did not end promptly");
    SQLException stopped = queryEnded.get(10, TimeUnit.SECONDS);
    assertInstanceOf(SQLTimeoutException.class, stopped, "not H2's 'statement was canceled'");
    assertEquals("57014", stopped.getSQLState());
    // The pool's only thread is free again, and not interrupted.
    CompletableFuture<Boolean> next = new CompletableFuture<>();
    PicosNetty.scheduler(loop).start(() -> next.complete(offload.call(() -> Thread.currentThread().isInterrupted())));
    assertEquals(Boolean.FALSE, next.get(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS), "the next call waited for the pool thread");
    statement.close();
  }

  @Test
  void cancellingTheFiberInterruptsASleepingCall() throws Exception {
    Blocking.Offload offload = onePoolThread();
    CompletableFuture<SQLException> callEnded = new CompletableFuture<>();
    Computation<Boolean> fiber = PicosNetty.scheduler(loop).start(() -> offload.call(() -> {
      try (Statement s = connection.createStatement()) {
        return s.execute("CALL SLEEP(60000)");
      } catch (SQLException e) {
        callEnded.complete(e);
        throw e;
      }
    }));
    untilExecuting("CALL SLEEP(60000)");
    fiber.tryCancel(new CancellationException("stop"));
    SQLException interrupted = callEnded.get(PROMPTLY.toMillis() * 4, TimeUnit.MILLISECONDS);
    assertInstanceOf(InterruptedException.class, interrupted.getCause(), "not ended by the interrupt");
    assertEquals(42, PicosNetty.scheduler(loop).start(() -> offload.call(() -> 42)).await());
  }

  @Test
  void sqlFailuresReachTheFiberWithTheirType() throws Exception {
    Computation<Integer> fiber = PicosNetty.scheduler(loop).start(() -> {
      try {
        Blocking.call(() -> {
          try (Statement s = connection.createStatement()) {
            return s.executeQuery("SELECT * FROM NO_SUCH_TABLE").next();
          }
        });
        return -1;
      } catch (SQLException e) { // a checked SQLException, as thrown by the driver: no wrapper
        assertEquals("org.h2.jdbc.JdbcSQLSyntaxErrorException", e.getClass().getName());
        return e.getErrorCode();
      }
    });
    assertEquals(42104, fiber.await());
  }

  @Test
  void onTheLoopOutsideAFiberTheCallIsRefusedEveryTime() throws Exception {
    PicosNetty.scheduler(loop); // the Netty bridge, and its guard, are loaded
    AtomicInteger ran = new AtomicInteger();
    List<Throwable> refusals = loop.submit(() -> {
      List<Throwable> seen = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        try {
          Blocking.call(ran::incrementAndGet); // would not even block: refused all the same
        } catch (IllegalStateException refused) {
          seen.add(refused);
        }
      }
      return seen;
    }).get(10, TimeUnit.SECONDS);
    assertEquals(200, refusals.size(), "some calls on the event loop were not refused");
    assertEquals(0, ran.get(), "a refused call ran");
    assertTrue(refusals.get(0).getMessage().contains("Netty"), refusals.get(0).getMessage());
    assertFalse(Fiber.inFiber());
  }
}
