package org.picos.bridge.netty;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerAdapter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.RejectedExecutionException;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.SchedulerClosedException;
import org.picos.Trigger;
import org.picos.spi.Support;

/**
 * A channel seen from the fiber that {@link PicosNetty#fiberPerChannel} gives it: suspending
 * {@link #read()} and {@link #write(Object)} with real backpressure, on the channel's event
 * loop.
 *
 * <h2>Life of the fiber</h2>
 * The fiber starts when the channel is active (at once for an accepted connection, after the
 * connect for a client) and runs the {@link Handler} on the channel's event loop thread. It
 * ends the channel's life as it ends:
 * <ul>
 *   <li>the handler returns: pending writes are flushed and the channel is closed once they
 *       are written (like {@code writeAndFlush(msg).addListener(CLOSE)});</li>
 *   <li>the handler throws: the failure is passed down the pipeline with
 *       {@code fireExceptionCaught} (from this handler's position; the pipeline's tail logs it
 *       if nobody handles it) and the channel is closed. A fiber that ends by rethrowing its own
 *       cancellation cause was cancelled, not failed: the channel is just closed;</li>
 *   <li>the channel closes (either peer, or the event loop's shutdown): the fiber is cancelled
 *       with a {@link CancellationException} naming the channel (a
 *       {@link SchedulerClosedException} naming the shutdown when the loop is shutting down).
 *       A fiber suspended in {@link #read()} is not failed by that: it drains what is buffered,
 *       then gets {@code null}, the end of the stream; any other await throws the cause.</li>
 * </ul>
 * To cancel the fiber from elsewhere, cancel its {@link #computation()}: it then ends and the
 * channel is closed.
 *
 * <h2>Reading and backpressure</h2>
 * The channel's auto-read is switched off. The fiber's handler keeps exactly one read request
 * ({@code ctx.read()}) outstanding while its buffer is empty, and none while it holds messages,
 * so at most one read's worth of messages is ever buffered here. A fiber that does not read
 * therefore stops the transport from reading: the peer's writes fill the socket buffers and the
 * peer sees backpressure. (The read kept outstanding while the buffer is empty is also how a
 * close by the peer is noticed while the fiber is busy elsewhere; behind unread messages, as
 * in TCP itself, it is noticed once they are read.) Before {@code read()} suspends it flushes
 * the fiber's unflushed writes, so a request/reply loop never waits for an answer to a request
 * still sitting unflushed.
 *
 * <h2>Writing and backpressure</h2>
 * {@link #write(Object)} suspends while the channel is not writable (its outbound buffer is
 * above the high water mark), after flushing so that the buffer can drain, and resumes when
 * {@code channelWritabilityChanged} reports it writable again. It is a cancellation point.
 *
 * <h2>Message ownership (reference counting)</h2>
 * A message returned by {@link #read()} belongs to the caller, who must release it
 * ({@link ReferenceCountUtil#release}) or hand it on, for example to {@link #write(Object)}.
 * {@code write} takes ownership of its message in every case: Netty releases it once written,
 * and {@code write} releases it itself when it throws (cancellation, wrong thread). Messages
 * still buffered when the fiber ends, and those that arrive after it ended, are released
 * here.
 *
 * <h2>Errors from the pipeline</h2>
 * An {@code exceptionCaught} event that reaches this handler (a decoder error, an I/O error)
 * is thrown by the next {@link #read()} once the messages buffered before it are consumed:
 * unchecked as it is, checked wrapped in a {@link java.util.concurrent.CompletionException}.
 * If the fiber ends without having read it, it is passed down the pipeline then.
 *
 * <h2>Threading</h2>
 * All methods except {@link #channel()}, {@link #computation()} and {@link #close()} must be
 * called on the channel's event loop: from the channel's fiber or from fibers it spawned (they
 * run on the same loop). Only one fiber may be suspended in {@code read()} at a time; several
 * may wait in {@code write}. All state is confined to the loop thread, so no locks are used.
 */
