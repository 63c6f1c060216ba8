package org.picos.examples;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;

/**
 * The core on every core scheduler: fibers sharing one computation, and a timeout that cancels a
 * waiting fiber. Every line says which scheduler and which thread did what. Run it with
 * {@code mvn -q -B -DskipTests -Dtour -Dtour.main=org.picos.examples.CoreSchedulersExample package}.
 */
public final class CoreSchedulersExample {
  private CoreSchedulersExample() {}

  public static void main(String[] args) {
    ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "app-pool");
      t.setDaemon(true);
      return t;
    });
    List<Supplier<Scheduler>> schedulers = List.of(
        Schedulers::fifo,
        () -> Schedulers.multi(2),
        Schedulers::threadPerFiber,
        () -> Schedulers.onExecutor(pool));
    for (Supplier<Scheduler> make : schedulers) {
      try (Scheduler s = make.get()) {
        sharedComputation(s);
        timeout(s);
      }
    }
    pool.shutdown();
    say("core", "done: every scheduler ran the same fiber code");
  }

  /** Two fibers wait for one computation; a third completes it; all on scheduler {@code s}. */
  static void sharedComputation(Scheduler s) {
    String name = s.toString();
    say(name, "-- fibers sharing one computation");
    int total = s.run(() -> {
      Computation<Integer> answer = Computation.create();
      List<Computation<Integer>> waiters = new ArrayList<>();
      for (int i = 1; i <= 2; i++) {
        int me = i;
        waiters.add(Fiber.spawn(() -> {
          say(name, "waiter " + me + " awaits the answer");
          int v = answer.await();
          say(name, "waiter " + me + " got " + v);
          return v;
        }));
      }
      Fiber.spawn(() -> {
        Fiber.yield();
        say(name, "producer returns 21");
        return answer.tryReturn(21);
      });
      int sum = 0;
      for (Computation<Integer> w : waiters) {
        sum += w.await();
      }
      return sum;
    });
    say(name, "main fiber joined both waiters: " + total);
  }

  /** A fiber waits for something that never comes; a timeout cancels it. */
  static void timeout(Scheduler s) {
    String name = s.toString();
    say(name, "-- a timeout cancels a waiting fiber");
    String outcome = s.run(() -> {
      Computation<String> never = Computation.create();
      Computation<String> waiter = Fiber.spawn(() -> {
        Fiber.current().computation()
            .cancelAfter(Duration.ofMillis(50), new TimeoutException("no reply within 50 ms"));
        say(name, "waiter awaits a reply that never comes (timeout 50 ms)");
        return never.await();
      });
      try {
        return waiter.await();
      } catch (RuntimeException e) {
        return "waiter cancelled: " + e.getCause().getMessage();
      }
    });
    say(name, outcome);
  }

  static void say(String where, String what) {
    System.out.printf("%-22s %-26s %s%n", "[" + where + "]", Thread.currentThread().getName(), what);
  }
}
