package org.picos.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactivex.rxjava3.core.Single;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Trigger;
import org.picos.bridge.future.PicosFutures;
import org.picos.bridge.reactor.PicosReactor;
import org.picos.bridge.rxjava.PicosRx;
import org.picos.bridge.vertx.PicosVertx;
import org.picos.std.sync.Channel;
import org.picos.std.sync.Mutex;
import org.picos.tck.interop.Host;
import org.picos.tck.interop.Hosts;
import reactor.core.publisher.Mono;
import org.picos.spi.Handler;

/**
 * A cancellation storm: 100,000 fibers spread over every host wait on triggers, a shared
 * computation, a held mutex, a channel nobody sends on and foreign futures that never complete,
 * and are cancelled at random moments (some before they even start waiting). Every fiber must
 * end exactly once, none may stay asleep, and the shared waiting structures must shrink back.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CancellationStormTest {
  private static final int FIBERS = 100_000;

  @Test
  void everyFiberEndsExactlyOnceAndNothingLeaks() throws Exception {
    long seed = Long.getLong("picos.seed", System.nanoTime());
    System.out.println("cancellation storm seed " + seed);
    Random random = new Random(seed);
    List<Host.Running> hosts = new ArrayList<>();
    for (Host h : Hosts.all()) {
      hosts.add(h.create().get());
    }
    try {
      Computation<Object> never = Computation.create();
      Mutex mutex = new Mutex();
      Channel<Integer> channel = Channel.rendezvous();
      Computation<Void> holderDone = Computation.create();
      Computation<Void> held = Computation.create();
      hosts.get(0).scheduler().start(() -> {
        mutex.lock();
        held.tryReturn(null);
        Fiber.forbid(holderDone::await);
        mutex.unlock();
        return null;
      });
      held.await();

      AtomicIntegerArray endings = new AtomicIntegerArray(FIBERS);
      AtomicInteger ended = new AtomicInteger();
      Computation<Void> allEnded = Computation.create();
      List<Computation<Object>> fibers = new ArrayList<>(FIBERS);
      for (int i = 0; i < FIBERS; i++) {
        int id = i;
        int kind = random.nextInt(8);
        Host.Running host = hosts.get(i % hosts.size());
        fibers.add(host.scheduler().start(() -> {
          try {
            host.checkHost();
            switch (kind) {
              case 0 -> Trigger.create().await();
              case 1 -> never.await();
              case 2 -> mutex.lock();
              case 3 -> channel.receive();
              case 4 -> PicosFutures.await(new CompletableFuture<>());
              case 5 -> PicosReactor.await(Mono.never());
              case 6 -> PicosRx.await(Single.never());
              default -> PicosVertx.await(Promise.promise().future());
            }
            Fiber.check();
            throw new AssertionError("fiber " + id + " woke up without being cancelled (kind " + kind + ")");
          } finally {
            endings.incrementAndGet(id);
            if (ended.incrementAndGet() == FIBERS) {
              allEnded.tryReturn(null);
            }
          }
        }));
      }
      List<Integer> order = new ArrayList<>(FIBERS);
      for (int i = 0; i < FIBERS; i++) {
        order.add(i);
      }
      Collections.shuffle(order, random);
      CancellationException cause = new CancellationException("storm");
      for (int n = 0; n < FIBERS; n++) {
        fibers.get(order.get(n)).tryCancel(cause);
        if (random.nextInt(1000) == 0) {
          Thread.sleep(1); // let some fibers reach their wait before the rest are cancelled
        }
      }
      allEnded.await();
      for (int i = 0; i < FIBERS; i++) {
        assertEquals(1, endings.get(i), "fiber " + i + " ended " + endings.get(i) + " times");
      }
      for (Computation<Object> f : fibers) {
        assertTrue(f.isCanceled());
      }

      // The shared structures shrink back: one more attach and detach runs the lazy clean-up.
      Trigger probe = Trigger.create();
      never.tryAttach(probe);
      never.detach(probe);
      assertTrue(Handler.triggerEntries(never) <= 2,
          "entries left on the shared computation: " + Handler.triggerEntries(never));
      assertEquals(0, mutex.queueLength(), "waiters left in the mutex queue");
      assertEquals(0, channel.waitingReceivers(), "receivers left on the channel");
      holderDone.tryReturn(null);
    } finally {
      for (Host.Running h : hosts) {
        h.close();
      }
    }
  }
}
