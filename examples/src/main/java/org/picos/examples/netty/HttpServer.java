package org.picos.examples.netty;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.bridge.netty.FiberChannel;
import org.picos.bridge.netty.PicosNetty;

/**
 * A small HTTP server on Netty whose handler is a fiber per connection. For
 * {@code GET /work?ms=N} it starts a piece of work that takes N ms (a Netty timer awaited in a
 * child fiber), guards it with a timeout of {@value #TIMEOUT_MS} ms, and answers {@code 200}
 * with the work's result, or {@code 504} when the timeout cancelled it (which also cancels the
 * Netty timer the work was waiting on). The work is also cancelled if the connection closes.
 * {@link #main} starts the server on 127.0.0.1, sends requests with a Netty HTTP client (a fiber
 * too), prints what happened and exits.
 *
 * <p>Run it with
 * {@code mvn -q -B -DskipTests -Dtour -Dtour.main=org.picos.examples.netty.HttpServer -pl examples -am package}
 * (or any {@code java} with the flag {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}).
 */
public final class HttpServer {
  /** How long the server lets a piece of work run before answering 504. */
  public static final long TIMEOUT_MS = 200;

  private HttpServer() {}

  /** Runs the demonstration: one fast request, one too slow, one fast again, on one connection. */
  public static void main(String[] args) throws InterruptedException {
    run(List.of("/work?ms=20", "/work?ms=5000", "/work?ms=1"), System.out);
  }

  /**
   * Starts the server, sends {@code paths} one after another on one keep-alive connection, then
   * stops everything.
   *
   * @return one line per request: {@code "<path> -> <status code> <body>"}
   */
  public static List<String> run(List<String> paths, PrintStream out) throws InterruptedException {
    EventLoopGroup serverLoops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    EventLoopGroup clientLoops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      Channel server = new ServerBootstrap()
          .group(serverLoops)
          .channel(NioServerSocketChannel.class)
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                  PicosNetty.fiberPerChannel(fc -> serve(fc, out)));
            }
          })
          .bind("127.0.0.1", 0).sync().channel();
      int port = ((InetSocketAddress) server.localAddress()).getPort();
      say(out, "HTTP server listening on 127.0.0.1:" + port + ", timeout " + TIMEOUT_MS + " ms");

      Computation<List<String>> answers = Computation.create();
      new Bootstrap()
          .group(clientLoops)
          .channel(NioSocketChannel.class)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                  PicosNetty.fiberPerChannel(fc -> answers.tryCapture(() -> ask(fc, paths, out))));
            }
          })
          .connect("127.0.0.1", port).sync();
      List<String> result = answers.await();
      server.close().sync();
      return result;
    } finally {
      serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
      clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
  }

  /** The server's fiber for one connection: one request at a time, until the client closes. */
  private static void serve(FiberChannel ch, PrintStream out) {
    for (Object msg; (msg = ch.read()) != null; ) {
      FullHttpRequest request = (FullHttpRequest) msg;
      String uri = request.uri();
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      request.release();
      FullHttpResponse response = handle(uri, ch.channel().eventLoop(), out);
      HttpUtil.setKeepAlive(response, keepAlive);
      ch.writeAndFlush(response);
      if (!keepAlive) {
        return;
      }
    }
  }

  /** Runs the requested work under the timeout and turns the outcome into a response. */
  private static FullHttpResponse handle(String uri, EventLoop loop, PrintStream out) {
    QueryStringDecoder query = new QueryStringDecoder(uri);
    if (!query.path().equals("/work") || !query.parameters().containsKey("ms")) {
      return response(HttpResponseStatus.NOT_FOUND, "try /work?ms=N\n");
    }
    long ms = Long.parseLong(query.parameters().get("ms").get(0));
    Computation<String> work = Fiber.spawn(() -> {
      ScheduledFuture<String> timer = loop.schedule(() -> "slept", ms, TimeUnit.MILLISECONDS);
      try {
        String outcome = PicosNetty.await(timer);
        return "worked " + ms + " ms (" + outcome + " on " + Thread.currentThread().getName() + ")";
      } finally {
        if (timer.isCancelled()) {
          say(out, "work of " + ms + " ms cancelled; its Netty timer was cancelled too");
        }
      }
    });
    // The connection's fiber being cancelled (the client went away) cancels the work as well.
    Computation<?> connection = Fiber.current().computation();
    Trigger link = Computation.attachCanceler(connection, work);
    work.cancelAfter(Duration.ofMillis(TIMEOUT_MS),
        new TimeoutException("the work took longer than " + TIMEOUT_MS + " ms"));
    try {
      String result = work.await();
      say(out, "GET " + uri + " -> 200 " + result);
      return response(HttpResponseStatus.OK, result + "\n");
    } catch (CompletionException e) {
      if (!(e.getCause() instanceof TimeoutException timeout)) {
        throw e;
      }
      say(out, "GET " + uri + " -> 504 " + timeout.getMessage());
      return response(HttpResponseStatus.GATEWAY_TIMEOUT, timeout.getMessage() + "\n");
    } finally {
      connection.detach(link);
    }
  }

  private static FullHttpResponse response(HttpResponseStatus status, String body) {
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    HttpUtil.setContentLength(r, r.content().readableBytes());
    return r;
  }

  /** The client's fiber: each request in turn, waiting for its response before the next. */
  private static List<String> ask(FiberChannel ch, List<String> paths, PrintStream out) {
    List<String> answers = new ArrayList<>();
    for (String path : paths) {
      FullHttpRequest request =
          new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
      request.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
      HttpUtil.setKeepAlive(request, true);
      ch.writeAndFlush(request);
      FullHttpResponse response = (FullHttpResponse) ch.read();
      if (response == null) {
        throw new IllegalStateException(
            "the server closed the connection before answering " + path);
      }
      String answer = path + " -> " + response.status().code() + " "
          + response.content().toString(StandardCharsets.UTF_8).trim();
      response.release();
      say(out, "client got " + answer);
      answers.add(answer);
    }
    return answers;
  }

  private static void say(PrintStream out, String what) {
    out.printf("%-34s %s%n", "[" + Thread.currentThread().getName() + "]", what);
  }
}