public final class FiberChannel {
  /** What runs in each channel's fiber. */
  @FunctionalInterface
  public interface Handler {
    /**
     * Serves one channel, on its event loop, in its own fiber. Returning closes the channel;
     * throwing closes it and passes the failure down the pipeline.
     *
     * <p>Threading: called once per channel, on the channel's event loop, in the channel's
     * fiber; it may await anything, and spawn fibers, which run on the same loop.
     *
     * <p>Cancellation: the channel's closing cancels the fiber (see the class comment);
     * rethrowing that cancellation is not a failure.
     *
     * @param channel the channel, seen from its fiber
     * @throws Exception to close the channel and report the failure down the pipeline
     */
    void handle(FiberChannel channel) throws Exception;
  }

  /*
   * Every field but ctx and computation (published for channel() and computation()) is only
   * touched on the channel's event loop, by the pipeline's events and by the fiber, which runs
   * there too; so there are no locks and no atomics.
   *
   * Life cycle:
   *   ADDED   --channel active----------> RUNNING  (computation set, one read requested)
   *   ADDED   --closed before active----> ENDED    (the fiber never starts)
   *   RUNNING --channel closed----------> ENDED    (ended, closeCause set, fiber cancelled,
   *                                                 a suspended reader or writer woken)
   *   RUNNING or ENDED --handler ends---> FIBER_ENDED (fiberEnded: buffer released, failure
   *                                                 reported, channel closed)
   * Reading: readRequested is true from a ctx.read() until the next channelReadComplete; a read
   * is requested whenever the buffer is empty and the channel has not ended, never while it
   * holds messages.
   *
   * Waiting in read() (reader is the one waiting fiber's trigger):
   *   IDLE      reader == null. read() takes a buffered message, throws an unthrown pipeline
   *             failure, or returns null once ended, in that order; else it goes to
   *   PUBLISHED reader = fresh trigger, set BEFORE read() flushes or requests a read. Any call
   *             into Netty can run channelRead / exceptionCaught / channelInactive on this very
   *             stack (the local transport delivers a peer's reply, sent from the peer's own
   *             channelRead on the same loop, before the flush returns; ctx.read() delivers
   *             what the transport already holds). Each of those events adds its effect first
   *             (message buffered, pipelineFailure set, ended set) and then signals reader.
   *   WAITING   read() awaits the trigger; a trigger signalled while PUBLISHED returns at once,
   *             so nothing delivered since the checks in IDLE is missed. Woken by a delivery,
   *             by end(), or by the fiber's cancellation (await returns the cause).
   *   back to IDLE: reader = null (in a finally), then read() rechecks the buffer, the failure
   *             and ended before waiting again; a cancellation other than closeCause is thrown
   *             (closeCause means the channel ended: drain, then null).
   * Waiting in write() (writers holds one trigger per waiting fiber):
   *   the fiber checks its cancellation, ended and isWritable(); if unwritable with unflushed
   *   writes it flushes (which may make the channel writable and fire
   *   channelWritabilityChanged synchronously, with no writer listed yet) and checks again.
   *   Only when unwritable with nothing to flush does it add a fresh trigger to writers and
   *   await it, with no call into Netty in between; channelWritabilityChanged (writable) and
   *   end() signal every listed trigger; the waiter removes its own (finally) and checks again.
   */
  private final Handler handler;
  private final Events events = new Events();
  private volatile ChannelHandlerContext ctx;
  private volatile Computation<?> computation;
  private final ArrayDeque<Object> inbound = new ArrayDeque<>();
  private Trigger reader;
  private final List<Trigger> writers = new ArrayList<>(1);
  /** A read was requested from the transport and its channelReadComplete has not come yet. */
  private boolean readRequested;
  private boolean unflushed;
  /** The future of the fiber's latest write: writes complete in order. */
  private ChannelFuture lastWrite;
  /** The channel closed (or this handler left the pipeline): no more messages will come. */
  private boolean ended;
  /** The cause the fiber was cancelled with when the channel closed. */
  private CancellationException closeCause;
  private boolean fiberEnded;
  private Throwable pipelineFailure;
  private boolean pipelineFailureThrown;

