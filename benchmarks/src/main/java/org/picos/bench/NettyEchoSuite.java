package org.picos.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.picos.bridge.netty.PicosNetty;

/**
 * Suite 16: an echo server over loopback, three ways. Each trial starts the one server its
 * benchmark names and connects the 100 client connections once; each invocation then drives
 * every connection through a fixed number of round trips and waits (bounded) for all of them,
 * so the suite stops by itself and never leaves a server behind.
 */
@Suite(order = 300, title = "16. Netty: echo over loopback, 100 connections", reference = "plainHandler",
    description = """
        One operation is one 64-byte message echoed over loopback (ns per message; \
        1,000,000,000 / score = messages per second). A Netty client (one event-loop thread) \
        holds 100 connections to the server, made once per trial; each invocation sends 20 \
        messages on every connection, one at a time (the next as soon as the echo is back), \
        all 100 connections at once: 2,000 messages per invocation. Every server listens on \
        127.0.0.1:0; the Netty servers run on a `MultiThreadIoEventLoopGroup` of two NIO event \
        loops (the machine's cores).

        - `fiberPerChannel`: `PicosNetty.fiberPerChannel(ch -> { for (Object m; (m = ch.read()) \
        != null; ) ch.write(m); })`, a fiber per connection on its event loop (auto-read off, \
        one read outstanding; `read()` flushes before it suspends).
        - `plainHandler`: a `ChannelInboundHandler` with auto-read on that writes in \
        `channelRead` and flushes in `channelReadComplete`.
        - `virtualThreads`: a `java.net.ServerSocket` and one virtual thread per accepted \
        socket (default scheduler, all cores) copying its `InputStream` to its `OutputStream` \
        through an 8 KiB buffer; `TCP_NODELAY` on, as in Netty.

        Each contender also reports the CPU time of the whole JVM per message \
        (`cpuNsPerMessage` in the run log), which depends far less on the machine's load than \
        the elapsed time does.""")
@Suite.Goal(is = "fiberPerChannel", vs = "plainHandler", ratioAtMost = 1 / 0.9,
    text = "fiber per channel ≥ 90% of the plain handler's throughput (≤ 1.11× its time per message)")
@Suite.Goal(is = "fiberPerChannel", vs = "virtualThreads", speedupAtLeast = 1.5,
    text = "fiber per channel ≥ 1.5× the throughput of a virtual thread per connection")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(jvmArgsAppend = Suite.ADD_EXPORTS)
@State(Scope.Benchmark)
public class NettyEchoSuite {
  static final int CONNECTIONS = 100;
  static final int ROUNDS = 20;
  static final int SIZE = 64;
  private static final ByteBuf MESSAGE =
      Unpooled.unreleasableBuffer(Unpooled.directBuffer(SIZE).writeZero(SIZE)).asReadOnly();

  private EventLoopGroup serverLoops;
  private Channel nettyServer;
  private ServerSocket blockingServer;
  private EventLoopGroup clientLoops;
  private final List<Client> clients = new ArrayList<>(CONNECTIONS);

  /** Starts the server the benchmark names, then connects the clients to it. */
  @Setup(Level.Trial)
  public void start(BenchmarkParams params) throws Exception {
    String bench = params.getBenchmark();
    InetSocketAddress address = switch (bench.substring(bench.lastIndexOf('.') + 1)) {
      case "fiberPerChannel" -> nettyServer(PicosNetty.fiberPerChannel(ch -> {
        for (Object m; (m = ch.read()) != null; ) {
          ch.write(m);
        }
      }));
      case "plainHandler" -> nettyServer(new PlainEcho());
      case "virtualThreads" -> blockingServer();
      default -> throw new IllegalStateException("No server for benchmark " + bench);
    };
    clientLoops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    Bootstrap bootstrap = new Bootstrap().group(clientLoops).channel(NioSocketChannel.class);
    for (int i = 0; i < CONNECTIONS; i++) {
      Client client = new Client();
      bootstrap.clone().handler(client).connect(address).sync();
      clients.add(client);
    }
  }

  private InetSocketAddress nettyServer(ChannelHandler childHandler) throws InterruptedException {
    serverLoops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    nettyServer = new ServerBootstrap()
        .group(serverLoops)
        .channel(NioServerSocketChannel.class)
        .childHandler(childHandler)
        .bind("127.0.0.1", 0).sync().channel();
    return (InetSocketAddress) nettyServer.localAddress();
  }

  private InetSocketAddress blockingServer() throws IOException {
    ServerSocket server = new ServerSocket();
    server.bind(new InetSocketAddress("127.0.0.1", 0), CONNECTIONS);
    blockingServer = server;
    Thread.ofVirtual().name("echo-acceptor").start(() -> {
      try {
        while (true) {
          Socket socket = server.accept();
          socket.setTcpNoDelay(true);
          Thread.ofVirtual().start(() -> echo(socket));
        }
      } catch (IOException closed) {
        // The server socket was closed by stop(): no more connections.
      }
    });
    return (InetSocketAddress) server.getLocalSocketAddress();
  }

