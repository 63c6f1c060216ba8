package org.picos.bridge.vertx;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.bridge.vertx.PicosVertxTest.get;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.internal.ContextInternal;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.SchedulerClosedException;

@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FiberVerticleTest {
  private Vertx vertx;

  @BeforeEach
  void startVertx() {
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
  }

  @AfterEach
  void closeVertx() throws Exception {
    get(vertx.close());
  }

  /** Records its lifecycle; its start awaits before the deployment completes. */
  static final class Lifecycle extends FiberVerticle {
    final List<String> events = new CopyOnWriteArrayList<>();
    final CompletableFuture<Throwable> workerEnded = new CompletableFuture<>();
    volatile Context startContext;
    volatile Context stopContext;

    @Override
    protected void start() {
      startContext = Vertx.currentContext();
      assertTrue(Fiber.inFiber());
      PicosVertx.await(vertx.timer(20));
      assertSame(startContext, Vertx.currentContext());
      PicosVertx.future(context, () -> {
        try {
          return PicosVertx.await(Promise.<String>promise().future());
        } catch (RuntimeException e) {
          workerEnded.complete(e);
          throw e;
        }
      });
      events.add("started");
    }

    @Override
    protected void stop() {
      stopContext = Vertx.currentContext();
      PicosVertx.await(vertx.timer(10));
      events.add("stopped while the worker " + (workerEnded.isDone() ? "had ended" : "still waited"));
    }
  }

  @Test
  void startAndStopRunInFibersOnTheContextAndUndeployCancelsTheVerticlesFibers() throws Exception {
    Lifecycle verticle = new Lifecycle();
    String id = get(vertx.deployVerticle(verticle));
    assertEquals(List.of("started"), verticle.events, "the deployment completed after start() returned");
    assertSame(verticle.context, verticle.startContext);
    assertEquals(id, verticle.deploymentID());

    get(vertx.undeploy(id));
    assertSame(verticle.context, verticle.stopContext);
    assertEquals(List.of("started", "stopped while the worker still waited"), verticle.events);
    assertTrue(verticle.workerEnded.isDone(), "the undeployment completed after the verticle's fibers ended");
    Throwable cause = verticle.workerEnded.get();
    assertInstanceOf(SchedulerClosedException.class, cause);
    assertTrue(cause.getMessage().contains("was undeployed while this fiber was alive"), cause.getMessage());
    assertTrue(cause.getMessage().contains(id), cause.getMessage());
  }

  @Test
  void fiberDumpsNameTheVerticlesFibersAndTheirDeployment() throws Exception {
    Promise<Void> release = Promise.promise();
    CompletableFuture<Long> handlerFiber = new CompletableFuture<>();
    FiberVerticle verticle = new FiberVerticle() {
      @Override
      protected void start() {
        vertx.eventBus().consumer("dumped", fiberHandler(message -> {
          handlerFiber.complete(Fiber.current().id());
          PicosVertx.await(release.future()); // waits here until the test releases it
          message.reply("done");
        }));
      }
    };
    String id = get(vertx.deployVerticle(verticle));
    Future<Message<Object>> reply = vertx.eventBus().request("dumped", "go");
    long fiber = handlerFiber.get(10, TimeUnit.SECONDS);
    org.picos.Fibers.FiberInfo info = null;
    for (int k = 0; k < 2000 && info == null; k++) {
      info = org.picos.Fibers.dump().stream()
          .filter(i -> i.id() == fiber && i.state() == org.picos.Fibers.State.SUSPENDED
              && !i.stack().isEmpty())
          .findFirst().orElse(null);
      if (info == null) {
        Thread.sleep(5);
      }
    }
    assertNotNull(info, "the handler's fiber was never seen waiting: " + org.picos.Fibers.toText());
    assertEquals("FiberVerticle.fiberHandler", info.name());
    assertTrue(info.scope().contains("(deployment " + id + ")"), info.toString());
    assertTrue(info.scheduler().contains(id), info.toString());
    assertTrue(info.waitingFor().startsWith("PicosVertx.await on "), info.toString());
    assertTrue(info.stack().stream().anyMatch(f -> f.getClassName().startsWith(
        FiberVerticleTest.class.getName())), info.toString());
    release.complete();
    assertEquals("done", get(reply).body());
    get(vertx.undeploy(id));
  }

  @Test
  void aFailingStartFailsTheDeploymentWithTheSameException() {
    IllegalStateException boom = new IllegalStateException("cannot start");
    FiberVerticle failing = new FiberVerticle() {
      @Override
      protected void start() {
        PicosVertx.await(vertx.timer(5));
        throw boom;
      }
    };
    Exception thrown = assertThrows(Exception.class, () -> get(vertx.deployVerticle(failing)));
    assertSame(boom, thrown);
    assertTrue(vertx.deploymentIDs().isEmpty());
  }

  @Test
  void aFailingStopFailsTheUndeployment() throws Exception {
    IllegalStateException boom = new IllegalStateException("cannot stop");
    String id = get(vertx.deployVerticle(new FiberVerticle() {
      @Override
      protected void start() {}

      @Override
      protected void stop() {
        PicosVertx.await(vertx.timer(5));
        throw boom;
      }
    }));
    Exception thrown = assertThrows(Exception.class, () -> get(vertx.undeploy(id)));
    assertSame(boom, thrown);
  }

  @Test
  void fiberHandlersServeEventBusRequestsAndHttpRequestsInFibers() throws Exception {
    CompletableFuture<Integer> port = new CompletableFuture<>();
    FiberVerticle server = new FiberVerticle() {
      @Override
      protected void start() {
        vertx.eventBus().<String>consumer("greet", fiberHandler(message -> {
          Context here = Vertx.currentContext();
          PicosVertx.await(vertx.timer(5));
          assertSame(here, Vertx.currentContext());
          message.reply("hello " + message.body() + (((ContextInternal) here).unwrap() == context ? "" : " elsewhere"));
        }));
        HttpServer http = vertx.createHttpServer().requestHandler(fiberHandler(request -> {
          // fiberHandler paused the request: body() collects it once resumed.
          Future<Buffer> whole = request.body();
          request.resume();
          String body = PicosVertx.await(whole).toString();
          String greeting = PicosVertx.<Message<String>>await(vertx.eventBus().request("greet", body)).body();
          request.response().end(greeting);
        }));
        port.complete(PicosVertx.await(http.listen(0, "127.0.0.1")).actualPort());
      }
    };
    get(vertx.deployVerticle(server));

    assertEquals("hello bus", get(vertx.eventBus().<String>request("greet", "bus")).body());
    // Held until the exchange is over: a client nobody references may be collected, and its
    // pool closed, between the request and the response ("Pool closed", seen under load).
    HttpClientAgent client = vertx.createHttpClient();
    try {
      HttpClientRequest request = get(client.request(HttpMethod.POST, port.get(), "127.0.0.1", "/"));
      // body() in the response callback itself: a response emits its data as soon as it arrives.
      assertEquals("hello http", get(request.send(Buffer.buffer("http")).compose(HttpClientResponse::body)).toString());
    } finally {
      get(client.close());
    }
  }

  @Test
  void aHandlerFibersFailureGoesToTheContextExceptionHandler() throws Exception {
    IllegalStateException boom = new IllegalStateException("handler failed");
    CompletableFuture<Throwable> reported = new CompletableFuture<>();
    get(vertx.deployVerticle(new FiberVerticle() {
      @Override
      protected void start() {
        context.exceptionHandler(reported::complete);
        vertx.eventBus().consumer("fail", fiberHandler(message -> {
          PicosVertx.await(vertx.timer(1));
          throw boom;
        }));
      }
    }));
    vertx.eventBus().send("fail", "now");
    assertSame(boom, reported.get(10, TimeUnit.SECONDS));
  }

  @Test
  void closingVertxEndsTheVerticlesSuspendedFibersWithACauseNamingTheShutdown() throws Exception {
    CompletableFuture<Computation<String>> suspended = new CompletableFuture<>();
    CompletableFuture<Boolean> stopped = new CompletableFuture<>();
    get(vertx.deployVerticle(new FiberVerticle() {
      @Override
      protected void start() {
        suspended.complete(spawn(() -> PicosVertx.await(Promise.<String>promise().future())));
      }

      @Override
      protected void stop() {
        stopped.complete(true);
      }
    }));
    get(vertx.close());
    assertTrue(stopped.get(10, TimeUnit.SECONDS), "stop() ran while Vert.x closed");
    SchedulerClosedException e = assertThrows(SchedulerClosedException.class, suspended.get()::await);
    assertTrue(e.getMessage().startsWith("Vert.x instance"), e.getMessage());
    assertTrue(e.getMessage().contains("was closed, undeploying verticle"), e.getMessage());
  }

  @Test
  void misuseGetsClearErrors() throws Exception {
    FiberVerticle notDeployed = new FiberVerticle() {
      @Override
      protected void start() {}
    };
    IllegalStateException early = assertThrows(IllegalStateException.class, () -> notDeployed.spawn(() -> 1));
    assertTrue(early.getMessage().contains("is not deployed yet"), early.getMessage());

    get(vertx.deployVerticle(notDeployed));
    Future<String> twice = vertx.deployVerticle(notDeployed);
    Exception again = assertThrows(Exception.class, () -> get(twice));
    assertInstanceOf(IllegalStateException.class, again);
    assertTrue(again.getMessage().contains("is already deployed; deploy a new instance"), again.getMessage());
  }
}
