package org.picos.bridge.reactor;

import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.reactive.Reactive;
import org.picos.reactive.ReactiveHooks;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * Reactor's answers to {@link ReactiveHooks}: dropped errors go to
 * {@link Operators#onErrorDropped} ({@code Hooks.onErrorDropped}), discarded elements to
 * {@link Operators#onDiscard} ({@code doOnDiscard}), each with the context of the subscriber
 * concerned; iterations and awaits subscribe with the calling fiber's
 * {@link PicosReactor#context()} (with the fiber's ThreadLocals captured into it, under
 * automatic context propagation); a {@code flux} body's fiber sees its subscriber's context, and
 * starts with the ThreadLocals that context names.
 */
final class ReactorHooks implements ReactiveHooks {
  /** For {@code flux}: every subscriber brings its own context. */
  static final Reactive PUBLISHING = Reactive.using(new ReactorHooks(Context.empty()));

  /** The context of subscriptions this instance makes, and of its own subscribers. */
  private final Context context;

  private ReactorHooks(Context context) {
    this.context = context;
  }

  /** The shared operations for the calling fiber: subscriptions carry its context. */
  static Reactive forCaller() {
    return Reactive.using(new ReactorHooks(ReactorThreadLocals.captured(Context.of(PicosReactor.context()))));
  }

  private Context contextOf(Subscriber<?> subscriber) {
    return subscriber instanceof CoreSubscriber<?> core ? core.currentContext() : context;
  }

  @Override
  public <T> void subscribe(Publisher<T> publisher, Subscriber<? super T> subscriber) {
    publisher.subscribe(new WithContext<>(subscriber, context));
  }

  @Override
  public void dropped(Throwable error, Subscriber<?> subscriber) {
    Operators.onErrorDropped(error, contextOf(subscriber));
  }

  @Override
  public void discarded(Object element, Subscriber<?> subscriber) {
    Operators.onDiscard(element, contextOf(subscriber));
  }

  @Override
  public void spawn(Scheduler where, Fiber fiber, Runnable main, Subscriber<?> subscriber) {
    ReactorThreadLocals.spawn(where, contextOf(subscriber), fiber, main);
  }

  @Override
  public void entering(Subscriber<?> subscriber) {
    PicosReactor.CONTEXT.set(contextOf(subscriber));
  }

  /**
   * A well-behaved subscriber given a Reactor context; as a {@link CoreSubscriber} it is not
   * wrapped by Reactor's strict rule checks.
   */
  private record WithContext<T>(Subscriber<? super T> actual, Context currentContext)
      implements CoreSubscriber<T> {
    @Override
    public void onSubscribe(Subscription s) {
      actual.onSubscribe(s);
    }

    @Override
    public void onNext(T t) {
      actual.onNext(t);
    }

    @Override
    public void onError(Throwable t) {
      actual.onError(t);
    }

    @Override
    public void onComplete() {
      actual.onComplete();
    }
  }
}
