package org.picos;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Fiber-local storage: a value per fiber, the fiber counterpart of {@link ThreadLocal}. Inside
 * a fiber, ThreadLocals belong to the carrier thread and are shared by every fiber it runs, so
 * fiber state must live here.
 *
 * <p>A new fiber starts with every local unset (no inheritance); {@link #get()} of an unset
 * local stores and returns the initial value. Outside any scheduler the calling thread's
 * implicit fiber holds the values. Each {@code FiberLocal} takes a slot index for the life of
 * the JVM: create them once, as constants.
 *
 * <p>Thread safety: the accessors without a fiber argument act on the current fiber; the ones
 * taking a {@link Fiber} may be used by whoever owns a fiber that is not running, for example
 * to set a value on a fiber before {@linkplain Fiber#spawn spawning} it.
 *
 * @param <T> the type of the value
 */
public final class FiberLocal<T> {
  private static final AtomicInteger NEXT_INDEX = new AtomicInteger();

  private final int index = NEXT_INDEX.getAndIncrement();
  private final Supplier<? extends T> initial;

  private FiberLocal(Supplier<? extends T> initial) {
    this.initial = initial;
  }

  /** A local whose initial value in every fiber is {@code null}. */
  public static <T> FiberLocal<T> create() {
    return new FiberLocal<>(() -> null);
  }

  /** A local whose initial value in each fiber is computed by {@code initial} on first get. */
  public static <T> FiberLocal<T> withInitial(Supplier<? extends T> initial) {
    return new FiberLocal<>(Objects.requireNonNull(initial, "initial"));
  }

  /** The current fiber's value. */
  public T get() {
    return get(Fiber.current());
  }

  /** {@code fiber}'s value. */
  @SuppressWarnings("unchecked")
  public T get(Fiber fiber) {
    Object v = fiber.local(index);
    if (Fiber.isUnset(v)) {
      T init = initial.get();
      fiber.setLocal(index, init);
      return init;
    }
    return (T) v;
  }

  /** Sets the current fiber's value. */
  public void set(T value) {
    set(Fiber.current(), value);
  }

  /** Sets {@code fiber}'s value. */
  public void set(Fiber fiber, T value) {
    fiber.setLocal(index, value);
  }

  /** Whether the current fiber has a value (set, or initialised by a get). */
  public boolean isSet() {
    return !Fiber.isUnset(Fiber.current().local(index));
  }

  /** Unsets the current fiber's value: the next get computes the initial value again. */
  public void remove() {
    Fiber.current().clearLocal(index);
  }
}
