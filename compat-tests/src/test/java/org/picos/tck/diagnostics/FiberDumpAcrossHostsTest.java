package org.picos.tck.diagnostics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.concurrent.ImmediateEventExecutor;
import io.reactivex.rxjava3.core.Single;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Fibers;
import org.picos.Scheduler;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.netty.PicosNetty;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.std.structured.Flock;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Ivar;
import org.picos.std.sync.Latch;
import org.picos.std.sync.Mutex;
import org.picos.tck.interop.Host;
import org.picos.tck.interop.Hosts;
import reactor.core.publisher.Mono;

/**
 * A fiber dump taken while fibers wait in every kind of wait this project offers (std
 * primitives, sleep, each bridge's await, a scope's join), on the core's fifo scheduler, a Netty
 * event loop, a Vert.x context and Reactor's parallel scheduler: each fiber is listed as
 * suspended, under its host's scheduler, with the wait named and the user's frame in its stack,
 * and the JSON form parses and says the same.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FiberDumpAcrossHostsTest {
  static Stream<Host> hosts() {
    return Stream.of(Hosts.fifo(), Hosts.nettyLoop(), Hosts.vertxContext(), Hosts.reactorParallel());
  }

  /** The user's frame every waiting fiber waits from; the dump must show it. */
  private static void waitHere(Runnable wait) {
    wait.run();
  }

  /** What one fiber waits in, and how its dump entry must begin. */
  private record Wait(String expected, Runnable body) {}

  private static List<Wait> waits() {
    Mutex held = new Mutex();
    held.lock(); // by the test thread; the waiter queues behind it
    Channel<String> empty = Channel.bounded(2);
    Latch latch = new Latch(1);
    Ivar<String> ivar = Ivar.create();
    List<Wait> w = new ArrayList<>();
    w.add(new Wait("Mutex.lock on Mutex[locked, 1 waiting]", held::lock));
    w.add(new Wait("Channel.receive on Channel[0/2]", empty::receive));
    w.add(new Wait("Fiber.sleep until ", () -> Fiber.sleep(Duration.ofHours(1))));
    w.add(new Wait("Latch[1 to go]", latch::await));
    w.add(new Wait("Ivar[empty]", ivar::read));
    w.add(new Wait("Reactive.awaitSingle on MonoNever", () -> PicosReactor.await(Mono.never())));
    w.add(new Wait("Reactive.awaitSingle on ", () -> PicosRx.await(Single.never())));
    w.add(new Wait("PicosNetty.await on ImmediateEventExecutor$ImmediatePromise@",
        () -> PicosNetty.await(ImmediateEventExecutor.INSTANCE.newPromise())));
    w.add(new Wait("PicosVertx.await on Future{unresolved}",
        () -> PicosVertx.await(Promise.promise().future())));
    w.add(new Wait("PicosFutures.await on java.util.concurrent.CompletableFuture",
        () -> PicosFutures.await(new CompletableFuture<>())));
    w.add(new Wait("Bundle.joinAfter on Bundle[1 member, of Fiber#",
        () -> Flock.joinAfter(() -> {
          Flock.fork(() -> waitHere(() -> Fiber.sleep(Duration.ofHours(1))));
          return null;
        })));
    return w;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hosts")
  void theDumpListsEveryKindOfWaitWithItsDescriptionAndTheUsersFrame(Host host) throws Exception {
    try (Host.Running running = host.create().get()) {
      Scheduler s = running.scheduler();
      Map<Long, Wait> byId = new LinkedHashMap<>();
      for (Wait w : waits()) {
        Computation<Long> started = Computation.create();
        s.start(() -> {
          started.tryReturn(Fiber.current().id());
          waitHere(w.body());
          return null;
        });
        byId.put(started.await(), w);
      }
      Map<Long, Fibers.FiberInfo> seen = suspendedWithStacks(byId.keySet());
      String json = Fibers.toJson();
      for (Map.Entry<Long, Wait> e : byId.entrySet()) {
        Fibers.FiberInfo info = seen.get(e.getKey());
        String expected = e.getValue().expected();
        assertEquals(s.toString(), info.scheduler(), info.toString());
        assertTrue(info.waitingFor().startsWith(expected),
            "expected a wait starting with \"" + expected + "\": " + info);
        assertTrue(info.sinceMillis() > 0, info.toString());
        assertTrue(hasUsersFrame(info.stack()), info.toString());
      }
      // The flock's child: in its bundle's scope, which names the fiber that owns it.
      long owner = byId.entrySet().stream().filter(e -> e.getValue().expected().startsWith("Bundle"))
          .findFirst().orElseThrow().getKey();
      Fibers.FiberInfo child = Fibers.dump().stream()
          .filter(i -> i.scope() != null && i.scope().endsWith("of Fiber#" + owner + "]"))
          .findFirst().orElseThrow(() -> new AssertionError("no child of Fiber#" + owner
              + " in a bundle scope: " + Fibers.toText()));
      assertTrue(child.waitingFor().startsWith("Fiber.sleep until "), child.toString());
      assertTrue(hasUsersFrame(child.stack()), child.toString());
      checkJson(json, s.toString(), byId);
    }
  }

  /** The JSON dump parses (Vert.x's parser), and lists each fiber under its scheduler the same. */
  private static void checkJson(String json, String scheduler, Map<Long, Wait> byId) {
    JsonObject dump = new JsonObject(json).getJsonObject("fiberDump");
    assertNotNull(dump.getString("time"));
    JsonObject mine = null;
    for (Object o : dump.getJsonArray("schedulers")) {
      JsonObject sched = (JsonObject) o;
      if (sched.getString("name").equals(scheduler)) {
        mine = sched;
      }
    }
    assertNotNull(mine, "scheduler " + scheduler + " missing from " + json);
    Map<Long, JsonObject> fibers = new LinkedHashMap<>();
    for (Object o : mine.getJsonArray("fibers")) {
      JsonObject f = (JsonObject) o;
      fibers.put(f.getLong("id"), f);
    }
    for (Map.Entry<Long, Wait> e : byId.entrySet()) {
      JsonObject f = fibers.get(e.getKey());
      assertNotNull(f, "fiber " + e.getKey() + " missing from " + mine);
      assertEquals("SUSPENDED", f.getString("state"), f.encode());
      assertTrue(f.getString("waitingFor").startsWith(e.getValue().expected()), f.encode());
      assertNotNull(f.getString("since"), f.encode());
      JsonArray stack = f.getJsonArray("stack");
      boolean user = false;
      for (Object frame : stack) {
        user |= ((String) frame).contains(FiberDumpAcrossHostsTest.class.getName() + ".waitHere(");
      }
      assertTrue(user, f.encode());
    }
  }

  private static boolean hasUsersFrame(List<StackTraceElement> stack) {
    return stack.stream().anyMatch(f -> f.getMethodName().equals("waitHere")
        && f.getClassName().equals(FiberDumpAcrossHostsTest.class.getName()));
  }

  /**
   * Dumps until every fiber in {@code ids} is seen suspended with a stack (a fiber is listed
   * without one in the instant between its await and its carrier's switch away).
   */
  private static Map<Long, Fibers.FiberInfo> suspendedWithStacks(java.util.Set<Long> ids)
      throws InterruptedException {
    Map<Long, Fibers.FiberInfo> seen = new LinkedHashMap<>();
    for (int k = 0; k < 2000 && seen.size() < ids.size(); k++) {
      for (Fibers.FiberInfo i : Fibers.dump()) {
        if (ids.contains(i.id()) && i.state() == Fibers.State.SUSPENDED && !i.stack().isEmpty()) {
          seen.put(i.id(), i);
        }
      }
      if (seen.size() < ids.size()) {
        Thread.sleep(5);
      }
    }
    if (seen.size() < ids.size()) {
      throw new AssertionError("not all of " + ids + " seen suspended: " + Fibers.toText());
    }
    return seen;
  }
}
