package org.picos.bridge.vertx;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.bridge.vertx.PicosVertxTest.get;
import static org.picos.bridge.vertx.PicosVertxTest.until;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxException;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.streams.ReadStream;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;

@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ReadStreamIteratorTest {
  private static final int CHUNK = 64 * 1024;

  private Vertx vertx;

  @BeforeEach
  void startVertx() {
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
  }

  @AfterEach
  void closeVertx() throws Exception {
    get(vertx.close());
  }

  /** A real stream seen through a window that records what the iterator asks of it. */
  static final class Recording implements ReadStream<Buffer> {
    final ReadStream<Buffer> real;
    final AtomicLong fetched = new AtomicLong();
    final AtomicLong delivered = new AtomicLong();
    final AtomicLong overDemand = new AtomicLong();
    final List<Long> fetchSizes = new CopyOnWriteArrayList<>();
    volatile boolean pausedBeforeHandler;
    volatile boolean resumed;
    private volatile boolean paused;

    Recording(ReadStream<Buffer> real) {
      this.real = real;
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> handler) {
      pausedBeforeHandler = paused;
      real.handler(handler == null ? null : item -> {
        if (delivered.incrementAndGet() > fetched.get()) {
          overDemand.incrementAndGet();
        }
        handler.handle(item);
      });
      return this;
    }

    @Override
    public ReadStream<Buffer> pause() {
      paused = true;
      real.pause();
      return this;
    }

    @Override
    public ReadStream<Buffer> resume() {
      resumed = true;
      real.resume();
      return this;
    }

    @Override
    public ReadStream<Buffer> fetch(long amount) {
      fetchSizes.add(amount);
      fetched.addAndGet(amount);
      real.fetch(amount);
      return this;
    }

    @Override
    public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      real.exceptionHandler(handler);
      return this;
    }

    @Override
    public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
      real.endHandler(endHandler);
      return this;
    }
  }

  private int listen(Consumer<NetSocket> onConnect) throws Exception {
    NetServer server = vertx.createNetServer().connectHandler(onConnect::accept);
    return get(server.listen(0, "127.0.0.1")).actualPort();
  }

  record ServerSide(long heldWhileStalled, long bytes) {}

  @Test
  void aSlowFiberConsumerHoldsTheSocketPausedAndFetchesInBatches() throws Exception {
    Promise<Long> clientFull = Promise.promise();
    CompletableFuture<ServerSide> server = new CompletableFuture<>();
    CompletableFuture<Recording> recording = new CompletableFuture<>();
    int port = listen(socket -> PicosVertx.future(Vertx.currentContext(), () -> {
      Recording rec = new Recording(socket);
      recording.complete(rec);
      long bytes = 0;
      try (ReadStreamIterator<Buffer> it = PicosVertx.iterate(rec, 2)) {
        bytes += it.next().length();
        // Stall: consume nothing more until the client's writes back up.
        PicosVertx.await(clientFull.future());
        long held = rec.delivered.get();
        while (it.hasNext()) {
          bytes += it.next().length();
          Fiber.yield();
        }
        return new ServerSide(held, bytes);
      }
    }).onComplete((ok, failure) -> {
      if (failure != null) {
        server.completeExceptionally(failure);
      } else {
        server.complete(ok);
      }
    }));

    Future<Long> client = PicosVertx.future(vertx.getOrCreateContext(), () -> {
      NetSocket socket = PicosVertx.await(vertx.createNetClient().connect(port, "127.0.0.1"));
      Buffer chunk = Buffer.buffer(new byte[CHUNK]);
      long written = 0;
      while (!socket.writeQueueFull()) {
        if (written > 512L * 1024 * 1024) {
          throw new AssertionError("the client never felt backpressure from the paused server");
        }
        socket.write(chunk);
        written += CHUNK;
        Fiber.yield();
      }
      clientFull.complete(written);
      Promise<Void> drained = Promise.promise();
      socket.drainHandler(v -> drained.tryComplete());
      if (socket.writeQueueFull()) {
        PicosVertx.await(drained.future());
      }
      PicosVertx.await(socket.end());
      return written;
    });

    long written = get(client);
    ServerSide side = server.get(20, TimeUnit.SECONDS);
    Recording rec = recording.get();
    assertEquals(written, side.bytes(), "every byte arrives, in batches");
    assertTrue(side.heldWhileStalled() <= 2,
        "while the consumer stalled, at most one batch was delivered: " + side.heldWhileStalled());
    assertTrue(written > 4L * CHUNK, "the client wrote far more than was delivered: " + written);
    assertTrue(rec.pausedBeforeHandler, "the stream is paused before the handler is set");
    assertFalse(rec.resumed, "the stream is never resumed, only fetched");
    assertEquals(0, rec.overDemand.get(), "the stream never delivers more than was fetched");
    assertTrue(rec.fetchSizes.size() > 1);
    assertTrue(rec.fetchSizes.stream().allMatch(n -> n == 2), rec.fetchSizes.toString());
  }

  @Test
  void aForEachLoopConsumesTheStreamPrefetchAtATimeAndTheIterableServesOneLoop() throws Exception {
    CompletableFuture<Recording> recording = new CompletableFuture<>();
    CompletableFuture<String> received = new CompletableFuture<>();
    CompletableFuture<Throwable> secondLoop = new CompletableFuture<>();
    int port = listen(socket -> {
      Recording rec = new Recording(socket);
      recording.complete(rec);
      ReadStreamIterator<Buffer> body = PicosVertx.iterate(rec, 3);
      PicosVertx.future(Vertx.currentContext(), () -> {
        StringBuilder text = new StringBuilder();
        try (body) {
          for (Buffer chunk : body) {
            text.append(chunk.toString());
          }
          secondLoop.complete(assertThrows(IllegalStateException.class, body::iterator));
        }
        return text.toString();
      }).onComplete((ok, failure) -> {
        if (failure != null) {
          received.completeExceptionally(failure);
        } else {
          received.complete(ok);
        }
      });
    });
    String sent = "one stream, read with a for-each loop in a fiber";
    NetSocket client = get(vertx.createNetClient().connect(port, "127.0.0.1"));
    for (String word : sent.split("(?<= )")) {
      get(client.write(word));
    }
    get(client.end());
    assertEquals(sent, received.get(10, TimeUnit.SECONDS));
    assertTrue(secondLoop.get().getMessage().contains("may be called once"), secondLoop.get().getMessage());
    Recording rec = recording.get();
    assertFalse(rec.fetchSizes.isEmpty());
    assertTrue(rec.fetchSizes.stream().allMatch(n -> n == 3), rec.fetchSizes.toString());
    assertEquals(0, rec.overDemand.get(), "the stream never delivers more than was fetched");
  }

  @Test
  void anHttpRequestBodyIsReadInAFiberOnTheRequestContext() throws Exception {
    int size = 1024 * 1024;
    HttpServer server = vertx.createHttpServer().requestHandler(request -> {
      // The fiber starts after this handler returns: pause now so that no chunk is emitted
      // before the iterator is there.
      request.pause();
      Context requestContext = Vertx.currentContext();
      PicosVertx.future(requestContext, () -> {
        long bytes = 0;
        int chunks = 0;
        try (ReadStreamIterator<Buffer> body = PicosVertx.iterate(request)) {
          while (body.hasNext()) {
            bytes += body.next().length();
            chunks++;
            PicosVertx.await(vertx.timer(1));
            assertSame(requestContext, Vertx.currentContext());
          }
        }
        return PicosVertx.await(request.response().end(bytes + " bytes in " + (chunks > 1 ? "chunks" : "one chunk")));
      }).onFailure(failure -> request.response().setStatusCode(500).end(failure.toString()));
    });
    int port = get(server.listen(0, "127.0.0.1")).actualPort();
    HttpClientAgent client = vertx.createHttpClient();
    HttpClientRequest request = get(client.request(HttpMethod.POST, port, "127.0.0.1", "/"));
    // body() in the response callback itself: a response emits its data as soon as it arrives.
    String response = get(request.send(Buffer.buffer(new byte[size]))
        .compose(r -> r.body().map(body -> r.statusCode() + " " + body)));
    assertEquals("200 " + size + " bytes in chunks", response);
  }

  @Test
  void awaitStreamPausesAnHttpResponseSoThatAFiberReadsAllOfItsBody() throws Exception {
    int size = 512 * 1024;
    HttpServer server = vertx.createHttpServer()
        .requestHandler(request -> request.response().end(Buffer.buffer(new byte[size])));
    int port = get(server.listen(0, "127.0.0.1")).actualPort();
    HttpClientAgent client = vertx.createHttpClient();
    long bytes = get(PicosVertx.future(vertx.getOrCreateContext(), () -> {
      HttpClientRequest request = PicosVertx.await(client.request(HttpMethod.GET, port, "127.0.0.1", "/"));
      HttpClientResponse response = PicosVertx.awaitStream(request.send());
      PicosVertx.await(vertx.timer(20)); // the whole body has arrived by now: paused, not dropped
      long total = 0;
      try (ReadStreamIterator<Buffer> body = PicosVertx.iterate(response)) {
        while (body.hasNext()) {
          total += body.next().length();
        }
      }
      return total;
    }));
    assertEquals(size, bytes);
  }

  @Test
  void theStreamsFailureReachesTheConsumerAfterTheItemsBeforeIt() throws Exception {
    Promise<Void> gotFirst = Promise.promise();
    CompletableFuture<Throwable> failure = new CompletableFuture<>();
    CompletableFuture<Throwable> again = new CompletableFuture<>();
    HttpServer server = vertx.createHttpServer().requestHandler(request -> {
      // Made in the handler itself (outside the fiber): the stream is paused from the start.
      ReadStreamIterator<Buffer> body = PicosVertx.iterate(request);
      PicosVertx.future(Vertx.currentContext(), () -> {
        body.next();
        gotFirst.complete();
        try {
          while (body.hasNext()) {
            body.next();
          }
          failure.complete(null);
        } catch (RuntimeException e) {
          failure.complete(e);
          again.complete(assertThrows(RuntimeException.class, body::hasNext));
        }
        return null;
      });
    });
    int port = get(server.listen(0, "127.0.0.1")).actualPort();
    HttpClientRequest request = get(vertx.createHttpClient().request(HttpMethod.POST, port, "127.0.0.1", "/"));
    request.setChunked(true);
    get(request.write(Buffer.buffer("first chunk")));
    get(gotFirst.future());
    get(request.connection().close());
    Throwable e = failure.get(20, TimeUnit.SECONDS);
    assertInstanceOf(VertxException.class, e, "the body ended with the connection's failure, not a normal end");
    assertSame(e, again.get(), "the failure is sticky");
  }

  @Test
  void cancellingTheConsumerStopsItAndLeavesTheStreamPausedForOthersAndASecondConsumerIsRefused() throws Exception {
    CompletableFuture<NetSocket> accepted = new CompletableFuture<>();
    int port = listen(accepted::complete);
    NetClient netClient = vertx.createNetClient();
    NetSocket clientSocket = get(netClient.connect(port, "127.0.0.1"));
    NetSocket socket = accepted.get(10, TimeUnit.SECONDS);

    Context ctx = vertx.getOrCreateContext();
    Recording rec = new Recording(socket);
    ReadStreamIterator<Buffer> it = PicosVertx.iterate(rec);
    CompletableFuture<Throwable> consumerEnded = new CompletableFuture<>();
    Computation<Object> consumer = PicosVertx.scheduler(ctx).start(() -> {
      try {
        return it.hasNext();
      } catch (RuntimeException e) {
        consumerEnded.complete(e);
        throw e;
      }
    });
    until(() -> !rec.fetchSizes.isEmpty()); // the consumer waits in hasNext
    IllegalStateException second = assertThrows(IllegalStateException.class, it::hasNext);
    assertTrue(second.getMessage().contains("one consumer at a time"), second.getMessage());

    CancellationException cause = new CancellationException("consumer no longer needed");
    consumer.tryCancel(cause);
    assertSame(cause, consumerEnded.get(10, TimeUnit.SECONDS));
    assertFalse(it.hasNext(), "a cancelled iterator is closed");
    assertEquals(List.of(16L), rec.fetchSizes);

    // The socket was left paused; new handlers take it over.
    CompletableFuture<String> received = new CompletableFuture<>();
    Buffer all = Buffer.buffer();
    socket.handler(b -> {
      all.appendBuffer(b);
      if (all.length() == 5) {
        received.complete(all.toString());
      }
    });
    socket.resume();
    get(clientSocket.write("hello"));
    assertEquals("hello", received.get(10, TimeUnit.SECONDS));
  }

  @Test
  void iteratingOnTheEventLoopOutsideAFiberFailsInsteadOfBlocking() throws Exception {
    Context ctx = vertx.getOrCreateContext();
    String message = get(Future.<String>future(p -> ctx.runOnContext(v -> {
      ReadStreamIterator<Message<String>> it = PicosVertx.iterate(vertx.eventBus().<String>consumer("nobody-sends-here"));
      try {
        it.hasNext();
        p.fail("hasNext blocked the event loop");
      } catch (IllegalStateException e) {
        p.complete(e.getMessage());
      } finally {
        it.close();
      }
    })));
    assertTrue(message.contains("outside a fiber on the Vert.x event-loop thread"), message);
  }
}