  /** What fiber dumps say this channel's fiber waits for in read() and write(). */
  private final Object readWait = Support.waitDescription("FiberChannel.read", this);
  private final Object writeWait = Support.waitDescription("FiberChannel.write (not writable)", this);

  private FiberChannel(Handler handler) {
    this.handler = handler;
  }

  /**
   * For logs and fiber dumps: {@code FiberChannel[[id: 0x1b2c3d4e, L:/127.0.0.1:8080 -
   * R:/127.0.0.1:51234], 2 buffered]}. Safe from any thread (a snapshot, weakly consistent off
   * the loop).
   */
  @Override
  public String toString() {
    ChannelHandlerContext c = ctx;
    return "FiberChannel[" + (c == null ? "not added yet" : c.channel()) + ", "
        + inbound.size() + " buffered" + (ended ? ", ended" : "") + "]";
  }

  static ChannelHandler installer(Handler handler) {
    return new Installer(handler);
  }

  /**
   * The Netty channel.
   *
   * <p>Threading: safe from any thread. Cancellation: none; see {@link #computation()}.
   *
   * @return the channel this fiber serves
   */
  public Channel channel() {
    return ctx.channel();
  }

  /**
   * The computation of this channel's fiber: it returns {@code null} when the handler returns,
   * is cancelled with the handler's failure when it throws, or with the close cause when the
   * channel closes first.
   *
   * <p>Threading: safe from any thread.
   *
   * <p>Cancellation: cancel it to cancel the fiber, which then ends, closing the channel.
   *
   * @return the fiber's computation
   */
  public Computation<?> computation() {
    return computation;
  }

  /**
   * Returns the next message, suspending the fiber until one arrives; returns {@code null} at
   * the end of the stream (the channel closed and every buffered message was read). The caller
   * owns the message (see the class comment). Flushes pending writes before suspending.
   *
   * <p>Threading: only on the channel's event loop, from the channel's fiber or one it spawned;
   * one reader at a time.
   *
   * <p>Cancellation: a cancellation point while it waits; the channel's closing is not thrown
   * (the buffered messages are drained, then {@code null}), any other cancellation is.
   *
   * @return the next message, or {@code null} at the end of the stream
   * @throws RuntimeException an error from the pipeline (see the class comment), or the
   *     fiber's cancellation cause if it is cancelled otherwise than by the channel closing
   * @throws IllegalStateException if called off the channel's event loop, while another fiber
   *     is reading, or outside a fiber when no message is buffered
   */
  public Object read() {
    checkOnLoop("read");
    for (;;) {
      Object msg = inbound.poll();
      if (msg != null) {
        if (inbound.isEmpty()) {
          requestRead();
        }
        return msg;
      }
      if (pipelineFailure != null && !pipelineFailureThrown) {
        pipelineFailureThrown = true;
        throw Computation.unchecked(pipelineFailure);
      }
      if (ended) {
        return null;
      }
      if (reader != null) {
        throw new IllegalStateException("FiberChannel.read: another fiber is already reading "
            + ctx.channel() + "; read from one fiber at a time and hand messages on");
      }
      // Publish the waiter before anything that can deliver: the flush and the read request
      // may run the pipeline's channelRead, exceptionCaught or channelInactive on this very
      // stack (a peer on the same loop answering at once), and they signal `reader`.
      Trigger arrived = Trigger.create(readWait);
      reader = arrived;
      Throwable cancel;
      try {
        flushIfNeeded();
        requestRead();
        // A delivery during the calls above signalled the trigger: await returns at once.
        cancel = arrived.await();
      } finally {
        reader = null;
      }
      if (cancel != null && cancel != closeCause) {
        throw Computation.unchecked(cancel);
      }
    }
  }

