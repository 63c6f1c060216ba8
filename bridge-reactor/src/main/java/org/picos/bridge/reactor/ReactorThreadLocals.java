package org.picos.bridge.reactor;

import io.micrometer.context.ContextSnapshot;
import io.micrometer.context.ContextSnapshotFactory;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.context.ContextRegistryThreadContext;
import org.picos.sched.Schedulers;
import org.picos.spi.Support;
import reactor.core.publisher.Hooks;
import reactor.util.context.Context;
import reactor.util.context.ContextView;

/*
 * Reactor's automatic context propagation carried into this bridge's fibers, and back.
 *
 * Reactor, once Hooks.enableAutomaticContextPropagation() has been called (and with Micrometer's
 * context-propagation on the class path), keeps every ThreadLocal registered in
 * ContextRegistry.getInstance() in step with the subscriber's Context: contextWrite sets them
 * around the subscription and the signals that pass it; signals of publishers that are not its
 * own operators (Mono.from, fromFuture, custom Mono/Flux like this bridge's) are delivered with
 * them set from the Context, those whose key the Context lacks cleared; its schedulers' tasks
 * run with the ThreadLocals of the thread that scheduled them; and block*() subscribes with the
 * calling thread's ThreadLocals captured into the Context. A fiber of PicosReactor.mono/flux
 * runs user code of its own, long after the subscription and on other threads, and inherits
 * its ThreadLocals from the thread that subscribed, whose values need not be the subscriber's
 * Context (a subscriber that brings its own Context, a thread with stale values); and
 * PicosReactor.await/iterate are the fiber's block(). So, only while both libraries are present
 * and the hook is on:
 *
 *   Context -> ThreadLocals, at the spawn of a mono/flux fiber (start): the fiber is spawned
 *     inside a scope that sets the registered ThreadLocals from the subscriber's Context with
 *     clearMissing, the factory Reactor builds for itself. picos-context's
 *     ContextRegistryThreadContext captures the ThreadLocals on the spawning thread at spawn
 *     (Fiber.inheritContexts runs synchronously in Scheduler.start) and restores them around
 *     every resume of the fiber, on whatever carrier; the scope is closed as soon as start
 *     returns, so the subscribing thread (or fiber) gets its own values back at once. The
 *     context is scoped to these fibers with Fiber.withThreadContext, so it holds even where
 *     the JVM-wide ServiceLoader registration of picos-context is absent or was removed; where
 *     it is present the two are equal and the fiber carries it once.
 *
 *   ThreadLocals -> Context, at each subscription made by await/iterate (captured): the
 *     subscriber's Context is updated with a capture of the calling fiber's registered
 *     ThreadLocals, as Reactor's contextCapture() does, so upstream operators (and the
 *     ThreadLocals Reactor sets from that Context) see what the fiber set.
 *
 * With the hook off, or either library absent, both methods do exactly what the bridge did
 * without them: start is Schedulers.start, captured returns its argument.
 *
 * Optional classes: context-propagation and picos-context are optional dependencies of this
 * module, so nothing outside the nested class Linked names their types, and Linked is loaded
 * only once PRESENT (checked once, without initializing anything) says both are there. The
 * hook is read at every call: Reactor lets an application turn it on and off at any time
 * (it applies to new subscriptions).
 *
 * Failures: a failure to set the ThreadLocals (an accessor that throws) happens before any
 * fiber exists and propagates, so the publisher reports it to its subscriber as it does a
 * scheduler that refuses the fiber. A failure to close the scope comes after the fiber was
 * started, when the subscription already belongs to that fiber: it goes to the calling thread's
 * uncaught-exception handler (Support.reportUncaught), and start returns the computation.
 */
final class ReactorThreadLocals {
  private static final boolean PRESENT =
      present("io.micrometer.context.ContextSnapshotFactory")
          && present("org.picos.context.ContextRegistryThreadContext");

  private ReactorThreadLocals() {}

  /**
   * Starts {@code body} in a new fiber, placed as {@link Schedulers#start} places it, whose
   * registered ThreadLocals start as {@code context} says when Reactor's automatic context
   * propagation is on. Called on the subscribing thread.
   *
   * @throws RuntimeException what {@link Schedulers#start} throws, or the failure of a
   *     ThreadLocal accessor; no fiber is started then
   */
  static <T> Computation<T> start(Scheduler where, ContextView context, Callable<T> body) {
    return spawning(context, () -> Schedulers.start(where, body));
  }

  /**
   * Spawns {@code fiber} running {@code main}, placed as {@link Schedulers#spawn} places it, with
   * its registered ThreadLocals set from {@code context} as {@link #start} does; for the fibers
   * of {@code flux}. Called on the subscribing thread.
   *
   * @throws RuntimeException what {@link Schedulers#spawn} throws, or the failure of a
   *     ThreadLocal accessor; no fiber is started then
   */
  static void spawn(Scheduler where, ContextView context, Fiber fiber, Runnable main) {
    spawning(context, () -> {
      Schedulers.spawn(where, fiber, main);
      return null;
    });
  }

  /** Runs the spawn {@code spawn} with the ThreadLocals {@code context} names, when propagating. */
  private static <T> T spawning(ContextView context, Supplier<T> spawn) {
    return propagating() ? Linked.spawning(context, spawn) : spawn.get();
  }

  /**
   * {@code context} with the calling thread's registered ThreadLocals captured into it when
   * Reactor's automatic context propagation is on; else {@code context} itself.
   */
  static Context captured(Context context) {
    return propagating() ? Linked.captured(context) : context;
  }

  private static boolean propagating() {
    return PRESENT && Hooks.isAutomaticContextPropagationEnabled();
  }

  private static boolean present(String className) {
    try {
      Class.forName(className, false, ReactorThreadLocals.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError absent) {
      return false;
    }
  }

  /** Everything that names context-propagation or picos-context types. */
  private static final class Linked {
    /** What Reactor builds for its automatic mode: the global registry, clearing missing keys. */
    static final ContextSnapshotFactory FACTORY =
        ContextSnapshotFactory.builder().clearMissing(true).build();
    /** Carries the global registry's ThreadLocals; equal to picos-context's ServiceLoader one. */
    static final ContextRegistryThreadContext CARRIED = new ContextRegistryThreadContext();

    static <T> T spawning(ContextView context, Supplier<T> spawn) {
      ContextSnapshot.Scope scope = FACTORY.setThreadLocalsFrom(context);
      T started;
      try {
        started = Fiber.withThreadContext(CARRIED, spawn::get);
      } catch (Throwable notStarted) {
        try {
          scope.close();
        } catch (Throwable closing) {
          notStarted.addSuppressed(closing);
        }
        throw notStarted;
      }
      try {
        scope.close();
      } catch (Throwable closing) {
        Support.reportUncaught(closing);
      }
      return started;
    }

    static Context captured(Context context) {
      return FACTORY.captureAll().updateContext(context);
    }
  }
}
