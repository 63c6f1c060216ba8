package org.picos.bridge.reactor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import reactor.core.publisher.Hooks;

/** Helpers shared by the tests: capturing Reactor's dropped-error hook. */
final class TestSupport {
  private TestSupport() {}

  /** Errors that reached {@code Hooks.onErrorDropped} while {@link #withDroppedErrors} ran. */
  static final class Dropped {
    final List<Throwable> errors = new ArrayList<>();
    final CompletableFuture<Throwable> first = new CompletableFuture<>();

    synchronized void add(Throwable e) {
      errors.add(e);
      first.complete(e);
    }
  }

  /** Runs {@code test} with a dropped-error hook installed, then removes it. */
  static void withDroppedErrors(Consumer<Dropped> test) {
    Dropped dropped = new Dropped();
    Hooks.onErrorDropped(dropped::add);
    try {
      test.accept(dropped);
    } finally {
      Hooks.resetOnErrorDropped();
    }
  }
}
