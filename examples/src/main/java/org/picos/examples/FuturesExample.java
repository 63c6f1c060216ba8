package org.picos.examples;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.picos.Scheduler;
import org.picos.SchedulerClosedException;
import org.picos.bridge.future.PicosFutures;

/**
 * The CompletableFuture bridge in six steps: a CompletableFuture-based client is called from a
 * fiber in blocking style, the fiber is handed back as a CompletableFuture, cancellation and
 * errors cross the boundary, the scheduler serves as an executor for {@code supplyAsync}, and an
 * executor shutdown ends a fiber. Each step prints what it shows. The scheduler is the pool's
 * shared one, {@code PicosFutures.scheduler(pool)}: nobody closes it, the pool's shutdown does.
 *
 * <p>Run with the JVM flag {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}.
 */
public final class FuturesExample {
  private FuturesExample() {}

  /** A client whose calls answer later on its own threads, as an HTTP or database client does. */
  static final class Client {
    private final Executor replies = CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS);

    CompletableFuture<String> user(int id) {
      return CompletableFuture.supplyAsync(() -> "user-" + id, replies);
    }

    CompletableFuture<Integer> orderCount(String user) {
      return CompletableFuture.supplyAsync(() -> {
        if (user.equals("user-13")) {
          throw new IllegalStateException("no orders table for " + user);
        }
        return user.length();
      }, replies);
    }

    /** A call that never answers, to show cancellation. */
    CompletableFuture<String> slowReport() {
      return new CompletableFuture<>();
    }
  }

  public static void main(String[] args) throws Exception {
    Client client = new Client();
    ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "app-pool");
      t.setDaemon(true);
      return t;
    });
    Scheduler picos = PicosFutures.scheduler(pool);

    System.out.println("1. A fiber calls the client in blocking style, suspending instead of blocking:");
    CompletableFuture<String> summary = PicosFutures.future(picos, () -> {
      String user = PicosFutures.await(client.user(7));
      int orders = PicosFutures.await(client.orderCount(user));
      return user + " has " + orders + " orders (computed on " + Thread.currentThread().getName() + ")";
    });

    System.out.println("2. ...and comes back as an ordinary CompletableFuture:");
    System.out.println("   " + summary.thenApply(s -> "future says: " + s).get(5, TimeUnit.SECONDS));

    System.out.println("3. The client's failure reaches the fiber with its own type and message:");
    String handled = PicosFutures.future(picos, () -> {
      try {
        return "unexpected " + PicosFutures.await(client.orderCount("user-13"));
      } catch (IllegalStateException e) {
        return "caught " + e.getClass().getSimpleName() + ": " + e.getMessage();
      }
    }).get(5, TimeUnit.SECONDS);
    System.out.println("   " + handled);

    System.out.println("4. Cancelling the fiber's future cancels the fiber, and the fiber cancels its call:");
    CompletableFuture<String> report = client.slowReport();
    CompletableFuture<String> fiberSaw = new CompletableFuture<>();
    CompletableFuture<String> waiting = PicosFutures.future(picos, () -> {
      try {
        return PicosFutures.await(report);
      } catch (CancellationException e) {
        fiberSaw.complete(e.getMessage());
        throw e;
      }
    });
    while (report.getNumberOfDependents() == 0) {
      Thread.sleep(1); // until the fiber is waiting for the report
    }
    waiting.cancel(true);
    System.out.println("   the fiber saw: " + fiberSaw.get(5, TimeUnit.SECONDS));
    System.out.println("   the slow call's future is cancelled too: " + report.isCancelled());

    System.out.println("5. asExecutor: supplyAsync runs its supplier in a fiber, which may await:");
    String viaExecutor = CompletableFuture.supplyAsync(
        () -> "supplier awaited " + PicosFutures.await(client.user(8)) + " on " + Thread.currentThread().getName(),
        PicosFutures.asExecutor(picos)).get(5, TimeUnit.SECONDS);
    System.out.println("   " + viaExecutor);

    System.out.println("6. Shutting the executor down ends a suspended fiber with a cause naming it:");
    CompletableFuture<String> stranded = PicosFutures.future(picos, () -> PicosFutures.await(client.slowReport()));
    pool.shutdown();
    Throwable cause = stranded.handle((v, e) -> e).get(5, TimeUnit.SECONDS);
    System.out.println("   " + (cause instanceof SchedulerClosedException ? "SchedulerClosedException: " : "")
        + cause.getMessage());
    System.out.println("   pool terminated: " + pool.awaitTermination(5, TimeUnit.SECONDS));
  }
}
