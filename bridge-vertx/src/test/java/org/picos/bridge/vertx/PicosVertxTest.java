package org.picos.bridge.vertx;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.internal.VertxInternal;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.sched.Schedulers;

@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PicosVertxTest {
  private Vertx vertx;

  @BeforeEach
  void startVertx() {
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
  }

  @AfterEach
  void closeVertx() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /** Awaits a Vert.x future from the test thread. */
  static <T> T get(Future<T> future) throws Exception {
    return future.await(10, TimeUnit.SECONDS);
  }

  /** Waits until {@code condition} holds, failing after ten seconds instead of hanging. */
  static void until(BooleanSupplier condition) throws InterruptedException {
    for (int i = 0; !condition.getAsBoolean(); i++) {
      if (i == 10_000) {
        fail("condition not reached within 10 s");
      }
      Thread.sleep(1);
    }
  }

  /** A future completed later from a thread that is not Vert.x's. */
  static <T> Future<T> completeElsewhere(T value) {
    Promise<T> promise = Promise.promise();
    CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS).execute(() -> promise.complete(value));
    return promise.future();
  }

  record Seen(Context context, Thread thread) {
    static Seen now() {
      return new Seen(Vertx.currentContext(), Thread.currentThread());
    }
  }

  @Test
  void fibersOfAContextSchedulerRunOnItsThreadWithItsContextBeforeAndAfterAwaits() throws Exception {
    Context ctx = vertx.getOrCreateContext();
    Thread loop = get(Future.<Thread>future(p -> ctx.runOnContext(v -> p.complete(Thread.currentThread()))));
    Scheduler s = PicosVertx.scheduler(ctx);
    List<Seen> seen = s.run(() -> {
      List<Seen> list = new ArrayList<>();
      list.add(Seen.now());
      PicosVertx.await(vertx.timer(10));
      list.add(Seen.now());
      assertEquals("elsewhere", PicosVertx.await(completeElsewhere("elsewhere")));
      list.add(Seen.now());
      Computation<Seen> child = Fiber.spawn(() -> {
        Fiber.yield();
        return Seen.now();
      });
      list.add(child.await());
      list.add(Seen.now());
      return list;
    });
    assertEquals(5, seen.size());
    for (Seen each : seen) {
      assertSame(ctx, each.context());
      assertSame(loop, each.thread());
    }
    s.close();
    assertTrue(s.isClosed());
  }

  @Test
  void aVertxSchedulerGivesEachFiberAFreshEventLoopContextForLife() throws Exception {
    Scheduler s = PicosVertx.scheduler(vertx);
    List<Computation<List<Context>>> fibers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      fibers.add(s.start(() -> {
        Context first = Vertx.currentContext();
        PicosVertx.await(vertx.timer(5));
        Context afterTimer = Vertx.currentContext();
        PicosVertx.await(completeElsewhere(1));
        Context child = Fiber.spawn(Vertx::currentContext).await();
        return List.of(first, afterTimer, Vertx.currentContext(), child);
      }));
    }
    Set<Context> distinct = new HashSet<>();
    for (Computation<List<Context>> f : fibers) {
      List<Context> contexts = f.await();
      Context first = contexts.get(0);
      assertNotNull(first);
      assertTrue(first.isEventLoopContext());
      assertSame(first, contexts.get(1));
      assertSame(first, contexts.get(2));
      assertNotSame(first, contexts.get(3), "a child fiber gets a fresh context of its own");
      distinct.add(first);
      distinct.add(contexts.get(3));
    }
    assertEquals(8, distinct.size());
    s.close();
  }

  @Test
  void futureRunsTheBodyInAFiberOnTheContextAndCompletesAVertxFuture() throws Exception {
    Context ctx = vertx.getOrCreateContext();
    Future<String> ok = PicosVertx.future(ctx, () -> {
      assertSame(ctx, Vertx.currentContext());
      int waited = PicosVertx.await(completeElsewhere(41));
      assertSame(ctx, Vertx.currentContext());
      return "answer " + (waited + 1);
    });
    assertEquals("answer 42", get(ok));

    IllegalArgumentException boom = new IllegalArgumentException("boom");
    Future<String> failed = PicosVertx.future(ctx, () -> {
      PicosVertx.await(vertx.timer(1));
      throw boom;
    });
    Exception thrown = assertThrows(Exception.class, () -> get(failed));
    assertSame(boom, thrown);

    AtomicReference<Context> callbackContext = new AtomicReference<>();
    get(PicosVertx.future(ctx, () -> 1).andThen(r -> callbackContext.set(Vertx.currentContext())));
    assertSame(ctx, callbackContext.get());
  }

  @Test
  void awaitKeepsTheFailureTypeAndCompletedFuturesAnswerAtOnceEvenOnTheEventLoop() throws Exception {
    IllegalStateException unchecked = new IllegalStateException("unchecked");
    IOException checked = new IOException("checked");
    Context ctx = vertx.getOrCreateContext();
    List<Object> outcomes = get(Future.<List<Object>>future(p -> ctx.runOnContext(v -> {
      List<Object> list = new ArrayList<>();
      list.add(PicosVertx.await(Future.succeededFuture("done")));
      try {
        PicosVertx.await(Future.failedFuture(unchecked));
      } catch (RuntimeException e) {
        list.add(e);
      }
      try {
        PicosVertx.await(Future.failedFuture(checked));
      } catch (CompletionException e) {
        list.add(e.getCause());
      }
      p.complete(list);
    })));
    assertEquals(List.of("done", unchecked, checked), outcomes);

    Scheduler s = PicosVertx.scheduler(ctx);
    RuntimeException later = new RuntimeException("later");
    Promise<String> promise = Promise.promise();
    Computation<String> c = s.start(() -> PicosVertx.await(promise.future()));
    CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS).execute(() -> promise.fail(later));
    assertSame(later, assertThrows(RuntimeException.class, c::await));
    s.close();
  }

  @Test
  void cancellingTheFiberDetachesItsWaitOnAVertxFuture() throws Exception {
    Scheduler s = PicosVertx.scheduler(vertx.getOrCreateContext());
    Promise<String> never = Promise.promise();
    AtomicBoolean waiting = new AtomicBoolean();
    CompletableFuture<Throwable> woke = new CompletableFuture<>();
    Computation<String> c = s.start(() -> {
      waiting.set(true);
      try {
        return PicosVertx.await(never.future());
      } catch (CancellationException e) {
        woke.complete(e);
        throw e;
      }
    });
    until(waiting::get);
    CancellationException cause = new CancellationException("stop waiting");
    c.tryCancel(cause);
    assertSame(cause, woke.get(10, TimeUnit.SECONDS), "the fiber woke with the cause");
    never.complete("too late");
    assertEquals("still works", s.run(() -> PicosVertx.await(completeElsewhere("still works"))));
    s.close();
  }

  @Test
  void cancelAfterUsesAVertxTimer() throws Exception {
    Scheduler s = PicosVertx.scheduler(vertx.getOrCreateContext());
    CompletableFuture<Boolean> firedOnEventLoop = new CompletableFuture<>();
    CancellationException timeout = new CancellationException("timed out");
    CancellationException thrown = assertThrows(CancellationException.class, () -> s.run(() -> {
      Computation<?> self = Fiber.current().computation();
      self.whenDone(() -> firedOnEventLoop.complete(Context.isOnEventLoopThread()));
      self.cancelAfter(Duration.ofMillis(30), timeout);
      return PicosVertx.await(Promise.<String>promise().future());
    }));
    assertSame(timeout, thrown);
    assertTrue(firedOnEventLoop.get(10, TimeUnit.SECONDS), "the timeout fired from a Vert.x timer, on an event loop");
    s.close();
  }

  @Test
  void waitingOnTheEventLoopOutsideAFiberFailsWithAClearMessage() throws Exception {
    Context ctx = vertx.getOrCreateContext();
    AtomicReference<Throwable> onLoop = new AtomicReference<>();
    get(Future.<Void>future(p -> ctx.runOnContext(v -> {
      try {
        PicosVertx.await(Promise.<String>promise().future());
      } catch (Throwable e) {
        onLoop.set(e);
      }
      try {
        Computation.create().await();
      } catch (IllegalStateException e) {
        e.addSuppressed(onLoop.get());
        onLoop.set(e);
      }
      p.complete();
    })));
    Throwable e = onLoop.get();
    assertInstanceOf(IllegalStateException.class, e);
    assertTrue(e.getMessage().contains("outside a fiber on the Vert.x event-loop thread"), e.getMessage());
    assertTrue(e.getMessage().contains("PicosVertx.future(Vertx.currentContext()"), e.getMessage());
    assertEquals(1, e.getSuppressed().length);
    assertEquals(e.getMessage(), e.getSuppressed()[0].getMessage());

    // A plain thread that is not an event loop may block.
    assertEquals("plain", PicosVertx.await(completeElsewhere("plain")));
  }

  @Test
  void closingVertxEndsSuspendedFibersWithACancellationNamingTheShutdown() throws Exception {
    Context ctx = vertx.getOrCreateContext();
    Scheduler onContext = PicosVertx.scheduler(ctx);
    Scheduler onVertx = PicosVertx.scheduler(vertx);
    List<Computation<String>> suspended = new ArrayList<>();
    AtomicReference<Boolean> finallyRan = new AtomicReference<>(false);
    suspended.add(onContext.start(() -> {
      try {
        return PicosVertx.await(Promise.<String>promise().future());
      } finally {
        finallyRan.set(true);
      }
    }));
    suspended.add(onVertx.start(() -> PicosVertx.await(Promise.<String>promise().future())));
    CompletableFuture<Throwable> viaFutureFailure = new CompletableFuture<>();
    PicosVertx.future(ctx, () -> PicosVertx.await(Promise.<String>promise().future()))
        .onFailure(viaFutureFailure::complete);

    get(vertx.close());

    for (Computation<String> c : suspended) {
      SchedulerClosedException e = assertThrows(SchedulerClosedException.class, c::await);
      assertTrue(e.getMessage().startsWith("Vert.x instance"), e.getMessage());
      assertTrue(e.getMessage().contains("was closed while this fiber"), e.getMessage());
    }
    assertTrue(finallyRan.get());
    assertInstanceOf(SchedulerClosedException.class, viaFutureFailure.get(10, TimeUnit.SECONDS));
    assertTrue(onContext.isClosed());
    assertTrue(onVertx.isClosed());

    SchedulerClosedException refused = assertThrows(SchedulerClosedException.class, () -> onContext.start(() -> 1));
    assertTrue(refused.getMessage().contains("is closed"), refused.getMessage());
    Future<Integer> late = PicosVertx.future(ctx, () -> 1);
    assertTrue(late.failed(), "a future on a closed Vert.x fails at once");
    assertInstanceOf(SchedulerClosedException.class, late.cause());
  }

  @Test
  void undeployingTheVerticleOfAContextEndsTheFibersOfItsSchedulersAndFutures() throws Exception {
    AtomicReference<Context> verticleContext = new AtomicReference<>();
    String id = get(vertx.deployVerticle(new VerticleBase() {
      @Override
      public Future<?> start() {
        verticleContext.set(context);
        return Future.succeededFuture();
      }
    }));
    Scheduler s = PicosVertx.scheduler(verticleContext.get());
    Computation<String> suspended = s.start(() -> PicosVertx.await(Promise.<String>promise().future()));
    CompletableFuture<Throwable> viaFuture = new CompletableFuture<>();
    PicosVertx.future(verticleContext.get(), () -> PicosVertx.await(Promise.<String>promise().future()))
        .onFailure(viaFuture::complete);
    get(vertx.undeploy(id));
    SchedulerClosedException e = assertThrows(SchedulerClosedException.class, suspended::await);
    assertTrue(e.getMessage().contains("Deployment " + id + " was undeployed"), e.getMessage());
    assertTrue(s.isClosed());
    Throwable failed = viaFuture.get(10, TimeUnit.SECONDS);
    assertInstanceOf(SchedulerClosedException.class, failed);
    assertTrue(failed.getMessage().contains("Deployment " + id + " was undeployed"), failed.getMessage());
    Future<Integer> late = PicosVertx.future(verticleContext.get(), () -> 1);
    assertInstanceOf(SchedulerClosedException.class, late.cause(), "no new fibers on an undeployed deployment");
  }

  @Test
  void closingAContextSchedulerCancelsItsFibersAndLeavesVertxRunning() throws Exception {
    Context ctx = vertx.getOrCreateContext();
    Scheduler s = PicosVertx.scheduler(ctx);
    Computation<String> suspended = s.start(() -> PicosVertx.await(Promise.<String>promise().future()));
    s.close();
    SchedulerClosedException e = assertThrows(SchedulerClosedException.class, suspended::await);
    assertTrue(e.getMessage().contains("was closed while this fiber was alive"), e.getMessage());
    assertEquals("alive", get(PicosVertx.future(ctx, () -> "alive")));
  }

  @Test
  void fibersOfOtherSchedulersAwaitVertxFutures() {
    Scheduler fifo = Schedulers.fifo();
    try {
      assertEquals(7, fifo.run(() -> PicosVertx.await(vertx.timer(5).map(7))));
    } finally {
      fifo.close();
    }
  }

  @Test
  void misuseGetsClearErrors() throws Exception {
    Context virtual = ((VertxInternal) vertx).createVirtualThreadContext();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PicosVertx.scheduler(virtual));
    assertTrue(e.getMessage().contains("virtual-thread context"), e.getMessage());
    assertTrue(e.getMessage().contains("Future.await()"), e.getMessage());
    IllegalArgumentException batch = assertThrows(IllegalArgumentException.class,
        () -> PicosVertx.iterate(vertx.eventBus().consumer("nowhere"), 0));
    assertEquals("iterate: batch must be positive, was 0", batch.getMessage());
    assertThrows(NullPointerException.class, () -> PicosVertx.scheduler((Context) null));
    assertThrows(NullPointerException.class, () -> PicosVertx.await(null));
  }
}
