package org.picos.bridge.vertx;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
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
    runOnItsThreadWithItsContext(ctx, PicosVertx.scheduler(ctx));
    Scheduler own = PicosVertx.newScheduler(ctx);
    runOnItsThreadWithItsContext(ctx, own);
    own.close();
    assertTrue(own.isClosed());
  }

  private void runOnItsThreadWithItsContext(Context ctx, Scheduler s) throws Exception {
    Thread loop = get(Future.<Thread>future(p -> ctx.runOnContext(v -> p.complete(Thread.currentThread()))));
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
  }

  @Test
  void aVertxSchedulerGivesEachFiberAFreshEventLoopContextForLife() throws Exception {
    freshContextForEachFiber(PicosVertx.scheduler(vertx));
    Scheduler own = PicosVertx.newScheduler(vertx);
    freshContextForEachFiber(own);
    own.close();
  }

  private void freshContextForEachFiber(Scheduler s) {
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
  }

  @Test
  void sharedSchedulersAreOnePerContextAndPerInstanceHeldByTheHostAndCannotBeClosed() {
    Context one = vertx.getOrCreateContext();
    Context two = vertx.getOrCreateContext();
    assertNotSame(one, two);
    assertSame(PicosVertx.scheduler(one), PicosVertx.scheduler(one));
    assertNotSame(PicosVertx.scheduler(one), PicosVertx.scheduler(two));
    assertSame(PicosVertx.scheduler(vertx), PicosVertx.scheduler(vertx));
    assertNotSame(PicosVertx.newScheduler(one), PicosVertx.newScheduler(one));

    java.lang.ref.WeakReference<Scheduler> onContext = new java.lang.ref.WeakReference<>(PicosVertx.scheduler(one));
    java.lang.ref.WeakReference<Scheduler> onVertx = new java.lang.ref.WeakReference<>(PicosVertx.scheduler(vertx));
    for (int i = 0; i < 5; i++) {
      System.gc();
    }
    assertSame(onContext.get(), PicosVertx.scheduler(one), "the context keeps its scheduler");
    assertSame(onVertx.get(), PicosVertx.scheduler(vertx), "the instance keeps its scheduler");

    Computation<Object> running = PicosVertx.scheduler(one).start(() -> PicosVertx.await(Promise.promise().future()));
    UnsupportedOperationException e =
        assertThrows(UnsupportedOperationException.class, PicosVertx.scheduler(one)::close);
    assertTrue(e.getMessage().contains("PicosVertx.newScheduler(context)"), e.getMessage());
    e = assertThrows(UnsupportedOperationException.class, PicosVertx.scheduler(vertx)::close);
    assertTrue(e.getMessage().contains("PicosVertx.newScheduler(vertx)"), e.getMessage());
    assertTrue(running.isRunning(), "a refused close cancels nothing");
    running.tryCancel(new CancellationException("done"));
  }

  @Test
  void theSharedSchedulerOfADuplicateContextRunsFibersThereAndTheDeploymentEndsThem() throws Exception {
    AtomicReference<Context> verticleContext = new AtomicReference<>();
    String id = get(vertx.deployVerticle(new VerticleBase() {
      @Override
      public Future<?> start() {
        verticleContext.set(context);
        return Future.succeededFuture();
      }
    }));
    ContextInternal base = (ContextInternal) verticleContext.get();
    ContextInternal duplicate = base.duplicate();
    Scheduler onDuplicate = PicosVertx.scheduler(duplicate);
    assertNotSame(PicosVertx.scheduler(base), onDuplicate);
    assertSame(onDuplicate, PicosVertx.scheduler(duplicate));
    List<Context> seen = onDuplicate.run(() -> {
      Context first = Vertx.currentContext();
      PicosVertx.await(completeElsewhere(1));
      return List.of(first, Vertx.currentContext(), Fiber.spawn(Vertx::currentContext).await());
    });
    assertEquals(List.of(duplicate, duplicate, duplicate), seen);

    Computation<Object> suspended = onDuplicate.start(() -> PicosVertx.await(Promise.promise().future()));
    get(vertx.undeploy(id));
    SchedulerClosedException e = assertThrows(SchedulerClosedException.class, suspended::await);
    assertTrue(e.getMessage().contains("Deployment " + id + " was undeployed"), e.getMessage());
    assertTrue(onDuplicate.isClosed());
  }

  @Test
  void futureOfACallableRunsOnTheCallingFibersSchedulerElseOnTheSharedOneAndBindsToTheCallersContext()
      throws Exception {
    Context ctx = vertx.getOrCreateContext();
    Future<Context> inner = PicosVertx.scheduler(ctx).run(() -> {
      Future<Context> f = PicosVertx.future(Vertx::currentContext);
      PicosVertx.await(f);
      return f.map(c -> {
        assertSame(ctx, Vertx.currentContext(), "the future's callbacks run on the caller's context");
        return c;
      });
    });
    assertSame(ctx, get(inner), "called in a fiber on the context, the fiber runs there");

    AtomicReference<Context> callbackContext = new AtomicReference<>(ctx);
    String thread = get(PicosVertx.future(() -> Thread.currentThread().getName())
        .andThen(r -> callbackContext.set(Vertx.currentContext())));
    assertTrue(thread.startsWith("multi("), "outside a fiber it runs on Schedulers.shared(): " + thread);
    assertNull(callbackContext.get(), "a future made off Vert.x is bound to no context");

    assertEquals(Boolean.TRUE, get(PicosVertx.future(PicosVertx.scheduler(ctx),
        () -> Vertx.currentContext() == ctx)));
    Scheduler closed = PicosVertx.newScheduler(ctx);
    closed.close();
    Future<Integer> refused = PicosVertx.future(closed, () -> 1);
    assertTrue(refused.failed());
    assertInstanceOf(SchedulerClosedException.class, refused.cause());
  }

  @Test
  void toFutureFollowsTheComputationOnTheCallersContext() throws Exception {
    assertEquals("done", get(PicosVertx.toFuture(Computation.returned("done"))));
    IllegalStateException boom = new IllegalStateException("boom");
    assertSame(boom, assertThrows(IllegalStateException.class,
        () -> get(PicosVertx.toFuture(Computation.canceled(boom)))));

    Context ctx = vertx.getOrCreateContext();
    Computation<String> later = Computation.create();
    CompletableFuture<Context> callback = new CompletableFuture<>();
    get(Future.<Void>future(p -> ctx.runOnContext(v -> {
      PicosVertx.toFuture(later).onComplete(r -> callback.complete(Vertx.currentContext()));
      p.complete();
    })));
    later.tryReturn("late");
    assertSame(ctx, callback.get(10, TimeUnit.SECONDS), "made on a context, its callbacks run there");
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
  void awaitKeepsTheFailureTypeAndCompletedFuturesAnswerAtOnceInAFiberOnTheEventLoop() throws Exception {
    IllegalStateException unchecked = new IllegalStateException("unchecked");
    IOException checked = new IOException("checked");
    Context ctx = vertx.getOrCreateContext();
    List<Object> outcomes = get(PicosVertx.future(ctx, () -> {
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
      return list;
    }));
    assertEquals(List.of("done", unchecked, checked), outcomes);

    Scheduler s = PicosVertx.newScheduler(ctx);
    RuntimeException later = new RuntimeException("later");
    Promise<String> promise = Promise.promise();
    Computation<String> c = s.start(() -> PicosVertx.await(promise.future()));
    CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS).execute(() -> promise.fail(later));
    assertSame(later, assertThrows(RuntimeException.class, c::await));
    s.close();
  }

  @Test
  void cancellingTheFiberDetachesItsWaitOnAVertxFuture() throws Exception {
    Scheduler s = PicosVertx.newScheduler(vertx.getOrCreateContext());
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
    Scheduler s = PicosVertx.newScheduler(vertx.getOrCreateContext());
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
    Scheduler ownOnContext = PicosVertx.newScheduler(ctx);
    Scheduler ownOnVertx = PicosVertx.newScheduler(vertx);
    List<Computation<String>> suspended = new ArrayList<>();
    for (Scheduler own : List.of(ownOnContext, ownOnVertx)) {
      suspended.add(own.start(() -> PicosVertx.await(Promise.<String>promise().future())));
    }
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
    assertTrue(ownOnContext.isClosed());
    assertTrue(ownOnVertx.isClosed());

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
    Scheduler s = PicosVertx.newScheduler(ctx);
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
    IllegalArgumentException prefetch = assertThrows(IllegalArgumentException.class,
        () -> PicosVertx.iterate(vertx.eventBus().consumer("nowhere"), 0));
    assertEquals("iterate: prefetch must be positive, was 0", prefetch.getMessage());
    assertThrows(IllegalArgumentException.class, () -> PicosVertx.newScheduler(virtual));
    assertThrows(NullPointerException.class, () -> PicosVertx.newScheduler((Context) null));
    assertThrows(NullPointerException.class, () -> PicosVertx.scheduler((Vertx) null));
    assertThrows(NullPointerException.class, () -> PicosVertx.future((Callable<Object>) null));
    assertThrows(NullPointerException.class, () -> PicosVertx.future((Scheduler) null, () -> 1));
    assertThrows(NullPointerException.class, () -> PicosVertx.toFuture(null));
    assertThrows(NullPointerException.class, () -> PicosVertx.scheduler((Context) null));
    assertThrows(NullPointerException.class, () -> PicosVertx.await(null));
  }
}
