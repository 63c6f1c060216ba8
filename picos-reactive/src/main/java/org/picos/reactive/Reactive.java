package org.picos.reactive;

import java.util.Objects;
import org.picos.Scheduler;
import org.picos.sched.Schedulers;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;

/**
 * Reactive Streams in fibers, over any {@link Publisher}: iterate it with bounded prefetch,
 * await its first, last or single element, or make a publisher of a fiber body. The bridges'
 * facades ({@code PicosReactor}, {@code PicosRx}) are written on this class; use it directly for
 * any other Reactive Streams library.
 *
 * <p>An instance carries the {@link ReactiveHooks} of one ecosystem: {@link #STANDARD} for plain
 * Reactive Streams, {@link #using(ReactiveHooks)} for others.
 *
 * <h2>Waiting</h2>
 * The await methods and {@link PublisherIterator#hasNext()} suspend the calling fiber, and only
 * the fiber; on a plain thread they block it. Cancelling the waiting fiber cancels the
 * subscription and throws the fiber's cancellation cause. Errors are rethrown as
 * {@link org.picos.Computation#await()} does: unchecked ones as they are, checked ones wrapped in
 * a {@link java.util.concurrent.CompletionException}.
 */
public final class Reactive {
  /**
   * An {@link Emitter} yields its fiber after this many items sent without suspending, so that a
   * fast body leaves the scheduler's other fibers their turn.
   */
  public static final int YIELD_EVERY = 128;

  /** The prefetch of the one-argument {@code iterate} methods: elements requested ahead. */
  public static final int DEFAULT_PREFETCH = 32;

  /** Plain Reactive Streams: {@link ReactiveHooks#DEFAULT}. */
  public static final Reactive STANDARD = new Reactive(ReactiveHooks.DEFAULT);

  /** Stands in for a subscription once it is cancelled. */
  static final Subscription CANCELLED = new Subscription() {
    @Override
    public void request(long n) {}

    @Override
    public void cancel() {}
  };

  private final ReactiveHooks hooks;

  private Reactive(ReactiveHooks hooks) {
    this.hooks = hooks;
  }

  /**
   * The operations of this class with {@code hooks} deciding how subscriptions are made and
   * where dropped errors and discarded elements go. Never blocks; safe from any thread.
   * Cancellation does not apply.
   *
   * @param hooks the ecosystem's hooks
   * @return an instance using them
   * @throws NullPointerException if {@code hooks} is null
   */
  public static Reactive using(ReactiveHooks hooks) {
    return new Reactive(Objects.requireNonNull(hooks, "hooks"));
  }

  // ---------------------------------------------------------------------------------------
  // Iterating

  /**
   * Subscribes to {@code publisher} and returns an iterator over its elements for one consumer,
   * requesting {@code prefetch} elements at first and then, each time three quarters of them
   * are taken, that many again (see {@link PublisherIterator}). Use it in try-with-resources:
   * {@code close()}, safe from any thread, cancels the subscription. Subscribes on the calling
   * thread and does not wait; cancellation of the consumer fiber while it waits in
   * {@code hasNext()} closes the iterator.
   *
   * @param publisher the elements
   * @param prefetch how many elements to request ahead, at least 1
   * @param <T> the element type
   * @return the iterator, also an {@link Iterable} (once) and {@link AutoCloseable}
   * @throws IllegalArgumentException if {@code prefetch} is not positive
   * @throws NullPointerException if {@code publisher} is null
   */
  public <T> PublisherIterator<T> iterate(Publisher<? extends T> publisher, int prefetch) {
    Objects.requireNonNull(publisher, "publisher");
    if (prefetch <= 0) {
      throw new IllegalArgumentException("iterate: prefetch must be at least 1, was " + prefetch);
    }
    PublisherIterator<T> iterator = new PublisherIterator<>(prefetch, hooks);
    @SuppressWarnings("unchecked")
    Publisher<T> p = (Publisher<T>) publisher;
    hooks.subscribe(p, iterator.subscriber());
    return iterator;
  }

  // ---------------------------------------------------------------------------------------
  // Awaiting

