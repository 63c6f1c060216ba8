package org.picos.context;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;

/**
 * What {@link ContextRegistryThreadContext} carries, over a registry of its own (given to the
 * fibers with {@link Fiber#withThreadContext}), on one carrier thread whose own values must
 * survive every fiber.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ContextRegistryThreadContextTest {
  private final ContextRegistry registry = new ContextRegistry();
  private final ContextRegistryThreadContext context = new ContextRegistryThreadContext(registry);
  private final ThreadLocal<String> x = new ThreadLocal<>();
  private final Carrier carrier = new Carrier();

  @AfterEach
  void close() {
    carrier.close();
    x.remove();
  }

  private <T> Computation<T> start(Callable<T> body) {
    return Fiber.withThreadContext(context, () -> carrier.scheduler.start(body));
  }

  private void onCarrierSet(String value) throws Exception {
    carrier.onCarrier(() -> {
      x.set(value);
      return null;
    });
  }

  private String onCarrierGet() throws Exception {
    return carrier.onCarrier(x::get);
  }

  private static void await(CountDownLatch latch) throws InterruptedException {
    assertTrue(latch.await(30, TimeUnit.SECONDS), "timed out");
  }

  @Test
  void aFiberKeepsItsValuesAcrossYieldsAndTheCarrierKeepsItsOwn() throws Exception {
    registry.registerThreadLocalAccessor("x", x);
    onCarrierSet("carrier");
    x.set("caller");
    Computation<Void> gate = Computation.create();
    Computation<List<String>> fiber = start(() -> {
      List<String> seen = new ArrayList<>();
      seen.add(x.get());
      Fiber.yield();
      seen.add(x.get());
      x.set("changed");
      Fiber.yield();
      seen.add(x.get());
      gate.await();
      seen.add(x.get());
      return seen;
    });
    List<String> carrierSaw = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      carrierSaw.add(onCarrierGet());
    }
    gate.tryReturn(null);
    assertEquals(List.of("caller", "caller", "changed", "changed"), fiber.await());
    carrierSaw.add(onCarrierGet());
    assertEquals(List.of("carrier", "carrier", "carrier", "carrier", "carrier", "carrier"), carrierSaw,
        "between the fiber's slices and after it the carrier has its own value");
    assertEquals("caller", x.get(), "spawning does not change the caller's value");
    assertEquals(List.of(), carrier.reported);
  }

  @Test
  void anAccessorRegisteredWhileAFiberIsSuspendedStartsWithNoValueNeverTheCarriers() throws Exception {
    CountDownLatch parked = new CountDownLatch(1);
    Computation<Void> gate = Computation.create();
    Computation<String[]> fiber = start(() -> {
      parked.countDown();
      gate.await();
      String first = x.get();
      x.set("fiber");
      Fiber.yield();
      return new String[] {first, x.get()};
    });
    await(parked);
    onCarrierSet("carrier"); // runs once the fiber has suspended at the gate
    registry.registerThreadLocalAccessor("x", x);
    gate.tryReturn(null);
    String[] seen = fiber.await();
    assertNull(seen[0], "the fiber was captured without the accessor: it has no value for it");
    assertEquals("fiber", seen[1], "and the value it sets travels with it");
    assertEquals("carrier", onCarrierGet());
  }

  @Test
  void anAccessorReplacedUnderTheSameKeyGetsTheValueCapturedUnderIt() throws Exception {
    ThreadLocal<String> y = new ThreadLocal<>();
    registry.registerThreadLocalAccessor("k", x);
    x.set("v");
    CountDownLatch parked = new CountDownLatch(1);
    Computation<Void> gate = Computation.create();
    Computation<String> fiber = start(() -> {
      parked.countDown();
      gate.await();
      return y.get();
    });
    await(parked);
    onCarrierGet();
    registry.registerThreadLocalAccessor("k", y);
    gate.tryReturn(null);
    assertEquals("v", fiber.await());
  }

  @Test
  void aRemovedAccessorIsNoLongerCarriedAndTheCarrierKeepsItsValue() throws Exception {
    registry.registerThreadLocalAccessor("x", x);
    onCarrierSet("carrier");
    x.set("mine");
    CountDownLatch parked = new CountDownLatch(1);
    Computation<Void> gate = Computation.create();
    Computation<String> fiber = start(() -> {
      parked.countDown();
      gate.await();
      return x.get();
    });
    await(parked);
    onCarrierGet();
    registry.removeThreadLocalAccessor("x");
    gate.tryReturn(null);
    assertEquals("carrier", fiber.await(),
        "after the removal the ThreadLocal is the carrier's, as for any ThreadLocal nobody carries");
    assertEquals("carrier", onCarrierGet());
  }

  @Test
  void anAccessorRemovedWhileAFiberRunsStillGivesTheCarrierItsValueBack() throws Exception {
    registry.registerThreadLocalAccessor("x", x);
    onCarrierSet("carrier");
    x.set("mine");
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch removed = new CountDownLatch(1);
    Computation<Void> gate = Computation.create();
    Computation<String> fiber = start(() -> {
      running.countDown();
      await(removed); // holds the carrier: the removal happens inside this slice
      String mine = x.get();
      gate.await();
      return mine;
    });
    await(running);
    registry.removeThreadLocalAccessor("x");
    removed.countDown();
    assertEquals("carrier", onCarrierGet(), "the fiber's value did not stay on the carrier");
    gate.tryReturn(null);
    assertEquals("mine", fiber.await());
  }

  @Test
  void aThrowingAccessorIsReportedAndDoesNotStopTheOthers() throws Exception {
    ThreadLocalAccessor<String> badGet = accessor("bad-get", () -> {
      throw new IllegalStateException("getValue refused");
    }, v -> {}, () -> {});
    ThreadLocalAccessor<String> badSet = accessor("bad-set", () -> "some", v -> {
      throw new IllegalStateException("setValue refused");
    }, () -> {
      throw new IllegalStateException("reset refused");
    });
    registry.registerThreadLocalAccessor(badGet);
    registry.registerThreadLocalAccessor(badSet);
    registry.registerThreadLocalAccessor("x", x);
    onCarrierSet("carrier");
    x.set("mine");
    List<Throwable> onCaller = new CopyOnWriteArrayList<>();
    Thread.UncaughtExceptionHandler before = Thread.currentThread().getUncaughtExceptionHandler();
    Computation<String> fiber;
    Thread.currentThread().setUncaughtExceptionHandler((t, e) -> onCaller.add(e));
    try {
      fiber = start(() -> {
        Fiber.yield();
        return x.get();
      });
    } finally {
      Thread.currentThread().setUncaughtExceptionHandler(before);
    }
    assertEquals("mine", fiber.await());
    assertEquals("carrier", onCarrierGet());
    assertEquals(List.of("getValue refused"), messages(onCaller), "the capture at spawn");
    List<String> reported = messages(carrier.reported);
    assertTrue(reported.contains("getValue refused") && reported.contains("setValue refused"),
        "the carrier's failures are reported: " + reported);
  }

  @Test
  void aMissingValueResetsTheThreadLocalRatherThanSettingNull() throws Exception {
    List<String> resets = new CopyOnWriteArrayList<>();
    registry.registerThreadLocalAccessor(accessor("x", x::get,
        v -> x.set(Objects.requireNonNull(v, "setValue(null)")),
        () -> {
          resets.add(Thread.currentThread().getName());
          x.remove();
        }));
    onCarrierSet("carrier");
    Computation<String> withNone = start(() -> {
      Fiber.yield();
      return x.get();
    });
    assertNull(withNone.await(), "a fiber spawned with no value has none on a carrier that has one");
    assertEquals("carrier", onCarrierGet());
    onCarrierSet(null);
    x.set("mine");
    Computation<String> withOne = start(() -> {
      Fiber.yield();
      return x.get();
    });
    assertEquals("mine", withOne.await());
    assertNull(onCarrierGet(), "the carrier had none: its ThreadLocal is reset after the fiber");
    assertEquals(List.of(), carrier.reported, "no null reached setValue");
    assertTrue(resets.contains("carrier"));
  }

  @Test
  void contextsOverTheSameRegistryAreEqualSoTheCoreCarriesThemOnce() {
    assertEquals(new ContextRegistryThreadContext(), new ContextRegistryThreadContext());
    assertEquals(new ContextRegistryThreadContext().hashCode(), new ContextRegistryThreadContext().hashCode());
    assertEquals(context, new ContextRegistryThreadContext(registry));
    assertNotEquals(context, new ContextRegistryThreadContext());
  }

  private static List<String> messages(List<Throwable> failures) {
    return failures.stream().map(Throwable::getMessage).toList();
  }

  /** A context-propagation 1.2 accessor from callbacks: setValue() resets. */
  private static ThreadLocalAccessor<String> accessor(
      String key, java.util.function.Supplier<String> get, java.util.function.Consumer<String> set, Runnable reset) {
    return new ThreadLocalAccessor<>() {
      @Override
      public Object key() {
        return key;
      }

      @Override
      public String getValue() {
        return get.get();
      }

      @Override
      public void setValue(String value) {
        set.accept(value);
      }

      @Override
      public void setValue() {
        reset.run();
      }
    };
  }
}
