package org.picos.bridge.reactor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;
import java.net.URL;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.parallel.Isolated;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.picos.reactive.PublisherIterator;
import org.picos.Computation;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.CorePublisher;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.util.context.Context;

/**
 * Reactor's automatic context propagation and the bridge's fibers, with a real ThreadLocal
 * registered in Micrometer's global {@link ContextRegistry} (what Reactor and picos-context
 * both read) and picos-context on the class path: Reactor Context values become ThreadLocals in
 * the fibers of {@code mono}/{@code flux}, across their suspensions and on every scheduler, and
 * a fiber's ThreadLocals become Context values of what it awaits. The hook is JVM-wide: each
 * test turns it on (or leaves it off) and the class runs alone.
 */
@Isolated("Hooks.enableAutomaticContextPropagation and the ContextRegistry are JVM-wide")
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ReactorThreadLocalsTest {
  private static final String KEY = "picos.test.request";
  private static final ThreadLocal<String> REQUEST = new ThreadLocal<>();

  @BeforeAll
  static void registerAccessor() {
    ContextRegistry.getInstance().registerThreadLocalAccessor(KEY, REQUEST);
  }

  @AfterAll
  static void removeAccessor() {
    ContextRegistry.getInstance().removeThreadLocalAccessor(KEY);
  }

  @BeforeEach
  void enable() {
    Hooks.enableAutomaticContextPropagation();
  }

  @AfterEach
  void disable() {
    Hooks.disableAutomaticContextPropagation();
    REQUEST.remove();
  }

  static List<Named<Supplier<Scheduler>>> schedulers() {
    return List.of(
        Named.of("fifo", Schedulers::fifo),
        Named.of("multi(2)", () -> Schedulers.multi(2)),
        Named.of("reactor parallel()",
            () -> PicosReactor.newScheduler(reactor.core.scheduler.Schedulers.parallel())));
  }

  /**
   * Subscribes with a subscriber whose Context is {@code context}, the way an operator (or a
   * server's subscriber) subscribes to its source: unlike {@code contextWrite} and
   * {@code Mono.subscribe(Subscriber)}, which in automatic mode set the ThreadLocals around the
   * subscription themselves, nothing in Reactor sets them here.
   */
  private static <T> CompletableFuture<List<T>> subscribe(
      CorePublisher<T> publisher, Context context) {
    CompletableFuture<List<T>> done = new CompletableFuture<>();
    List<T> items = new CopyOnWriteArrayList<>();
    publisher.subscribe(new CoreSubscriber<T>() {
      @Override
      public Context currentContext() {
        return context;
      }

      @Override
      public void onSubscribe(Subscription s) {
        s.request(Long.MAX_VALUE);
      }

      @Override
      public void onNext(T item) {
        items.add(item);
      }

      @Override
      public void onError(Throwable error) {
        done.completeExceptionally(error);
      }

      @Override
      public void onComplete() {
        done.complete(List.copyOf(items));
      }
    });
    return done;
  }

  private static <T> List<T> get(CompletableFuture<List<T>> items) throws Exception {
    return items.get(10, TimeUnit.SECONDS);
  }

  /** The value for {@link #KEY} in the Context it is subscribed with, or "none". */
  private static final Mono<String> FROM_CONTEXT =
      Mono.deferContextual(ctx -> Mono.just(ctx.getOrDefault(KEY, "none")));

  /** What {@link #FROM_CONTEXT} sees, awaited in a plain fiber that set the ThreadLocal. */
  private static String seenUpstreamOfAPlainFiber(Scheduler scheduler, String value) {
    return scheduler.start(() -> {
      REQUEST.set(value);
      return PicosReactor.await(FROM_CONTEXT);
    }).await();
  }

  /** Suspends the calling fiber until a Reactor timer thread emits. */
  private static void suspendOnReactorTimer() {
    PicosReactor.await(Mono.delay(Duration.ofMillis(5)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("schedulers")
  void aContextValueIsTheMonoFibersThreadLocalBeforeAndAfterSuspending(Supplier<Scheduler> make)
      throws Exception {
    Scheduler scheduler = make.get();
    try {
      Mono<String> mono = PicosReactor.mono(scheduler, () -> {
        String before = REQUEST.get();
        suspendOnReactorTimer();
        String after = REQUEST.get();
        suspendOnReactorTimer();
        return before + "/" + after + "/" + REQUEST.get();
      });
      assertEquals(List.of("req-1/req-1/req-1"), get(subscribe(mono, Context.of(KEY, "req-1"))));
      assertEquals(List.of("req-2/req-2/req-2"), get(subscribe(mono, Context.of(KEY, "req-2"))));
      // Through contextWrite, which sets the ThreadLocal around the subscription as well.
      assertEquals("req-3/req-3/req-3",
          mono.contextWrite(Context.of(KEY, "req-3")).block(Duration.ofSeconds(10)));
    } finally {
      scheduler.close();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("schedulers")
  void aContextValueIsTheFluxFibersThreadLocalAcrossEmits(Supplier<Scheduler> make)
      throws Exception {
    Scheduler scheduler = make.get();
    try {
      Flux<String> flux = PicosReactor.<String>flux(scheduler, emitter -> {
        for (int i = 0; i < 4; i++) {
          // Demand comes one at a time from another thread: each emit but the first suspends.
          emitter.next(i + ":" + REQUEST.get());
          suspendOnReactorTimer();
        }
        emitter.next("end:" + REQUEST.get());
      });
      List<String> got = get(subscribe(
          flux.publishOn(reactor.core.scheduler.Schedulers.single(), 1), Context.of(KEY, "req-4")));
      assertEquals(List.of("0:req-4", "1:req-4", "2:req-4", "3:req-4", "end:req-4"), got);
    } finally {
      scheduler.close();
    }
  }

  @Test
  void concurrentSubscriptionsOnOneCarrierNeverSeeEachOthersValues() throws Exception {
    int n = 16;
    try (TestSupport.Carrier carrier = new TestSupport.Carrier()) {
      Computation<Void> gate = Computation.create();
      CountDownLatch suspended = new CountDownLatch(n);
      Mono<String> mono = PicosReactor.mono(carrier.scheduler, () -> {
        String before = REQUEST.get();
        suspended.countDown();
        gate.await(); // every fiber is suspended here at once, on the one carrier
        String between = REQUEST.get();
        suspendOnReactorTimer();
        return before + "/" + between + "/" + REQUEST.get();
      });
      List<CompletableFuture<List<String>>> results = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        results.add(subscribe(mono, Context.of(KEY, "r" + i)));
      }
      assertTrue(suspended.await(10, TimeUnit.SECONDS), "the fibers did not all suspend");
      gate.tryReturn(null);
      for (int i = 0; i < n; i++) {
        String v = "r" + i;
        assertEquals(List.of(v + "/" + v + "/" + v), get(results.get(i)));
      }
      assertTrue(carrier.uncaught.isEmpty(), () -> "reported: " + carrier.uncaught);
    }
  }

  @Test
  void aThreadLocalSetInAFiberReachesTheContextOfWhatItAwaits() {
    Scheduler scheduler = Schedulers.multi(2);
    try {
      Flux<String> fluxFromContext = Flux.deferContextual(
          ctx -> Flux.just(ctx.getOrDefault(KEY, "none"), "last"));
      // Reactor sets the ThreadLocal from the Context in handle, here on a parallel() thread.
      Mono<String> fromHandle = Mono.just(1)
          .publishOn(reactor.core.scheduler.Schedulers.parallel())
          .handle((x, sink) -> sink.next(String.valueOf(REQUEST.get())));
      String seen = PicosReactor.mono(scheduler, () -> {
        REQUEST.set("set-in-fiber");
        String await = PicosReactor.await(FROM_CONTEXT);
        String handle = PicosReactor.await(fromHandle);
        String first = PicosReactor.awaitFirst(fluxFromContext);
        StringBuilder iterated = new StringBuilder();
        try (PublisherIterator<String> it = PicosReactor.iterate(fluxFromContext, 1)) {
          it.forEachRemaining(iterated::append);
        }
        REQUEST.set("changed");
        String afterChange = PicosReactor.await(FROM_CONTEXT);
        return String.join(",", await, handle, first, iterated, afterChange);
      }).block(Duration.ofSeconds(10));
      assertEquals("set-in-fiber,set-in-fiber,set-in-fiber,set-in-fiberlast,changed", seen);

      // A fiber not started by mono/flux: its awaits capture its ThreadLocals all the same.
      assertEquals("plain-fiber", seenUpstreamOfAPlainFiber(scheduler, "plain-fiber"));
    } finally {
      scheduler.close();
    }
  }

  @Test
  void withAutomaticPropagationOffNothingCrossesAndNothingBreaks() {
    Hooks.disableAutomaticContextPropagation();
    Scheduler scheduler = Schedulers.multi(2);
    try {
      REQUEST.set("caller");
      String seen = PicosReactor.mono(scheduler, () -> {
        // picos-context alone: the fiber has its spawner's ThreadLocal, not the Context's.
        String before = REQUEST.get();
        suspendOnReactorTimer();
        REQUEST.set("set-in-fiber");
        String upstream = PicosReactor.await(FROM_CONTEXT);
        return before + "," + PicosReactor.context().getOrDefault(KEY, "none") + "," + upstream;
      }).contextWrite(Context.of(KEY, "from-context")).block(Duration.ofSeconds(10));
      // The await carries the subscriber's Context as always, but not the fiber's ThreadLocal.
      assertEquals("caller,from-context,from-context", seen);
      assertEquals("caller", REQUEST.get());
      assertEquals("none", seenUpstreamOfAPlainFiber(scheduler, "plain-fiber"));
    } finally {
      scheduler.close();
    }
  }

  @Test
  void theCarrierAndTheSubscriberKeepTheirOwnValues() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    Scheduler carrier = Schedulers.onExecutor(executor);
    try {
      // A plain task gives the carrier thread a value of its own.
      executor.submit(() -> REQUEST.set("carrier")).get(10, TimeUnit.SECONDS);
      Computation<Void> gate = Computation.create();
      CountDownLatch suspended = new CountDownLatch(1);
      Mono<String> mono = PicosReactor.mono(carrier, () -> {
        String before = REQUEST.get();
        suspended.countDown();
        gate.await();
        return before + "/" + REQUEST.get();
      });
      REQUEST.set("subscriber");
      CompletableFuture<List<String>> result = subscribe(mono, Context.of(KEY, "fiber"));
      assertEquals("subscriber", REQUEST.get(), "the subscribing thread after subscribe");
      assertTrue(suspended.await(10, TimeUnit.SECONDS), "the fiber did not suspend");
      assertEquals("carrier", executor.submit(REQUEST::get).get(10, TimeUnit.SECONDS),
          "the carrier while the fiber is suspended");
      gate.tryReturn(null);
      assertEquals(List.of("fiber/fiber"), get(result));
      assertEquals("carrier", executor.submit(REQUEST::get).get(10, TimeUnit.SECONDS),
          "the carrier after the fiber ended");
    } finally {
      carrier.close();
      executor.shutdown();
    }
  }

  // From a fiber: the subscribing fiber keeps its value while the child gets the Context's.
  @Test
  void aFiberThatSubscribesKeepsItsOwnValue() {
    Scheduler scheduler = Schedulers.fifo();
    try {
      Mono<String> child = PicosReactor.mono(() -> {
        String before = REQUEST.get();
        suspendOnReactorTimer();
        return before + "/" + REQUEST.get();
      });
      String seen = scheduler.start(() -> {
        REQUEST.set("parent");
        String inherited = PicosReactor.await(child);
        String overridden = PicosReactor.await(child.contextWrite(Context.of(KEY, "child")));
        return inherited + "," + overridden + "," + REQUEST.get();
      }).await();
      assertEquals("parent/parent,child/child,parent", seen);
    } finally {
      scheduler.close();
    }
  }

  @Test
  void aKeyMissingFromTheContextClearsTheThreadLocalInTheFiber() throws Exception {
    Scheduler scheduler = Schedulers.multi(2);
    try {
      Mono<String> mono = PicosReactor.mono(scheduler, () -> {
        String before = String.valueOf(REQUEST.get());
        suspendOnReactorTimer();
        return before + "/" + REQUEST.get();
      });
      REQUEST.set("outer");
      // block() captures the caller's ThreadLocals into the Context; delete removes the key.
      assertEquals("outer/outer", mono.block(Duration.ofSeconds(10)));
      assertEquals("null/null",
          mono.contextWrite(ctx -> ctx.delete(KEY)).block(Duration.ofSeconds(10)));
      // Subscribers whose Context has no such key at all.
      assertEquals(List.of("null/null"), get(subscribe(mono, Context.empty())));
      assertEquals("null/null", mono.toFuture().get(10, TimeUnit.SECONDS));
      Flux<String> flux = PicosReactor.flux(scheduler,
          emitter -> emitter.next(String.valueOf(REQUEST.get())));
      assertEquals(List.of("null"), get(subscribe(flux, Context.of("other", "value"))));
      assertEquals("outer", REQUEST.get());
    } finally {
      scheduler.close();
    }
  }

  @Test
  void aFailingAccessorFailsTheSubscriptionOrIsReportedNeverSwallowed() throws Exception {
    String failing = "picos.test.failing";
    ThreadLocal<String> local = new ThreadLocal<>();
    AtomicReference<Thread> refuseRestoreOn = new AtomicReference<>();
    ContextRegistry.getInstance().registerThreadLocalAccessor(new ThreadLocalAccessor<String>() {
      @Override
      public Object key() {
        return failing;
      }

      @Override
      public String getValue() {
        return local.get();
      }

      @Override
      public void setValue(String value) {
        if (value.equals("refuse")) {
          throw new IllegalStateException("setValue refused");
        }
        local.set(value);
      }

      @Override
      public void setValue() {
        local.remove();
      }

      @Override
      public void restore() {
        if (Thread.currentThread() == refuseRestoreOn.get()) {
          throw new IllegalStateException("restore refused");
        }
        local.remove();
      }
    });
    Scheduler scheduler = Schedulers.multi(2);
    try {
      AtomicInteger bodies = new AtomicInteger();
      Mono<String> mono = PicosReactor.mono(scheduler, () -> {
        bodies.incrementAndGet();
        return String.valueOf(local.get());
      });
      // Setting the ThreadLocal fails before any fiber exists: the subscriber gets the failure.
      ExecutionException refused = assertThrows(ExecutionException.class,
          () -> get(subscribe(mono, Context.of(failing, "refuse"))));
      assertEquals("setValue refused", refused.getCause().getMessage());
      assertEquals(0, bodies.get());

      // Closing the scope fails after the fiber started: the subscribing thread's handler gets
      // the failure, the subscriber its value.
      List<Throwable> reported = new CopyOnWriteArrayList<>();
      CompletableFuture<CompletableFuture<List<String>>> subscribed = new CompletableFuture<>();
      Thread subscriber = new Thread(
          () -> subscribed.complete(subscribe(mono, Context.of(failing, "fine"))), "subscriber");
      subscriber.setUncaughtExceptionHandler((t, e) -> reported.add(e));
      refuseRestoreOn.set(subscriber);
      subscriber.start();
      assertEquals(List.of("fine"), get(subscribed.get(10, TimeUnit.SECONDS)));
      subscriber.join(TimeUnit.SECONDS.toMillis(10));
      assertEquals(1, reported.size(), () -> "reported: " + reported);
      assertEquals("restore refused", reported.get(0).getMessage());
      assertEquals(1, bodies.get());
    } finally {
      scheduler.close();
      ContextRegistry.getInstance().removeThreadLocalAccessor(failing);
    }
  }

  // Without the optional libraries: a class loader over the same jars less picos-context, and
  // in the second case less context-propagation too (Reactor then leaves the hook off itself).
  @ParameterizedTest(name = "context-propagation present: {0}")
  @ValueSource(booleans = {true, false})
  void withoutTheOptionalLibrariesEverythingWorksAsBefore(boolean contextPropagation)
      throws Exception {
    List<URL> jars = new ArrayList<>();
    for (Class<?> c : List.of(ReactorThreadLocalsTest.class, PicosReactor.class,
        Computation.class, org.picos.reactive.Reactive.class, Mono.class, Publisher.class)) {
      jars.add(c.getProtectionDomain().getCodeSource().getLocation());
    }
    if (contextPropagation) {
      jars.add(ContextRegistry.class.getProtectionDomain().getCodeSource().getLocation());
    }
    try (URLClassLoader loader = new URLClassLoader(
        jars.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
      assertThrows(ClassNotFoundException.class,
          () -> loader.loadClass("org.picos.context.ContextRegistryThreadContext"));
      @SuppressWarnings("unchecked")
      Callable<String> run = (Callable<String>) loader
          .loadClass(WithoutOptionalLibraries.class.getName())
          .getDeclaredConstructor().newInstance();
      // ServiceLoader (context-propagation's and the core's) reads the context class loader.
      Thread self = Thread.currentThread();
      ClassLoader before = self.getContextClassLoader();
      self.setContextClassLoader(loader);
      try {
        assertEquals(contextPropagation + ",v,[v],unchanged", run.call());
      } finally {
        self.setContextClassLoader(before);
      }
    }
  }

  /**
   * Runs in the class loader of the test above, so it names no type of context-propagation or
   * picos-context: mono, flux and await with the hook turned on.
   */
  public static final class WithoutOptionalLibraries implements Callable<String> {
    @Override
    public String call() {
      Hooks.enableAutomaticContextPropagation();
      Scheduler scheduler = Schedulers.multi(2);
      try {
        Mono<String> fromContext = Mono.deferContextual(
            ctx -> Mono.just(ctx.getOrDefault("k", "none")));
        String mono = PicosReactor.mono(scheduler, () -> {
          PicosReactor.await(Mono.delay(Duration.ofMillis(5)));
          return PicosReactor.await(fromContext);
        }).contextWrite(Context.of("k", "v")).block(Duration.ofSeconds(10));
        List<String> flux = PicosReactor.<String>flux(scheduler,
                emitter -> emitter.next(PicosReactor.context().getOrDefault("k", "none")))
            .contextWrite(Context.of("k", "v")).collectList().block(Duration.ofSeconds(10));
        Context context = Context.of("k", "v");
        return Hooks.isAutomaticContextPropagationEnabled() + "," + mono + "," + flux + ","
            + (ReactorThreadLocals.captured(context) == context ? "unchanged" : "captured");
      } finally {
        Hooks.disableAutomaticContextPropagation();
        scheduler.close();
      }
    }
  }
}