  /**
   * Subscribes to {@code publisher}, requests one element and waits for it; cancels the
   * subscription once it arrived. Suspends the calling fiber (a plain thread blocks); cancelling
   * the fiber cancels the subscription and throws its cancellation cause.
   *
   * @param publisher the publisher
   * @param <T> the element type
   * @return the first element
   * @throws java.util.NoSuchElementException if it completes without any element
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitFirst(Publisher<T> publisher) {
    return orThrow(await(publisher, AwaitSubscriber.Mode.FIRST, "awaitFirst"), "awaitFirst");
  }

  /**
   * Like {@link #awaitFirst}, but answers {@code null} for a publisher that completes empty.
   *
   * @param publisher the publisher
   * @param <T> the element type
   * @return the first element, or {@code null}
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitFirstOrNull(Publisher<T> publisher) {
    return awaitFirstOrDefault(publisher, null);
  }

  /**
   * Like {@link #awaitFirst}, but answers {@code defaultValue} for a publisher that completes
   * empty.
   *
   * @param publisher the publisher
   * @param defaultValue the answer for an empty publisher
   * @param <T> the element type
   * @return the first element, or {@code defaultValue}
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitFirstOrDefault(Publisher<T> publisher, T defaultValue) {
    return orDefault(await(publisher, AwaitSubscriber.Mode.FIRST, "awaitFirst"), defaultValue);
  }

  /**
   * Subscribes to {@code publisher} with unbounded demand and waits for it to complete;
   * suspends, and is cancelled, as {@link #awaitFirst} is.
   *
   * @param publisher the publisher
   * @param <T> the element type
   * @return the last element
   * @throws java.util.NoSuchElementException if it completes without any element
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitLast(Publisher<T> publisher) {
    return orThrow(await(publisher, AwaitSubscriber.Mode.LAST, "awaitLast"), "awaitLast");
  }

  /**
   * Like {@link #awaitLast}, but answers {@code null} for a publisher that completes empty.
   *
   * @param publisher the publisher
   * @param <T> the element type
   * @return the last element, or {@code null}
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitLastOrNull(Publisher<T> publisher) {
    return awaitLastOrDefault(publisher, null);
  }

  /**
   * Like {@link #awaitLast}, but answers {@code defaultValue} for a publisher that completes
   * empty.
   *
   * @param publisher the publisher
   * @param defaultValue the answer for an empty publisher
   * @param <T> the element type
   * @return the last element, or {@code defaultValue}
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitLastOrDefault(Publisher<T> publisher, T defaultValue) {
    return orDefault(await(publisher, AwaitSubscriber.Mode.LAST, "awaitLast"), defaultValue);
  }

  /**
   * Subscribes to {@code publisher} with unbounded demand and waits for its only element;
   * a second element cancels the subscription and fails the await. Suspends, and is cancelled,
   * as {@link #awaitFirst} is.
   *
   * @param publisher the publisher
   * @param <T> the element type
   * @return the only element
   * @throws java.util.NoSuchElementException if it completes without any element
   * @throws IllegalArgumentException if it emits more than one element
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitSingle(Publisher<T> publisher) {
    return orThrow(await(publisher, AwaitSubscriber.Mode.SINGLE, "awaitSingle"), "awaitSingle");
  }

  /**
   * Like {@link #awaitSingle}, but answers {@code null} for a publisher that completes empty.
   *
   * @param publisher the publisher
   * @param <T> the element type
   * @return the only element, or {@code null}
   * @throws IllegalArgumentException if it emits more than one element
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitSingleOrNull(Publisher<T> publisher) {
    return awaitSingleOrDefault(publisher, null);
  }

  /**
   * Like {@link #awaitSingle}, but answers {@code defaultValue} for a publisher that completes
   * empty.
   *
   * @param publisher the publisher
   * @param defaultValue the answer for an empty publisher
   * @param <T> the element type
   * @return the only element, or {@code defaultValue}
   * @throws IllegalArgumentException if it emits more than one element
   * @throws RuntimeException its error, or the fiber's cancellation cause
   */
  public <T> T awaitSingleOrDefault(Publisher<T> publisher, T defaultValue) {
    return orDefault(await(publisher, AwaitSubscriber.Mode.SINGLE, "awaitSingle"), defaultValue);
  }

  private Object await(Publisher<?> publisher, AwaitSubscriber.Mode mode, String verb) {
    Objects.requireNonNull(publisher, "publisher");
    return AwaitSubscriber.await(publisher, mode, verb, hooks);
  }

  @SuppressWarnings("unchecked")
  private static <T> T orThrow(Object outcome, String verb) {
    if (outcome == AwaitSubscriber.EMPTY) {
      throw AwaitSubscriber.noElement(verb);
    }
    return (T) outcome;
  }

  @SuppressWarnings("unchecked")
  private static <T> T orDefault(Object outcome, T defaultValue) {
    return outcome == AwaitSubscriber.EMPTY ? defaultValue : (T) outcome;
  }

  // ---------------------------------------------------------------------------------------
  // Producing

  /**
   * A cold publisher that, for each subscriber, starts a fiber running {@code body}, placed by
   * the rule of {@link Schedulers#spawn}: on {@code scheduler} when not null, else on the
   * subscribing fiber's scheduler, else on {@link Schedulers#shared()}. The body emits through
   * an {@link Emitter} whose {@code next} suspends the fiber while the subscriber has no demand;
   * returning completes the stream, throwing fails it with that exception. The publisher obeys
   * the Reactive Streams rules (checked with the TCK); {@code request(n)} with {@code n <= 0}
   * cancels the body with a {@link java.util.concurrent.CancellationException} and ends the
   * stream with an {@link IllegalArgumentException} (rule 3.9).
   *
   * <p>Cancellation: cancelling the subscription cancels the fiber's computation, waking it
   * wherever it awaits; {@code next} then throws the cancellation cause. A failure the body ends
   * with after that, other than the cancellation unwinding, goes to
   * {@link ReactiveHooks#dropped}. A scheduler that refuses the fiber (closed) errors the
   * subscriber from {@code subscribe}. Making the publisher never blocks; safe from any thread.
   *
   * @param scheduler where the fibers run, or null for the rule above
   * @param body the producer of each subscription
   * @param <T> the element type
   * @return the publisher
   * @throws NullPointerException if {@code body} is null
   */
  public <T> Publisher<T> publisher(Scheduler scheduler, Emitter.Body<T> body) {
    return new FiberPublisher<>(scheduler, Objects.requireNonNull(body, "body"), hooks);
  }
}
