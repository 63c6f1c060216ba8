package org.picos.bench;

import kotlin.ResultKt;
import kotlin.Unit;
import kotlin.coroutines.intrinsics.IntrinsicsKt;
import kotlin.coroutines.jvm.internal.ContinuationImpl;
import kotlinx.coroutines.channels.Channel;

/**
 * One party of a kotlinx.coroutines ping-pong over two channels, written from Java as the
 * continuation kotlinc would generate for the suspend function
 * {@code repeat(rounds) { send(...); receive() }} (or receive first, for pong): each step either
 * completes at once or returns {@code COROUTINE_SUSPENDED}, and the dispatcher calls
 * {@link #invokeSuspend} with the step's result when it resumes. Ping sends its value, pong
 * sends back the value it received plus one. Confined to the coroutine's dispatcher.
 */
final class KotlinPlayer extends ContinuationImpl {
  private final Channel<Integer> in;
  private final Channel<Integer> out;
  private final boolean ping;
  private final int rounds;
  private int step;
  private int value;
  private boolean suspended;

  @SuppressWarnings("unchecked")
  KotlinPlayer(kotlin.coroutines.Continuation<?> completion, Channel<Integer> in, Channel<Integer> out,
      boolean ping, int rounds) {
    super((kotlin.coroutines.Continuation<Object>) completion);
    this.in = in;
    this.out = out;
    this.ping = ping;
    this.rounds = rounds;
  }

  /** Runs the first steps; returns the result or {@code COROUTINE_SUSPENDED}. */
  Object start() {
    return invokeSuspend(Unit.INSTANCE);
  }

  @Override
  protected Object invokeSuspend(Object result) {
    ResultKt.throwOnFailure(result);
    if (suspended) {
      suspended = false;
      finishStep(result);
    }
    Object suspend = IntrinsicsKt.getCOROUTINE_SUSPENDED();
    while (step < 2 * rounds) {
      Object r = sending() ? out.send(ping ? value : value + 1, this) : in.receive(this);
      if (r == suspend) {
        suspended = true;
        return suspend;
      }
      finishStep(r);
    }
    return value;
  }

  private boolean sending() {
    return (step % 2 == 0) == ping;
  }

  private void finishStep(Object result) {
    if (!sending()) {
      value = (Integer) result;
    }
    step++;
  }
}
