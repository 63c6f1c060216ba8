package org.picos.std.structured;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;
import org.picos.Trigger;
import org.picos.spi.Support;

/**
 * An explicit scope of fibers (structured concurrency): {@link #joinAfter} runs a body that
 * {@linkplain #fork forks} children into the bundle it is given, and returns only after every
 * child has finished. {@link Flock} is the same scope passed implicitly.
 *
 * <h2>Semantics (from Picos' {@code Bundle})</h2>
 * <ul>
 *   <li>The bundle has a cancellation token, a computation shared by the body (the calling
 *       fiber's computation is swapped for it during the body) and by the children forked with
 *       {@link #fork}; a child forked with {@link #forkAsPromise} gets a token of its own that the
 *       bundle's cancels.</li>
 *   <li>A child or body that fails with anything but {@link Control.Terminate} terminates the
 *       bundle (cancels every other member with a {@code Terminate}) and its failure is
 *       recorded. A child ending with {@code Terminate} is silent.</li>
 *   <li>Join: after the body, the calling fiber waits for all children <em>with cancellation
 *       forbidden</em> (children are already cancelled if there is a reason), then throws the
 *       recorded failures (one: that failure itself; several: {@link Control.Errors} in the
 *       order they occurred), else the calling fiber's own cancellation cause, else the body's
 *       result or {@code Terminate}.</li>
 *   <li>Cancelling the calling fiber cancels the bundle with the same cause; the join then
 *       throws that cause. Members ending with it are not recorded as failures: neither the
 *       cause itself nor, for a checked cause, the {@link java.util.concurrent.CompletionException}
 *       around it that each member throws.</li>
 *   <li>{@code joinAfter} in a fiber whose computation is already cancelled throws that cause
 *       at once, without running the body, even when the fiber forbids cancellation; in one
 *       whose computation has returned it throws {@link IllegalStateException}.</li>
 *   <li>Forking into a bundle whose {@code joinAfter} has returned throws
 *       {@link IllegalStateException}; forking from inside a terminated bundle throws its
 *       {@code Terminate} (the spawn is a cancellation point) and starts nothing.</li>
 * </ul>
 * A try-with-resources form is deliberately not offered: {@code close()} cannot see an
 * exception thrown by the try block, so siblings would not be terminated and the close could
 * wait forever for them. {@code joinAfter} sees it.
 *
 * <h2>Threading</h2>
 * Children run on the calling fiber's scheduler (outside any scheduler, on virtual threads).
 * {@code fork}, {@code forkAsPromise} and {@code terminate} may be called from any fiber,
 * including children.
 */
public final class Bundle {
  /** The scope's body, given the bundle to fork into. */
  @FunctionalInterface
  public interface Body<T> {
    /** Runs the scope; may throw anything, which fails the scope. */
    T run(Bundle bundle) throws Exception;
  }

  /** The cancellation token of the body and the plainly forked children. */
  private final Computation<Void> token = Computation.create(Computation.Mode.LIFO);
  /** Returned when the last member (body or child) ends. */
  private final Computation<Void> finished = Computation.create();
  /**
   * Members alive, a lock-free counter: {@code n > 0} while the body or children run, and
   * {@code 0} once the last one ended, which is final.
   * <pre>
   *   n &gt; 0 --fork (CAS n -&gt; n + 1)--&gt; n + 1      (fork seeing 0 throws IllegalStateException)
   *   n &gt; 1 --a member ends------------&gt; n - 1
   *   1     --the last member ends------&gt; 0       (join released, token cancelled)
   * </pre>
   */
  private final AtomicInteger members = new AtomicInteger(1);
  private final List<Throwable> errors = new ArrayList<>();
  /** The fiber running {@link #joinAfter}; named by {@link #toString()} in fiber dumps. */
  private final Fiber owner;

  private Bundle(Fiber owner) {
    this.owner = owner;
  }

