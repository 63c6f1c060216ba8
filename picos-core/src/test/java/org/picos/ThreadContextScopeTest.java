package org.picos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.sched.Schedulers;

/** Which fibers carry a {@link Fiber.ThreadContext}: discovered, registered, scoped. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ThreadContextScopeTest {

  /** A context listed in this module's test META-INF/services: carried JVM-wide, unregistered. */
  public static final class Discovered implements Fiber.ThreadContext<String> {
    static final ThreadLocal<String> VALUE = new ThreadLocal<>();

    @Override
    public String capture() {
      return VALUE.get();
    }

    @Override
    public void restore(String state) {
      VALUE.set(state);
    }
  }

  /** A context holding one ThreadLocal. */
  static final class Slot implements Fiber.ThreadContext<String> {
    final ThreadLocal<String> value = new ThreadLocal<>();

    @Override
    public String capture() {
      return value.get();
    }

    @Override
    public void restore(String state) {
      value.set(state);
    }
  }

  @Test
  void aContextListedForServiceLoaderTravelsWithoutRegistration() {
    try (Scheduler s = Schedulers.fifo()) {
      Discovered.VALUE.set("discovered");
      Computation<String> fiber = s.start(() -> {
        Fiber.yield();
        return Discovered.VALUE.get();
      });
      Discovered.VALUE.remove();
      assertEquals("discovered", fiber.await());
      assertNull(s.run(Discovered.VALUE::get), "a fiber started without the value sees none");
    }
  }

  @Test
  void aScopedContextReachesOnlyFibersSpawnedInItsScopeAndTheirDescendants() {
    Slot tenant = new Slot();
    try (Scheduler s = Schedulers.fifo()) {
      String[] seen = s.run(() -> {
        tenant.value.set("acme");
        Computation<String> inScope = Fiber.withThreadContext(tenant, () -> Fiber.spawn(() -> {
          Computation<String> grandchild = Fiber.spawn(() -> {
            Fiber.yield();
            return tenant.value.get();
          });
          Fiber.yield();
          return tenant.value.get() + "/" + grandchild.await();
        }));
        Computation<String> outside = Fiber.spawn(() -> {
          Fiber.yield();
          return String.valueOf(tenant.value.get());
        });
        tenant.value.remove();
        return new String[] {inScope.await(), outside.await()};
      });
      assertEquals("acme/acme", seen[0], "the child and its descendant carry the scoped context");
      assertEquals("null", seen[1], "a fiber spawned outside the scope does not");
    }
  }

  @Test
  void aScopedContextReachesRootFibersStartedInItsScope() {
    Slot tenant = new Slot();
    try (Scheduler s = Schedulers.fifo()) {
      tenant.value.set("initech");
      Computation<String> root = Fiber.withThreadContext(tenant, () -> s.start(() -> {
        Fiber.yield();
        return tenant.value.get();
      }));
      Computation<String> other = s.start(() -> {
        Fiber.yield();
        return String.valueOf(tenant.value.get());
      });
      tenant.value.remove();
      assertEquals("initech", root.await());
      assertEquals("null", other.await());
    }
  }
}
