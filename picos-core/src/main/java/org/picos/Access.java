package org.picos;

import org.picos.internal.CoreAccess;
import org.picos.spi.Handler;

/** The implementation of {@link CoreAccess}: the scheduler side of the user classes. */
final class Access implements CoreAccess {
  static void register() {
    CoreAccess.register(new Access());
  }

  private Access() {}

  @Override
  public boolean onSignal(Trigger trigger, Runnable action) {
    return trigger.onSignal(action);
  }

  @Override
  public boolean awaitsWith(Trigger trigger, Runnable action) {
    return trigger.awaitsWith(action);
  }

  @Override
  public void dispose(Trigger trigger) {
    trigger.dispose();
  }

  @Override
  public int triggerEntries(Computation<?> computation) {
    return computation.triggerEntries();
  }

  @Override
  public Handler handler(Fiber fiber) {
    return fiber.handler;
  }

  @Override
  public void bind(Fiber fiber, Handler handler) {
    fiber.handler = handler;
  }

  @Override
  public Object data(Fiber fiber) {
    return fiber.data;
  }

  @Override
  public void setData(Fiber fiber, Object data) {
    fiber.data = data;
  }

  @Override
  public Fiber mount(Fiber fiber) {
    return Fiber.mount(fiber);
  }

  @Override
  public void unmount(Fiber previous) {
    Fiber.unmount(previous);
  }

  @Override
  public void inheritContexts(Fiber fiber) {
    fiber.inheritContexts();
  }

  @Override
  public Object[] swapInContexts(Fiber fiber) {
    return fiber.swapInContexts();
  }

  @Override
  public void swapOutContexts(Fiber fiber, Object[] carrier) {
    fiber.swapOutContexts(carrier);
  }

  @Override
  public void closeWith(Fiber fiber, Throwable cause) {
    fiber.closeWith(cause);
  }

  @Override
  public boolean isClosed(Fiber fiber) {
    return fiber.isClosed();
  }
}
