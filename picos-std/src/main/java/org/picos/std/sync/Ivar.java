package org.picos.std.sync;

import java.util.Objects;
import java.util.Optional;
import org.picos.Computation;

/**
 * A write-once variable: one {@linkplain #fill fill} (or {@linkplain #poison poison}), any
 * number of {@linkplain #read reads}, which wait until it is filled. A thin layer over a
 * {@link Computation}: filling returns it, poisoning cancels it with the poison cause.
 *
 * <h2>Cancellation</h2>
 * {@link #read()} is a cancellation point and leaves nothing behind when cancelled. Filling and
 * poisoning never suspend and are not cancellation points.
 *
 * @param <T> the type of the value; values must not be null
 */
public final class Ivar<T> {
  private final Computation<T> value;

  private Ivar(Computation<T> value) {
    this.value = value;
  }

  /** A new empty ivar. */
  public static <T> Ivar<T> create() {
    return new Ivar<>(Computation.create());
  }

  /** An ivar already filled with {@code value}. */
  public static <T> Ivar<T> of(T value) {
    return new Ivar<>(Computation.returned(Objects.requireNonNull(value, "value")));
  }

  /**
   * Fills the ivar unless it is already filled or poisoned; wakes every reader.
   *
   * @return whether this call filled it
   * @throws NullPointerException if {@code value} is null
   */
  public boolean tryFill(T value) {
    return this.value.tryReturn(Objects.requireNonNull(value, "value"));
  }

  /**
   * Fills the ivar; wakes every reader.
   *
   * @throws IllegalStateException if it is already filled or poisoned
   * @throws NullPointerException if {@code value} is null
   */
  public void fill(T value) {
    if (!tryFill(value)) {
      throw new IllegalStateException(
          "Ivar.fill: the ivar is already filled or poisoned; use tryFill when writers race");
    }
  }

  /**
   * Poisons the ivar unless it is already filled or poisoned: readers then get {@code cause}
   * (unchecked as is, checked wrapped in a {@link java.util.concurrent.CompletionException}).
   *
   * @return whether this call poisoned it
   */
  public boolean tryPoison(Throwable cause) {
    return value.tryCancel(cause);
  }

  /**
   * Poisons the ivar; see {@link #tryPoison}.
   *
   * @throws IllegalStateException if it is already filled or poisoned
   */
  public void poison(Throwable cause) {
    if (!tryPoison(cause)) {
      throw new IllegalStateException(
          "Ivar.poison: the ivar is already filled or poisoned; use tryPoison when writers race");
    }
  }

  /**
   * Returns the value, waiting until the ivar is filled.
   *
   * @throws RuntimeException the poison cause if poisoned; the caller's cancellation cause if
   *     cancelled while waiting
   */
  public T read() {
    return value.awaitDescribed(this); // a dump of a waiting fiber shows this ivar's toString
  }

  /** The state, for logs and fiber dumps: {@code Ivar[empty]}, filled or poisoned. */
  @Override
  public String toString() {
    return value.isRunning() ? "Ivar[empty]"
        : value.isReturned() ? "Ivar[filled]" : "Ivar[poisoned: " + value.canceled() + "]";
  }

  /**
   * Returns the value if filled, empty if not yet. Never waits.
   *
   * @throws RuntimeException the poison cause if poisoned
   */
  public Optional<T> peek() {
    return value.isRunning() ? Optional.empty() : Optional.of(value.resultNow());
  }

  /** An event that fires with the value (or throws the poison) once filled; see {@link Event}. */
  public Event<T> readEvent() {
    return Event.fromComputation(value);
  }
}