  /**
   * Writes {@code msg} through the pipeline (from this handler's position) without flushing,
   * suspending first while the channel is not writable; takes ownership of {@code msg} (see
   * the class comment).
   *
   * <p>Threading: only on the channel's event loop; several fibers may wait here at once.
   *
   * <p>Cancellation: a cancellation point: a cancelled fiber (for example because the channel
   * closed) gets its cause and {@code msg} is released.
   *
   * @param msg the message to write; owned by the write from now on
   * @return the write's future; await it with {@link PicosNetty#await} to learn the outcome
   * @throws NullPointerException if {@code msg} is null
   * @throws RuntimeException the fiber's cancellation cause
   * @throws IllegalStateException if called off the channel's event loop, or outside a fiber
   *     while the channel is not writable
   */
  public ChannelFuture write(Object msg) {
    Objects.requireNonNull(msg, "msg");
    try {
      checkOnLoop("write");
      awaitWritable();
    } catch (Throwable notWritten) {
      ReferenceCountUtil.release(msg);
      throw notWritten;
    }
    unflushed = true;
    return lastWrite = ctx.write(msg);
  }

  /**
   * {@link #write(Object)} then {@link #flush()}.
   *
   * <p>Threading and cancellation: as {@link #write(Object)}.
   *
   * @param msg the message to write; owned by the write from now on
   * @return the write's future
   * @throws NullPointerException if {@code msg} is null
   * @throws RuntimeException the fiber's cancellation cause
   * @throws IllegalStateException as {@link #write(Object)}
   */
  public ChannelFuture writeAndFlush(Object msg) {
    ChannelFuture written = write(msg);
    flush();
    return written;
  }

  /**
   * Flushes the writes made so far. Never suspends.
   *
   * <p>Threading: only on the channel's event loop. Cancellation: not a cancellation point.
   *
   * @throws IllegalStateException if called off the channel's event loop
   */
  public void flush() {
    checkOnLoop("flush");
    unflushed = false;
    ctx.flush();
  }

  /**
   * Closes the channel (unflushed writes are discarded: flush first).
   *
   * <p>Threading: safe from any thread; Netty runs the close on the channel's loop.
   *
   * <p>Cancellation: the closing cancels the channel's fiber as described in the class comment.
   *
   * @return the close future
   */
  public ChannelFuture close() {
    return ctx.close();
  }

  /** The number of messages received and not yet read; for tests. */
  int buffered() {
    return inbound.size();
  }

  private void awaitWritable() {
    for (;;) {
      // Checked on every pass: the flush below may close the channel, which cancels the fiber.
      Fiber.check();
      if (ended || ctx.channel().isWritable()) {
        return;
      }
      if (unflushed) {
        // A flush may drain the buffer and report writability at once: check again.
        flush();
        continue;
      }
      // Nothing between the check above and the await below calls into Netty, so writability
      // cannot change unseen in between; channelWritabilityChanged signals the trigger later.
      Trigger writable = Trigger.create(writeWait);
      writers.add(writable);
      Throwable cancel;
      try {
        cancel = writable.await();
      } finally {
        writers.remove(writable);
      }
      if (cancel != null) {
        throw Computation.unchecked(cancel);
      }
    }
  }

  private void checkOnLoop(String operation) {
    if (!ctx.executor().inEventLoop()) {
      throw new IllegalStateException("FiberChannel." + operation + " must be called on the event"
          + " loop of " + ctx.channel() + ": from the channel's fiber or a fiber it spawned,"
          + " not from "
          + Thread.currentThread().getName());
    }
  }

  private void flushIfNeeded() {
    if (unflushed) {
      unflushed = false;
      ctx.flush();
    }
  }

  private void requestRead() {
    if (!readRequested && !ended) {
      readRequested = true;
      ctx.read();
    }
  }

  private void releaseBuffered() {
    for (Object m; (m = inbound.poll()) != null; ) {
      ReferenceCountUtil.release(m);
    }
  }

  /** On the loop: the channel is gone; wake and cancel the fiber. */
  private void end(boolean closed) {
    if (ended) {
      return;
    }
    ended = true;
    String what = "Channel " + ctx.channel()
        + (closed ? " was closed" : "'s fiber handler was removed");
    closeCause = ctx.executor().isShuttingDown()
        ? new SchedulerClosedException(what + " because its event loop is shutting down")
        : new CancellationException(what);
    if (reader != null) {
      reader.signal();
    }
    for (Trigger w : List.copyOf(writers)) {
      w.signal();
    }
    if (computation != null) {
      computation.tryCancel(closeCause);
    }
  }

