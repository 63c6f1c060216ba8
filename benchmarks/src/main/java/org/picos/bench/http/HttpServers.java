package org.picos.bench.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.Message;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.picos.bridge.netty.FiberChannel;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.vertx.FiberVerticle;
import org.picos.bridge.vertx.PicosVertx;

/**
 * The servers of the HTTP load suite ({@code benchmarks/http}), one per process, driven by a
 * real load generator ({@code wrk}) over loopback keep-alive connections. Every server answers
 * every request with the same small {@code 200 hello} and runs on one event-loop thread, so
 * that the load generator has the other core:
 * <ul>
 *   <li>{@code netty-plain}: {@code HttpServerCodec}, an aggregator and a plain handler;</li>
 *   <li>{@code netty-fiber}: the same pipeline ending in {@code PicosNetty.fiberPerChannel},
 *       whose fiber reads each request and writes the response;</li>
 *   <li>{@code netty-plain-task} and {@code netty-fiber-await}: the same two, each request also
 *       waiting for one task run on the event loop (a listener on the plain handler's side,
 *       {@code PicosNetty.await} in the fiber);</li>
 *   <li>{@code vertx-plain}: a Vert.x request handler doing one event-bus round trip to a
 *       consumer and answering with its reply;</li>
 *   <li>{@code vertx-fiber}: the same in a {@code FiberVerticle.fiberHandler}, awaiting the
 *       reply with {@code PicosVertx.await};</li>
 *   <li>{@code vertx-virtual}: the same in a Vert.x virtual-thread verticle, awaiting with
 *       Vert.x's own {@code Future.await()}.</li>
 * </ul>
 * It prints {@code READY <port>} once listening, then once a second {@code RPS <seconds since
 * the first request> <requests in that second>} (the warm-up curve), and runs until it is
 * killed (a shutdown hook closes the server).
 *
 * <pre>java --add-exports java.base/jdk.internal.vm=ALL-UNNAMED -cp benchmarks.jar \
 *   org.picos.bench.http.HttpServers netty-fiber 8080</pre>
 */