  /**
   * Runs {@code body} with a new bundle, waits for every child forked into it, and returns the
   * body's value. See the class comment for how failures and cancellation are reported.
   *
   * @throws Control.Errors several recorded failures
   * @throws RuntimeException the single recorded failure (checked ones wrapped in a
   *     {@link java.util.concurrent.CompletionException}); the calling fiber's cancellation
   *     cause, also when its computation is cancelled on entry (the body is then not run); a
   *     {@link Control.Terminate} that ended the body
   * @throws IllegalStateException if the calling fiber's computation has returned (the body is
   *     not run)
   */
  public static <T> T joinAfter(Body<T> body) {
    Objects.requireNonNull(body, "body");
    Fiber fiber = Fiber.current();
    Computation<?> outer = fiber.computation();
    Bundle bundle = new Bundle(fiber);
    Trigger canceler = Cancelers.attach(outer, bundle.token, "Bundle.joinAfter");
    T value = null;
    Throwable bodyFailure = null;
    fiber.setComputation(bundle.token);
    try {
      value = body.run(bundle);
    } catch (Throwable t) {
      bodyFailure = t;
    } finally {
      fiber.setComputation(outer);
    }
    // Neither error nor leave throws (see cancelToken), so the join below always happens.
    if (bodyFailure != null) {
      bundle.error(bodyFailure);
    }
    bundle.leave();
    boolean forbade = fiber.exchangeForbid(true);
    try {
      bundle.finished.awaitDescribed(Support.waitDescription("Bundle.joinAfter", bundle));
    } finally {
      fiber.exchangeForbid(forbade);
      outer.detach(canceler);
    }
    bundle.throwErrors();
    Fiber.check();
    // A token cancelled by neither the scope itself (a Terminate) nor the parent: a member's
    // own scheduler closed under it (a member forked onto another scheduler) — not a success.
    Throwable tokenCause = bundle.token.canceled();
    if (tokenCause != null && !(tokenCause instanceof Control.Terminate)
        && tokenCause != outer.canceled()) {
      throw Computation.unchecked(tokenCause);
    }
    if (bodyFailure != null) {
      throw Computation.unchecked(bodyFailure);
    }
    return value;
  }

  /**
   * Starts a child fiber running {@code body} in this bundle, sharing its cancellation token.
   *
   * @throws IllegalStateException if the bundle has completed (its {@code joinAfter} returned)
   * @throws RuntimeException the caller's cancellation cause (a {@link Control.Terminate} when
   *     forking from inside a terminated bundle); nothing is started then
   */
  public void fork(Runnable body) {
    forkFiber(body, null);
  }

  /**
   * Starts a child fiber running {@code body} in this bundle, on {@code where} instead of the
   * current scheduler: a scope on one scheduler with members on another. The child shares the
   * bundle's cancellation token, so terminating or cancelling the bundle reaches it on its own
   * scheduler, its failure fails the bundle, and the join waits until it has ended.
   *
   * @throws IllegalStateException if the bundle has completed
   * @throws org.picos.SchedulerClosedException if {@code where} is closed; nothing is started
   * @throws RuntimeException the caller's cancellation cause; nothing is started then
   */
  public void forkOn(Scheduler where, Runnable body) {
    Objects.requireNonNull(where, "where");
    forkFiber(body, null, where);
  }

  /** {@link #fork}, letting {@code prepare} set up the child fiber before it is spawned. */
  void forkFiber(Runnable body, Consumer<Fiber> prepare) {
    forkFiber(body, prepare, null);
  }

  /** Forks on {@code where}, or on the current fiber's scheduler when it is null. */
  void forkFiber(Runnable body, Consumer<Fiber> prepare, Scheduler where) {
    Objects.requireNonNull(body, "body");
    if (where != null) {
      Fiber.check(); // as Fiber.spawn does: a cancelled caller starts nothing
    }
    enter("fork");
    Runnable main = () -> {
      try {
        body.run();
      } catch (Throwable t) {
        error(t);
      } finally {
        leave();
      }
    };
    try {
      Fiber child = Fiber.create(false, token);
      child.setScope(this);
      if (prepare != null) {
        prepare.accept(child);
      }
      if (where == null) {
        Fiber.spawn(child, main);
      } else {
        where.spawn(child, main);
      }
    } catch (RuntimeException | Error e) {
      leave();
      throw e;
    }
  }

