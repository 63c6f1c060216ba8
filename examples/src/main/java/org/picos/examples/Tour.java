package org.picos.examples;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
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
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.reactivex.rxjava3.core.Flowable;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpMethod;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.netty.FiberChannel;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.std.structured.Control;
import org.picos.std.structured.Flock;
import org.picos.std.structured.Promise;
import org.picos.std.sync.Mutex;
import reactor.core.publisher.Mono;

/**
 * The interop tour, the README's first command: five async ecosystems serving one request,
 * written as straight-line fiber code.
 *
 * <ul>
 *   <li>A Netty HTTP server gives each connection a fiber on its event loop
 *       ({@link PicosNetty#fiberPerChannel}). For {@code GET /quote?user=NAME} the fiber runs,
 *       under one Picos timeout ({@link Control#terminateAfter}, armed on Netty's timer), a
 *       {@link Flock} of four children that await, at the same time, a Reactor {@link Mono}, an
 *       RxJava {@link Flowable}, a Vert.x event-bus request and a {@link CompletableFuture}.</li>
 *   <li>The event-bus consumer is a fiber on a Vert.x event loop. It and the Netty fibers share
 *       one Picos {@link Mutex} (guarding the server's statistics), one Picos
 *       {@link org.picos.std.sync.Channel} (Netty fibers send audit records, a Vert.x fiber
 *       receives them) and one {@link Computation} (the server gave up on a slow request: the
 *       consumer replies only then, too late).</li>
 *   <li>A Vert.x HTTP client, in a fiber on a Vert.x event loop, drives the server over
 *       loopback with three requests. The third one ({@code slow}) makes every source too slow:
 *       the timeout cancels the flock, and the cancellation reaches each ecosystem in its own
 *       terms (the Mono and the Flowable are cancelled, the CompletableFuture is cancelled, the
 *       Vert.x wait is detached since Vert.x futures cannot be cancelled), and the server answers
 *       504.</li>
 * </ul>
 *
 * Each line of the trace names the thread that ran the step. The tour runs in a few seconds
 * (most of it the slow request's timeout), stops every host and exits by itself.
 */
public final class Tour {
  /** The Picos timeout of one request: ample for the fast sources, even on a loaded machine. */
  static final Duration TIMEOUT = Duration.ofSeconds(2);
  /** How long each source takes for a normal request, and for a {@code slow} one. */
  private static final long FAST_MS = 20;
  private static final long SLOW_MS = 10_000;
  private static final String QUOTES = "tour.quotes";

  private final Trace trace;
  private final Vertx vertx;
  private final Mutex statsLock = new Mutex();
  /** Requests served and quotes given, by Netty and Vert.x fibers; guarded by statsLock. */
  private int served;
  private int quotes;
  /** Audit records: sent by the Netty fibers, received by a Vert.x fiber. */
  private final org.picos.std.sync.Channel<String> audit = org.picos.std.sync.Channel.bounded(8);
  /** Returned by the Netty fiber when its timeout gave up on the slow request. */
  private final Computation<Void> gaveUp = Computation.create();
  /** Returned by the Vert.x consumer once it has sent its late reply. */
  private final Computation<Void> lateReplySent = Computation.create();

  private Tour(Trace trace, Vertx vertx) {
    this.trace = trace;
    this.vertx = vertx;
  }

  /**
   * Runs the tour on the console and returns once every host has stopped.
   *
   * @throws Exception if a host fails to start or stop, or a request fails for another reason
   *     than the tour's timeout
   */
  public static void main(String[] args) throws Exception {
    run(System.out);
  }

  /**
   * What the tour observed: the HTTP answers in order, the totals kept under the shared mutex,
   * the number of audit records that crossed the shared channel, and every trace line.
   */
  record Outcome(List<String> answers, int served, int quotes, int audited, List<String> trace) {}

