package org.picos.examples.netty;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.bridge.netty.FiberChannel;
import org.picos.bridge.netty.PicosNetty;

/**
 * A fiber-per-connection echo server on Netty: each connection is served by plain
 * blocking-style code ({@code read}, {@code write}) running in a fiber on the connection's
 * event loop. The clients are Netty channels with fibers of their own. {@link #main} starts the
 * server on 127.0.0.1, drives it over loopback, prints what happened and exits.
 *
 * <p>Run it with
 * {@code mvn -q -B -DskipTests -Dtour -Dtour.main=org.picos.examples.netty.EchoServer -pl examples -am package}
 * (or any {@code java} with the flag {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}).
 */
public final class EchoServer {
  private EchoServer() {}

  /** Runs the demonstration with three clients of four messages each. */
  public static void main(String[] args) throws InterruptedException {
    run(3, 4, System.out);
  }

  /**
   * Starts the server, connects {@code clients} clients that each send {@code messages} lines
   * and read the echo back, then stops everything.
   *
   * @return what each client got back, in client order
   */
  public static List<String> run(int clients, int messages, PrintStream out)
      throws InterruptedException {
    EventLoopGroup serverLoops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    EventLoopGroup clientLoops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      Channel server = new ServerBootstrap()
          .group(serverLoops)
          .channel(NioServerSocketChannel.class)
          .childHandler(PicosNetty.fiberPerChannel(ch -> serve(ch, out)))
          .bind("127.0.0.1", 0).sync().channel();
      int port = ((InetSocketAddress) server.localAddress()).getPort();
      say(out, "echo server listening on 127.0.0.1:" + port);

      List<Computation<String>> echoes = new ArrayList<>();
      for (int c = 1; c <= clients; c++) {
        int client = c;
        Computation<String> echoed = Computation.create();
        echoes.add(echoed);
        new Bootstrap()
            .group(clientLoops)
            .channel(NioSocketChannel.class)
            .handler(PicosNetty.fiberPerChannel(
                ch -> echoed.tryCapture(() -> talk(ch, client, messages, out))))
            .connect("127.0.0.1", port).sync();
      }
      List<String> results = new ArrayList<>();
      for (Computation<String> echoed : echoes) {
        results.add(echoed.await());
      }
      say(out, "every client got its own lines back");
      server.close().sync();
      return results;
    } finally {
      serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
      clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
  }

  /**
   * The server's fiber for one connection: echo every message until the client closes.
   * Each message read is handed on to {@code write}, which takes ownership of it.
   */
  private static void serve(FiberChannel ch, PrintStream out) {
    say(out, "server fiber for " + ch.channel().remoteAddress() + " started, on its event loop: "
        + ch.channel().eventLoop().inEventLoop());
    long bytes = 0;
    for (Object msg; (msg = ch.read()) != null; ) {
      bytes += ((ByteBuf) msg).readableBytes();
      ch.write(msg);
    }
    say(out, "server fiber for " + ch.channel().remoteAddress()
        + " saw the end of the stream after " + bytes + " bytes");
  }

  /** A client's fiber: send the lines, read until all of them came back, then close. */
  private static String talk(FiberChannel ch, int client, int messages, PrintStream out) {
    StringBuilder sent = new StringBuilder();
    for (int i = 1; i <= messages; i++) {
      String line = "client " + client + " line " + i + "\n";
      sent.append(line);
      ch.write(Unpooled.copiedBuffer(line, StandardCharsets.UTF_8));
    }
    ch.flush();
    StringBuilder got = new StringBuilder();
    while (got.length() < sent.length()) {
      ByteBuf b = (ByteBuf) ch.read();
      if (b == null) {
        break;
      }
      got.append(b.toString(StandardCharsets.UTF_8));
      b.release();
    }
    say(out, "client " + client + " got back " + got.length() + " of " + sent.length()
        + " characters");
    return got.toString();
  }

  private static void say(PrintStream out, String what) {
    out.printf("%-34s %s%n", "[" + Thread.currentThread().getName() + "]", what);
  }
}