public final class HttpServers {
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);
  private static final LongAdder REQUESTS = new LongAdder();

  private HttpServers() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      throw new IllegalArgumentException("usage: HttpServers KIND PORT, KIND one of netty-plain,"
          + " netty-fiber, netty-plain-task, netty-fiber-await, vertx-plain, vertx-fiber, vertx-virtual");
    }
    String kind = args[0];
    int port = Integer.parseInt(args[1]);
    AutoCloseable server = switch (kind) {
      case "netty-plain" -> netty(port, false, false);
      case "netty-fiber" -> netty(port, true, false);
      case "netty-plain-task" -> netty(port, false, true);
      case "netty-fiber-await" -> netty(port, true, true);
      case "vertx-plain", "vertx-fiber", "vertx-virtual" -> vertx(port, kind);
      default -> throw new IllegalArgumentException("unknown server kind " + kind);
    };
    System.out.println("READY " + port);
    Thread counter = new Thread(HttpServers::countEverySecond, "rps-counter");
    counter.setDaemon(true);
    counter.start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        server.close();
      } catch (Exception e) {
        e.printStackTrace();
      }
    }));
    Thread.currentThread().join(); // until killed
  }

  /** Prints the requests of each second, from the second in which the first one arrived. */
  private static void countEverySecond() {
    try {
      while (REQUESTS.sum() == 0) {
        Thread.sleep(1);
      }
      long start = System.nanoTime();
      long last = 0;
      for (int second = 1; ; second++) {
        long due = start + TimeUnit.SECONDS.toNanos(second);
        long now;
        while ((now = System.nanoTime()) < due) {
          Thread.sleep(Math.max(1, TimeUnit.NANOSECONDS.toMillis(due - now)));
        }
        long total = REQUESTS.sum();
        System.out.println("RPS " + second + " " + (total - last));
        last = total;
      }
    } catch (InterruptedException stopped) {
      Thread.currentThread().interrupt();
    }
  }

  private static FullHttpResponse hello(FullHttpRequest request) {
    REQUESTS.increment();
    ByteBuf body = Unpooled.wrappedBuffer(HELLO);
    FullHttpResponse response =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain")
        .setInt(HttpHeaderNames.CONTENT_LENGTH, HELLO.length);
    HttpUtil.setKeepAlive(response, HttpUtil.isKeepAlive(request));
    return response;
  }

  private static AutoCloseable netty(int port, boolean fiber, boolean loopTask) throws Exception {
    EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    Channel server = new ServerBootstrap()
        .group(loop)
        .channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                fiber ? PicosNetty.fiberPerChannel(fc -> serve(fc, loopTask)) : new Plain(loopTask));
          }
        })
        .bind("127.0.0.1", port).sync().channel();
    return () -> {
      server.close().sync();
      loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    };
  }

  /** The plain handler: answers in channelRead, or in a listener of one loop task. */
  private static final class Plain extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final boolean loopTask;

    Plain(boolean loopTask) {
      this.loopTask = loopTask;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      FullHttpResponse response = hello(request);
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      if (!loopTask) {
        write(ctx, response, keepAlive);
        return;
      }
      ctx.channel().eventLoop().submit(() -> "done")
          .addListener(done -> write(ctx, response, keepAlive));
    }

    private static void write(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
      if (keepAlive) {
        ctx.writeAndFlush(response);
      } else {
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
      }
    }
  }

  /** The fiber of one connection: one request at a time, until the client closes. */
  private static void serve(FiberChannel ch, boolean loopTask) {
    for (Object msg; (msg = ch.read()) != null; ) {
      FullHttpRequest request = (FullHttpRequest) msg;
      try {
        if (loopTask) {
          PicosNetty.await(ch.channel().eventLoop().submit(() -> "done"));
        }
        FullHttpResponse response = hello(request);
        if (!HttpUtil.isKeepAlive(request)) {
          ch.writeAndFlush(response);
          return;
        }
        ch.writeAndFlush(response);
      } finally {
        request.release();
      }
    }
  }

  private static AutoCloseable vertx(int port, String kind) throws Exception {
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    vertx.eventBus().<String>consumer("echo", message -> message.reply(message.body()));
    DeploymentOptions options = new DeploymentOptions();
    Object deployed = switch (kind) {
      case "vertx-plain" -> vertx.deployVerticle(new VerticleBase() {
        @Override
        public Future<?> start() {
          return vertx.createHttpServer().requestHandler(request -> vertx.eventBus()
                  .<String>request("echo", "hi")
                  .onSuccess(reply -> respond(request, reply))
                  .onFailure(failure -> request.response().setStatusCode(500).end()))
              .listen(port, "127.0.0.1");
        }
      }, options).await(30, TimeUnit.SECONDS);
      case "vertx-fiber" -> vertx.deployVerticle(new FiberVerticle() {
        @Override
        protected void start() {
          PicosVertx.await(vertx.createHttpServer().requestHandler(fiberHandler(request -> {
            request.resume(); // fiberHandler pauses it; a GET has no body to read
            respond(request, PicosVertx.await(vertx.eventBus().<String>request("echo", "hi")));
          })).listen(port, "127.0.0.1"));
        }
      }, options).await(30, TimeUnit.SECONDS);
      case "vertx-virtual" -> vertx.deployVerticle(new VerticleBase() {
        @Override
        public Future<?> start() {
          return vertx.createHttpServer().requestHandler(request ->
                  respond(request, vertx.eventBus().<String>request("echo", "hi").await()))
              .listen(port, "127.0.0.1");
        }
      }, options.setThreadingModel(ThreadingModel.VIRTUAL_THREAD)).await(30, TimeUnit.SECONDS);
      default -> throw new IllegalArgumentException(kind);
    };
    if (deployed == null) {
      throw new IllegalStateException("deployment of " + kind + " failed");
    }
    return () -> vertx.close().await(30, TimeUnit.SECONDS);
  }

  private static void respond(io.vertx.core.http.HttpServerRequest request, Message<String> reply) {
    REQUESTS.increment();
    request.response().putHeader("content-type", "text/plain").end(reply.body().equals("hi") ? "hello" : "?");
  }
}
