package org.picos.examples.vertx;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.FileSystem;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.bridge.vertx.FiberVerticle;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.bridge.vertx.ReadStreamIterator;

/**
 * A Vert.x core HTTP server whose request handlers are straight-line fibers on the event loop:
 * each awaits Vert.x futures (timers, file system calls, the response) and reads the request body
 * as a stream with backpressure, without callbacks and without blocking the loop. {@code main}
 * starts it on 127.0.0.1, sends a few requests with the Vert.x HTTP client (from fibers too),
 * prints what happened, and exits.
 *
 * <p>Run it with {@code mvn -q -B -DskipTests -Dtour -Dtour.main=org.picos.examples.vertx.FiberHttpServer
 * package} (the JVM needs {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}).
 */
public final class FiberHttpServer extends FiberVerticle {
  private volatile int port;

  /** Starts listening; the deployment completes once the server is bound. */
  @Override
  protected void start() {
    HttpServer server = vertx.createHttpServer().requestHandler(fiberHandler(this::handle));
    port = PicosVertx.await(server.listen(0, "127.0.0.1")).actualPort();
    say("server listening on 127.0.0.1:" + port);
  }

  /** The port the server listens on, once deployed. */
  public int port() {
    return port;
  }

  /** One request, in its own fiber on the verticle's event loop. */
  private void handle(HttpServerRequest request) {
    switch (request.path()) {
      case "/hello" -> hello(request);
      case "/upload" -> upload(request);
      case "/lookup" -> lookup(request);
      default -> respond(request, 404, "no such path: " + request.path());
    }
  }

  private void hello(HttpServerRequest request) {
    PicosVertx.await(vertx.timer(10)); // a Vert.x timer: the fiber suspends, the loop serves others
    respond(request, 200, "hello " + request.getParam("name", "stranger"));
  }

  /** Streams the body to a temporary file, chunk by chunk: the request stays paused while the disk catches up. */
  private void upload(HttpServerRequest request) {
    FileSystem fs = vertx.fileSystem();
    String path = PicosVertx.await(fs.createTempFile("picos-upload", ".bin"));
    long bytes = 0;
    int chunks = 0;
    AsyncFile file = PicosVertx.await(fs.open(path, new OpenOptions().setWrite(true)));
    try (ReadStreamIterator<Buffer> body = PicosVertx.iterate(request)) {
      while (body.hasNext()) {
        Buffer chunk = body.next();
        PicosVertx.await(file.write(chunk));
        bytes += chunk.length();
        chunks++;
      }
    } catch (RuntimeException failedOrCancelled) {
      file.close();
      throw failedOrCancelled;
    }
    PicosVertx.await(file.close());
    long onDisk = PicosVertx.await(fs.props(path)).size();
    PicosVertx.await(fs.delete(path));
    say("upload: stored " + bytes + " bytes arriving in " + chunks + " chunks");
    respond(request, 200, "stored " + bytes + " bytes (" + onDisk + " on disk) in " + chunks + " chunks");
  }

  /** A lookup that is too slow: a Picos timeout (a Vert.x timer underneath) cancels it. */
  private void lookup(HttpServerRequest request) {
    Computation<String> slow = Fiber.spawn(() -> {
      PicosVertx.await(vertx.timer(5_000));
      return "found it";
    });
    slow.cancelAfter(Duration.ofMillis(100), new CancellationException("the lookup took longer than 100 ms"));
    try {
      respond(request, 200, slow.await());
    } catch (CancellationException timedOut) {
      say("lookup: " + timedOut.getMessage() + "; answering 504");
      respond(request, 504, timedOut.getMessage());
    }
  }

  private static void respond(HttpServerRequest request, int status, String text) {
    request.resume(); // fiberHandler paused the request; let the rest of it (if unread) through
    PicosVertx.await(request.response().setStatusCode(status).end(text));
  }

  /** Sends one request from a fiber and reads the response body as a stream. */
  static String call(HttpClientAgent client, int port, HttpMethod method, String uri, Buffer body) {
    HttpClientRequest request = PicosVertx.await(client.request(method, port, "127.0.0.1", uri));
    Future<HttpClientResponse> sent = body == null ? request.send() : request.send(body);
    HttpClientResponse response = PicosVertx.awaitStream(sent);
    StringBuilder text = new StringBuilder();
    try (ReadStreamIterator<Buffer> in = PicosVertx.iterate(response)) {
      while (in.hasNext()) {
        text.append(in.next());
      }
    }
    return method + " " + uri + " -> " + response.statusCode() + " " + text;
  }

  static void say(String what) {
    System.out.println("[" + Thread.currentThread().getName() + "] " + what);
  }

  public static void main(String[] args) throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      FiberHttpServer server = new FiberHttpServer();
      vertx.deployVerticle(server).await(30, TimeUnit.SECONDS);
      HttpClientAgent client = vertx.createHttpClient();
      Scheduler clients = PicosVertx.newScheduler(vertx); // our own: closed below
      try {
        clients.run(() -> {
          say(call(client, server.port(), HttpMethod.GET, "/hello?name=picos", null));
          // Three requests at once, each from its own client fiber.
          List<Computation<String>> calls = List.of(
              Fiber.spawn(() -> call(client, server.port(), HttpMethod.POST, "/upload",
                  Buffer.buffer(new byte[4 * 1024 * 1024]))),
              Fiber.spawn(() -> call(client, server.port(), HttpMethod.GET, "/lookup", null)),
              Fiber.spawn(() -> call(client, server.port(), HttpMethod.GET, "/missing", null)));
          for (Computation<String> c : calls) {
            say(c.await());
          }
          return null;
        });
      } finally {
        clients.close();
      }
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
    say("done: every handler was a fiber on the event loop, and none blocked it");
  }
}