  /**
   * Starts a child fiber computing {@code body} in this bundle and returns its
   * {@link Promise}. The child has its own cancellation token, cancelled by the bundle's, so
   * terminating the promise stops only that child. If the child fails (other than with
   * {@code Terminate}), the bundle fails too, whether or not the promise is awaited.
   *
   * @throws IllegalStateException if the bundle has completed
   * @throws RuntimeException the caller's cancellation cause; nothing is started then
   */
  public <T> Promise<T> forkAsPromise(Callable<T> body) {
    return forkPromise(body, null);
  }

  <T> Promise<T> forkPromise(Callable<T> body, Consumer<Fiber> prepare) {
    Objects.requireNonNull(body, "body");
    enter("forkAsPromise");
    Computation<T> result = Computation.create();
    Trigger canceler = Computation.attachCanceler(token, result);
    try {
      Fiber child = Fiber.create(false, result);
      child.setScope(this);
      if (prepare != null) {
        prepare.accept(child);
      }
      Fiber.spawn(child, () -> {
        try {
          T value;
          try {
            value = body.call();
          } catch (Throwable t) {
            // The promise first, so that it holds this failure rather than the Terminate that
            // error() spreads through the token to every member, this one included.
            try {
              result.tryCancel(t);
            } finally {
              error(t);
            }
            return;
          }
          result.tryReturn(value);
        } finally {
          token.detach(canceler);
          leave();
        }
      });
    } catch (RuntimeException | Error e) {
      token.detach(canceler);
      leave();
      throw e;
    }
    return new Promise<>(result);
  }

  /**
   * Terminates the bundle: cancels the body and every child with a {@link Control.Terminate}.
   * Does not wait and does not throw; the join still waits for the children to end.
   */
  public void terminate() {
    cancelToken(new Control.Terminate("Bundle terminated"));
  }

  /** Whether the bundle is neither terminated, failed, cancelled nor completed. */
  public boolean isRunning() {
    return token.isRunning();
  }

  private void enter(String op) {
    for (;;) {
      int n = members.get();
      if (n == 0) {
        throw new IllegalStateException(
            "Bundle." + op + ": the bundle has completed (its joinAfter returned);"
                + " fork only while its scope runs");
      }
      if (members.compareAndSet(n, n + 1)) {
        return;
      }
    }
  }

  private void leave() {
    if (members.decrementAndGet() == 0) {
      finished.tryReturn(null);
      cancelToken(new Control.Terminate("Bundle completed"));
    }
  }

  /**
   * Cancels the token. Completing a computation rethrows what its triggers' actions threw (a
   * callback someone attached to the token, which the members see as their computation): that
   * failure is no business of whoever terminates the bundle and must not stop a join, so it
   * goes to the thread's uncaught-exception handler.
   */
  private void cancelToken(Throwable cause) {
    try {
      token.tryCancel(cause);
    } catch (RuntimeException | Error callbackFailure) {
      Support.reportUncaught(callbackFailure);
    }
  }

  /**
   * Records a member's failure and terminates the bundle. Never throws. A {@code Terminate},
   * and the cancellation the bundle's token is unwinding with (the parent's cancellation
   * reaching a member: the cause, or a {@code CompletionException} around a checked one), are
   * not failures.
   */
  void error(Throwable t) {
    if (t instanceof Control.Terminate || token.isCancellation(t)) {
      return;
    }
    synchronized (errors) {
      errors.add(t);
    }
    cancelToken(new Control.Terminate("Bundle terminated: a member failed with " + t));
  }

  private void throwErrors() {
    List<Throwable> all;
    synchronized (errors) {
      all = List.copyOf(errors);
    }
    if (all.size() == 1) {
      throw Computation.unchecked(all.get(0));
    }
    if (!all.isEmpty()) {
      throw new Control.Errors(all);
    }
  }

  /**
   * For logs and fiber dumps (each child's dump entry names its bundle):
   * {@code Bundle[3 members, of Fiber#12]}, or {@code Bundle[joined, of Fiber#12]}.
   */
  @Override
  public String toString() {
    int n = members.get();
    return "Bundle[" + (n == 0 ? "joined" : n + (n == 1 ? " member" : " members")) + ", of Fiber#"
        + owner.id() + "]";
  }
}