  /** One connection of the blocking server: copies what it reads back until the end of stream. */
  private static void echo(Socket socket) {
    try (socket) {
      InputStream in = socket.getInputStream();
      OutputStream out = socket.getOutputStream();
      byte[] buffer = new byte[8192];
      for (int n; (n = in.read(buffer)) >= 0; ) {
        out.write(buffer, 0, n);
      }
    } catch (IOException e) {
      // The client closed the connection while it was being written: the echo ends.
    }
  }

  @TearDown(Level.Trial)
  public void stop() throws Exception {
    for (Client client : clients) {
      client.channel.close().await(Guard.BOUND_SECONDS, TimeUnit.SECONDS);
    }
    clients.clear();
    clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(Guard.BOUND_SECONDS, TimeUnit.SECONDS);
    if (nettyServer != null) {
      nettyServer.close().await(Guard.BOUND_SECONDS, TimeUnit.SECONDS);
      serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(Guard.BOUND_SECONDS, TimeUnit.SECONDS);
    }
    if (blockingServer != null) {
      blockingServer.close();
    }
  }

  /**
   * The CPU time the whole benchmark JVM (client, server and JMH) spent per message in this
   * iteration, reported by JMH as the secondary result {@code cpuNsPerMessage}. Unlike the
   * elapsed time, it hardly depends on what else the machine runs, so on a shared machine it
   * is the steadier measure of each server's cost (the client's share is the same for all).
   */
  @AuxCounters(AuxCounters.Type.EVENTS)
  @State(Scope.Thread)
  public static class CpuTime {
    private static final com.sun.management.OperatingSystemMXBean OS =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    public double cpuNsPerMessage;
    private long start;
    private long messages;

    @Setup(Level.Iteration)
    public void clear() {
      cpuNsPerMessage = 0;
      messages = 0;
      start = OS.getProcessCpuTime();
    }

    void add(int moreMessages) {
      messages += moreMessages;
      cpuNsPerMessage = (double) (OS.getProcessCpuTime() - start) / messages;
    }
  }

  /** Sends ROUNDS messages on every connection, all at once, and waits for the last echoes. */
  private int roundTrips(CpuTime cpu) {
    CountDownLatch done = new CountDownLatch(CONNECTIONS);
    for (Client client : clients) {
      client.channel.eventLoop().execute(() -> client.begin(done));
    }
    Guard.await(done, "An echo round of " + CONNECTIONS + " connections");
    for (Client client : clients) {
      client.check();
    }
    cpu.add(CONNECTIONS * ROUNDS);
    return CONNECTIONS;
  }

  @Benchmark
  @OperationsPerInvocation(CONNECTIONS * ROUNDS)
  @Suite.Contender("a fiber per connection: `PicosNetty.fiberPerChannel`, `read()`/`write()` loop")
  public int fiberPerChannel(CpuTime cpu) {
    return roundTrips(cpu);
  }

  @Benchmark
  @OperationsPerInvocation(CONNECTIONS * ROUNDS)
  @Suite.Contender("a plain Netty `ChannelInboundHandler` echo")
  public int plainHandler(CpuTime cpu) {
    return roundTrips(cpu);
  }

  @Benchmark
  @OperationsPerInvocation(CONNECTIONS * ROUNDS)
  @Suite.Contender("`ServerSocket`, a virtual thread per connection, blocking streams")
  public int virtualThreads(CpuTime cpu) {
    return roundTrips(cpu);
  }

  /** The plain Netty echo: write what is read, flush once the read batch is over. */
  @ChannelHandler.Sharable
  private static final class PlainEcho extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ctx.write(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      ctx.flush();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /**
   * One client connection. A round sends one message, and the next each time a whole echo is
   * back, until ROUNDS echoes are in; then it counts the round's latch down. Confined to the
   * connection's event loop except {@link #check()}, called after the latch.
   */
  private static final class Client extends ChannelInboundHandlerAdapter {
    private Channel channel;
    private CountDownLatch done;
    private int remaining;
    private int pending;
    private volatile Throwable failure;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      channel = ctx.channel();
    }

    void begin(CountDownLatch done) {
      this.done = done;
      remaining = ROUNDS;
      pending = 0;
      channel.writeAndFlush(MESSAGE.duplicate());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf bytes = (ByteBuf) msg;
      pending += bytes.readableBytes();
      bytes.release();
      while (pending >= SIZE) {
        pending -= SIZE;
        if (--remaining > 0) {
          ctx.writeAndFlush(MESSAGE.duplicate());
        } else {
          done.countDown();
        }
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (remaining > 0 && done != null) {
        failure = new IllegalStateException("The server closed a connection in the middle of a round");
        done.countDown();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      failure = cause;
      ctx.close();
    }

    /** Throws what went wrong on this connection, if anything. */
    void check() {
      Throwable f = failure;
      if (f != null) {
        throw new IllegalStateException("An echo connection failed", f);
      }
    }
  }
}