  /**
   * Runs the tour, printing each trace line to {@code out} as it happens, and stops every host
   * before returning.
   */
  static Outcome run(PrintStream out) throws Exception {
    Trace trace = new Trace(out);
    EventLoopGroup netty = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("netty-loop", true), NioIoHandler.newFactory());
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
    try {
      return new Tour(trace, vertx).run(netty);
    } finally {
      netty.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
      vertx.close().await(10, TimeUnit.SECONDS);
      trace.say("every host stopped");
    }
  }

  private Outcome run(EventLoopGroup netty) throws Exception {
    // Vert.x: the event-bus consumer (a fiber per message) and the auditor fiber.
    vertx.eventBus().<String>consumer(QUOTES,
            message -> PicosVertx.future(Vertx.currentContext(), () -> quote(message)))
        .completion().await(10, TimeUnit.SECONDS);
    Computation<Integer> auditor = PicosVertx.scheduler(vertx).start(() -> {
      int records = 0;
      for (String record : audit) {
        trace.say("vert.x auditor fiber received from the shared Channel: " + record);
        records++;
      }
      return records;
    });

    // Netty: the HTTP server, a fiber per connection.
    Channel server = new ServerBootstrap()
        .group(netty)
        .channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                PicosNetty.fiberPerChannel(Tour.this::serve));
          }
        })
        .bind("127.0.0.1", 0).sync().channel();
    int port = ((InetSocketAddress) server.localAddress()).getPort();
    trace.say("netty HTTP server on 127.0.0.1:" + port + ", Picos timeout " + TIMEOUT.toMillis()
        + " ms per request");

    // The client: a fiber on a Vert.x event loop, one request after another.
    List<String> answers = PicosVertx.scheduler(vertx.getOrCreateContext()).run(() -> {
      HttpClientAgent client = vertx.createHttpClient();
      List<String> got = new ArrayList<>();
      for (String path : List.of("/quote?user=ada", "/quote?user=bob", "/quote?user=eve&slow")) {
        trace.say("client GET " + path);
        String answer = PicosVertx.await(client.request(HttpMethod.GET, port, "127.0.0.1", path)
            .compose(request -> request.send())
            .compose(response -> response.body()
                .map(body -> response.statusCode() + " " + body.toString().trim())));
        trace.say("client got " + answer);
        got.add(answer);
      }
      PicosVertx.await(client.close());
      return got;
    });

    lateReplySent.await();
    audit.close();
    int audited = auditor.await();
    int[] totals = statsLock.protect(() -> new int[] {served, quotes});
    trace.say("shared Mutex: " + totals[0] + " requests served, " + totals[1]
        + " quotes given; shared Channel: " + audited + " audit records");
    server.close().sync();
    return new Outcome(answers, totals[0], totals[1], audited, trace.lines());
  }

  // ---------------------------------------------------------------------------------------
  // The Netty side: a fiber per connection

  /** A connection's fiber, on its Netty event loop: one request at a time. */
  private void serve(FiberChannel ch) {
    for (Object msg; (msg = ch.read()) != null; ) {
      FullHttpRequest request = (FullHttpRequest) msg;
      QueryStringDecoder query = new QueryStringDecoder(request.uri());
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      request.release();
      String user = query.parameters().getOrDefault("user", List.of("stranger")).get(0);
      boolean slow = query.parameters().containsKey("slow");
      FullHttpResponse response;
      try {
        String quote = Control.terminateAfter(TIMEOUT, () -> gather(user, slow));
        response = response(HttpResponseStatus.OK, quote);
      } catch (Control.Timeout timeout) {
        trace.say("netty fiber: " + timeout.getMessage() + " -> 504");
        gaveUp.tryReturn(null);
        response = response(HttpResponseStatus.GATEWAY_TIMEOUT, "timed out");
      }
      statsLock.protect(() -> served++);
      audit.send(user + " -> " + response.status().code());
      HttpUtil.setKeepAlive(response, keepAlive);
      ch.writeAndFlush(response);
    }
  }

  /**
   * Awaits the four sources at once, each in a child fiber of a flock on the connection's event
   * loop; the caller's timeout cancels the flock, and with it whatever each child awaits.
   */
  private String gather(String user, boolean slow) {
    long ms = slow ? SLOW_MS : FAST_MS;
    trace.say("netty fiber: GET quote for " + user + ", awaiting four ecosystems");
    return Flock.joinAfter(() -> {
      Promise<String> reactor = Flock.forkAsPromise(() -> PicosReactor.await(
          Mono.delay(Duration.ofMillis(ms))
              .map(tick -> trace.say("reactor Mono emits", "mono:" + user))
              .doOnCancel(() -> trace.say("reactor Mono cancelled (doOnCancel)"))));
      Promise<String> rx = Flock.forkAsPromise(() -> PicosRx.awaitLast(
          Flowable.intervalRange(1, 3, 0, ms / 3, TimeUnit.MILLISECONDS)
              .map(n -> trace.say("rxjava Flowable emits " + n, "flowable:" + n))
              .doOnCancel(() -> trace.say("rxjava Flowable cancelled (doOnCancel)"))));
      Promise<String> bus = Flock.forkAsPromise(() -> {
        try {
          Message<String> reply = PicosVertx.await(
              vertx.eventBus().request(QUOTES, slow ? user + " slow" : user));
          return reply.body();
        } catch (Control.Terminate cancelled) {
          trace.say("vert.x event-bus wait detached (a Vert.x future cannot be cancelled)");
          throw cancelled;
        }
      });
      Promise<String> future = Flock.forkAsPromise(() -> {
        CompletableFuture<String> cf = CompletableFuture.supplyAsync(
            () -> trace.say("CompletableFuture completes", "future:" + user.toUpperCase()),
            CompletableFuture.delayedExecutor(ms, TimeUnit.MILLISECONDS));
        cf.whenComplete((v, e) -> {
          if (cf.isCancelled()) {
            trace.say("CompletableFuture cancelled");
          }
        });
        return PicosFutures.await(cf);
      });
      List<String> parts = new ArrayList<>();
      for (Promise<String> p : List.of(reactor, rx, bus, future)) {
        parts.add(p.await());
      }
      trace.say("netty fiber: all four answered");
      return String.join(" ", parts);
    });
  }

  // ---------------------------------------------------------------------------------------
  // The Vert.x side: a fiber per event-bus message

  /**
   * The consumer's fiber for one message, on a Vert.x event loop. A slow request is answered
   * only once the Netty fiber has given up on it.
   */
  private Void quote(Message<String> message) {
    String user = message.body();
    boolean slow = user.endsWith(" slow");
    trace.say("vert.x consumer fiber: quote for " + user);
    if (slow) {
      gaveUp.await();
    } else {
      Control.sleep(Duration.ofMillis(FAST_MS));
    }
    int given = statsLock.protect(() -> ++quotes);
    message.reply("vertx:#" + given);
    if (slow) {
      trace.say("vert.x consumer fiber: replied after the server gave up; nobody waits for it");
      lateReplySent.tryReturn(null);
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------
  // Helpers

  private static FullHttpResponse response(HttpResponseStatus status, String body) {
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    HttpUtil.setContentLength(r, r.content().readableBytes());
    return r;
  }

  /** The trace: each line names the thread that ran the step; printed and kept. */
  static final class Trace {
    private final PrintStream out;
    private final List<String> lines = Collections.synchronizedList(new ArrayList<>());

    Trace(PrintStream out) {
      this.out = out;
    }

    /** Records {@code what}, prefixed with the calling thread's name. */
    void say(String what) {
      String line = String.format("%-36s %s", "[" + Thread.currentThread().getName() + "]", what);
      lines.add(line);
      out.println(line);
    }

    /** Records {@code what} and returns {@code value}, for use inside a pipeline. */
    <T> T say(String what, T value) {
      say(what);
      return value;
    }

    List<String> lines() {
      synchronized (lines) {
        return List.copyOf(lines);
      }
    }
  }
}