  private void startFiber() {
    if (computation != null || ended) {
      return;
    }
    try {
      computation = LoopSchedulers.forLoop(ctx.channel().eventLoop()).fibers.start(this::runFiber);
      requestRead();
    } catch (SchedulerClosedException loopGone) {
      fiberEnded = true;
      ctx.fireExceptionCaught(loopGone);
      ctx.close();
    }
  }

  /** The fiber's main: runs the handler, then ends the channel as the class comment says. */
  private Void runFiber() throws Exception {
    Fiber me = Fiber.current();
    me.setName("FiberChannel " + ctx.channel().id().asShortText());
    me.setScope(ctx.channel()); // a fiber dump shows the channel's addresses
    Throwable failure = null;
    try {
      handler.handle(this);
    } catch (Throwable t) {
      failure = t;
    }
    Computation<?> own = me.computation();
    Throwable ownCancel = own.canceled();
    Throwable result = failure;
    finish(result, ownCancel);
    // The failure went down the pipeline; it also completes the computation if nothing did yet
    // (a completed one would hand it to the uncaught-exception handler: reported twice).
    if (own.isRunning()) {
      if (failure instanceof Exception e) {
        throw e;
      }
      if (failure instanceof Error e) {
        throw e;
      }
    }
    return null;
  }

  private void fiberDone(Throwable failure, Throwable ownCancel) {
    fiberEnded = true;
    releaseBuffered();
    if (failure != null && failure != ownCancel) {
      ctx.fireExceptionCaught(failure);
    }
    if (pipelineFailure != null && !pipelineFailureThrown && pipelineFailure != failure) {
      ctx.fireExceptionCaught(pipelineFailure);
    }
    if (failure == null && lastWrite != null && !lastWrite.isDone()) {
      ctx.flush();
      lastWrite.addListener(written -> ctx.close());
    } else {
      ctx.flush();
      ctx.close();
    }
  }

  /**
   * Ends the channel's life after the fiber: on the loop, or, when the fiber unwound elsewhere
   * because the loop has terminated (it closed the channel as it did), by reporting what would
   * have gone down the pipeline to the uncaught-exception handler.
   */
  private void finish(Throwable failure, Throwable ownCancel) {
    if (ctx.executor().inEventLoop()) {
      fiberDone(failure, ownCancel);
      return;
    }
    try {
      ctx.executor().execute(() -> fiberDone(failure, ownCancel));
    } catch (RejectedExecutionException loopTerminated) {
      fiberEnded = true;
      releaseBuffered();
      if (failure != null && failure != ownCancel) {
        Support.reportUncaught(failure);
      }
      if (pipelineFailure != null && !pipelineFailureThrown && pipelineFailure != failure) {
        Support.reportUncaught(pipelineFailure);
      }
    }
  }

  /** The channel's own handler: feeds the fiber from the pipeline's events. */
  private final class Events extends ChannelInboundHandlerAdapter {
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      FiberChannel.this.ctx = ctx;
      ctx.channel().config().setAutoRead(false);
      if (ctx.channel().isActive()) {
        startFiber();
      }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      end(false);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      startFiber();
      ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      end(true);
      ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (fiberEnded || ended) {
        ReferenceCountUtil.release(msg);
        return;
      }
      inbound.add(msg);
      if (reader != null) {
        reader.signal();
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      readRequested = false;
      if (inbound.isEmpty()) {
        requestRead();
      }
      ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (ctx.channel().isWritable()) {
        for (Trigger w : List.copyOf(writers)) {
          w.signal();
        }
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (fiberEnded || pipelineFailure != null) {
        ctx.fireExceptionCaught(cause);
        return;
      }
      pipelineFailure = cause;
      if (reader != null) {
        reader.signal();
      }
    }
  }

  /** What {@link PicosNetty#fiberPerChannel} returns: puts a new FiberChannel in its place. */
  @ChannelHandler.Sharable
  private static final class Installer extends ChannelHandlerAdapter {
    private final Handler handler;

    Installer(Handler handler) {
      this.handler = handler;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      ctx.pipeline().replace(ctx.name(), null, new FiberChannel(handler).events);
    }
  }
}
