package org.picos.reactive;

import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.picos.spi.Support;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;

/**
 * How one Reactive Streams ecosystem wants the shared code of this package to behave where the
 * Reactive Streams rules leave it open: how a subscription is made (to carry a context), where
 * an error nobody can receive goes, where an element nobody will consume goes, and what a
 * producing fiber sets up before its body runs. Every method has a default, so
 * {@link #DEFAULT} is plain Reactive Streams. A bridge implements the ones its ecosystem has
 * hooks for (Reactor: {@code Operators.onErrorDropped}, {@code Operators.onDiscard} and the
 * subscriber's context; RxJava: {@code RxJavaPlugins.onError}).
 *
 * <p>Threading: the methods may be called from any thread, concurrently; they must not block.
 */
public interface ReactiveHooks {
  /** Plain Reactive Streams: subscribe as is, report dropped errors as uncaught, drop elements. */
  ReactiveHooks DEFAULT = new ReactiveHooks() {};

  /**
   * Subscribes {@code subscriber} to {@code publisher}; the default calls
   * {@code publisher.subscribe(subscriber)}. A bridge may wrap the subscriber to give it a
   * context. Called on the thread (or fiber) that starts the iteration or the await; it must not
   * block. Cancellation does not apply: it returns once the subscribe call has returned.
   *
   * @param publisher the publisher to subscribe to
   * @param subscriber the subscriber of this package's iterator or await
   * @param <T> the element type
   */
  default <T> void subscribe(Publisher<T> publisher, Subscriber<? super T> subscriber) {
    publisher.subscribe(subscriber);
  }

  /**
   * Receives an error no subscriber or consumer can receive any more (it arrived after a cancel
   * or a close, or a body failed after its subscriber cancelled); the default hands it to
   * {@link Support#reportUncaught}. Called on whatever thread noticed it; cancellation does not
   * apply.
   *
   * @param error the undeliverable error
   * @param subscriber the subscriber it was meant for
   */
  default void dropped(Throwable error, Subscriber<?> subscriber) {
    Support.reportUncaught(error);
  }

  /**
   * Receives an element that was produced but will never be consumed (buffered when an iterator
   * was closed, or emitted after a cancel); the default drops it. Called on whatever thread
   * noticed it; cancellation does not apply.
   *
   * @param element the element nobody will consume
   * @param subscriber the subscriber it was meant for
   */
  default void discarded(Object element, Subscriber<?> subscriber) {}

  /**
   * Runs in the fiber of a {@link Reactive#publisher} subscription before its body, for example
   * to make the subscriber's context visible to the body; the default does nothing. A failure
   * it throws fails the subscription as the body's would. Runs in the producing fiber, which may
   * already be cancelled.
   *
   * @param subscriber the subscriber the fiber produces for
   */
  default void entering(Subscriber<?> subscriber) {}

  /**
   * Starts the fiber of a {@link Reactive#publisher} subscription; the default is
   * {@link Schedulers#spawn(Scheduler, Fiber, Runnable)}. An ecosystem overrides it to spawn
   * inside a scope of its own (Reactor sets the ThreadLocals its subscriber's context names, so
   * the fiber starts with them). Called on the subscribing thread; it spawns the fiber once or
   * throws, and then no fiber exists and the subscription fails with what it threw.
   *
   * @param where the scheduler the publisher was given, or null for the caller's
   * @param fiber the fiber to spawn
   * @param main what it runs
   * @param subscriber the subscriber the fiber will produce for
   */
  default void spawn(Scheduler where, Fiber fiber, Runnable main, Subscriber<?> subscriber) {
    Schedulers.spawn(where, fiber, main);
  }
}
