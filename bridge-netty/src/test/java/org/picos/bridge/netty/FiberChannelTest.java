package org.picos.bridge.netty;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.*;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.SchedulerClosedException;

/** A fiber per channel over real NIO channels on 127.0.0.1. */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FiberChannelTest {

  /** Collects what a client receives; done once {@code expected} characters came or it closed. */
  static final class Collector extends ChannelInboundHandlerAdapter {
    private final StringBuilder text = new StringBuilder();
    private final int expected;
    final Computation<String> done = Computation.create();

    Collector(int expected) {
      this.expected = expected;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf b = (ByteBuf) msg;
      text.append(b.toString(UTF_8));
      b.release();
      if (text.length() >= expected) {
        done.tryReturn(text.toString());
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      done.tryReturn(text.toString());
    }
  }

  /** Records exceptionCaught events that pass the fiber's handler. */
  static final class Recorder extends ChannelInboundHandlerAdapter {
    final ConcurrentLinkedQueue<Throwable> caught = new ConcurrentLinkedQueue<>();

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      caught.add(cause);
    }

    @Override
    public boolean isSharable() {
      return true;
    }
  }

  private static ChannelHandler pipeline(ChannelHandler... handlers) {
    return new ChannelInitializer<Channel>() {
      @Override
      protected void initChannel(Channel ch) {
        ch.pipeline().addLast(handlers);
      }
    };
  }

  private static ByteBuf text(String s) {
    return Unpooled.copiedBuffer(s, UTF_8);
  }

  @Test
  void echoFiberRunsOnTheChannelLoopAndSeesTheEndOfTheStream() throws Exception {
    Computation<List<Boolean>> onLoop = Computation.create();
    Computation<Boolean> autoRead = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(PicosNetty.fiberPerChannel(ch -> {
        List<Boolean> seen = new ArrayList<>();
        autoRead.tryReturn(ch.channel().config().isAutoRead());
        seen.add(ch.channel().eventLoop().inEventLoop());
        for (Object msg; (msg = ch.read()) != null; ) {
          seen.add(ch.channel().eventLoop().inEventLoop());
          ch.write(msg);
        }
        seen.add(ch.channel().eventLoop().inEventLoop());
        onLoop.tryReturn(seen);
      }));
      Collector echoed = new Collector(10);
      Channel client = net.connect(echoed);
      client.writeAndFlush(text("hello"));
      client.writeAndFlush(text("world"));
      assertEquals("helloworld", echoed.done.await());
      client.close().sync();
      List<Boolean> seen = onLoop.await();
      assertTrue(seen.size() >= 3);
      assertTrue(seen.stream().allMatch(b -> b), "every step ran on the channel's loop: " + seen);
      assertFalse(autoRead.await(), "auto-read is off");
    }
  }

  /** Counts what the transport delivers and how often the fiber's handler asks it to read. */
  static final class ReadCounter extends ChannelDuplexHandler {
    final AtomicLong bytes = new AtomicLong();
    final AtomicInteger readRequests = new AtomicInteger();

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      bytes.addAndGet(((ByteBuf) msg).readableBytes());
      ctx.fireChannelRead(msg);
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
      readRequests.incrementAndGet();
      ctx.read();
    }
  }

  @Test
  void aSlowReaderStopsTheTransportFromReading() throws Exception {
    int total = 1 << 20;
    int readSize = 4096;
    ReadCounter counter = new ReadCounter();
    Computation<Void> stalled = Computation.create();
    Computation<Void> gate = Computation.create();
    Computation<long[]> result = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(pipeline(counter, PicosNetty.fiberPerChannel(ch -> {
        ByteBuf first = (ByteBuf) ch.read();
        long got = first.readableBytes();
        first.release();
        long maxBuffered = ch.buffered();
        stalled.tryReturn(null);
        gate.await();
        while (got < total) {
          ByteBuf b = (ByteBuf) ch.read();
          maxBuffered = Math.max(maxBuffered, ch.buffered());
          got += b.readableBytes();
          b.release();
        }
        result.tryReturn(new long[] {got, maxBuffered});
        ch.writeAndFlush(text("!"));
      })), b -> b.childOption(ChannelOption.RECVBUF_ALLOCATOR,
          new FixedRecvByteBufAllocator(readSize).maxMessagesPerRead(1)));

      Collector ack = new Collector(1);
      Channel client = net.connect(ack);
      AtomicLong accepted = new AtomicLong();
      byte[] chunk = new byte[8192];
      for (int sent = 0; sent < total; sent += chunk.length) {
        client.write(Unpooled.wrappedBuffer(chunk))
            .addListener(f -> accepted.addAndGet(chunk.length));
      }
      client.flush();

      stalled.await();
      waitUntil(() -> accepted.get() > counter.bytes.get() + 64 * 1024, 20,
          () -> "the client could not hand data to the kernel");
      // Data is waiting in the socket, yet the transport read only what the fiber asked for:
      // its first read, plus the one read ahead when it took the last buffered message.
      assertTrue(counter.readRequests.get() <= 2, "read requests: " + counter.readRequests.get());
      assertTrue(counter.bytes.get() <= 2L * readSize, "bytes read: " + counter.bytes.get());

      gate.tryReturn(null);
      long[] r = result.await();
      assertEquals(total, r[0]);
      assertTrue(r[1] <= 1, "at most one read's worth was ever buffered: " + r[1]);
      assertEquals("!", ack.done.await());
      assertEquals(total, accepted.get());
    }
  }

  @Test
  void writeSuspendsWhileTheChannelIsNotWritable() throws Exception {
    int total = 4 << 20;
    int chunk = 16 * 1024;
    int high = 32 * 1024;
    Computation<Long> suspendedAfter = Computation.create();
    Computation<Long> maxPending = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(PicosNetty.fiberPerChannel(ch -> {
        long written = 0;
        long max = 0;
        byte[] data = new byte[chunk];
        while (written < total) {
          if (!ch.channel().isWritable()) {
            suspendedAfter.tryReturn(written);
          }
          ch.write(Unpooled.wrappedBuffer(data));
          written += chunk;
          max = Math.max(max, ch.channel().unsafe().outboundBuffer().totalPendingWriteBytes());
        }
        ch.flush();
        maxPending.tryReturn(max);
      }), b -> b.childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
          new WriteBufferWaterMark(8 * 1024, high)).childOption(ChannelOption.SO_SNDBUF, 8192));

      Collector received = new Collector(total);
      Channel client = net.connect(received, b -> b.option(ChannelOption.AUTO_READ, false));

      long before = suspendedAfter.await();
      assertTrue(before < total, "the fiber could not write everything to a peer that does not read");
      assertTrue(maxPending.isRunning(), "the fiber is still suspended in write");

      client.config().setAutoRead(true);
      assertEquals(total, received.done.await().length());
      assertTrue(maxPending.await() <= high + chunk,
          "the outbound buffer stayed near the high water mark: " + maxPending.await());
    }
  }

  @Test
  void cancellingAFiberSuspendedInWriteThrowsItsCauseAndReleasesTheMessage() throws Exception {
    int chunk = 16 * 1024;
    Recorder recorder = new Recorder();
    Computation<FiberChannel> blocked = Computation.create();
    Computation<Throwable> thrown = Computation.create();
    Computation<ByteBuf> unwritten = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(pipeline(PicosNetty.fiberPerChannel(ch -> {
        byte[] data = new byte[chunk];
        // Until even a flush leaves the channel unwritable: the peer's socket buffers are full.
        do {
          ch.write(Unpooled.wrappedBuffer(data));
          ch.flush();
        } while (ch.channel().isWritable());
        ByteBuf last = Unpooled.wrappedBuffer(data);
        unwritten.tryReturn(last);
        blocked.tryReturn(ch);
        try {
          ch.write(last);
          thrown.tryReturn(new AssertionError("write returned on a channel nobody drains"));
        } catch (Throwable t) {
          thrown.tryReturn(t);
          throw t;
        }
      }), recorder), b -> b.childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
          new WriteBufferWaterMark(8 * 1024, 32 * 1024)).childOption(ChannelOption.SO_SNDBUF, 8192));
      Channel client = net.connect(new Collector(Integer.MAX_VALUE),
          b -> b.option(ChannelOption.AUTO_READ, false));
      FiberChannel fc = blocked.await();
      CancellationException stop = new CancellationException("stop writing");
      // The fiber suspends in write() within the loop task that completed `blocked`.
      fc.channel().eventLoop().submit(() -> fc.computation().tryCancel(stop)).sync();
      assertSame(stop, thrown.await());
      assertTrue(fc.channel().closeFuture().await(10, TimeUnit.SECONDS), "the channel closed");
      client.config().setAutoRead(true);
      assertTrue(client.closeFuture().await(10, TimeUnit.SECONDS), "the peer saw the close");
      assertEquals(0, unwritten.await().refCnt(), "write released the message it did not write");
      assertTrue(recorder.caught.isEmpty(), "a cancellation is not a failure: " + recorder.caught);
    }
  }

  @Test
  void closingTheChannelCancelsTheFiber() throws Exception {
    Recorder recorder = new Recorder();
    Computation<Throwable> seen = Computation.create();
    Computation<FiberChannel> served = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(pipeline(PicosNetty.fiberPerChannel(ch -> {
        served.tryReturn(ch);
        try {
          Computation.create().await();
        } catch (CancellationException e) {
          seen.tryReturn(e);
          throw e;
        }
      }), recorder));
      Channel client = net.connect(new Collector(1));
      FiberChannel fc = served.await();
      client.close().sync();

      Throwable cause = seen.await();
      // The rest of the fiber runs in the same loop task as its catch block: let it finish.
      fc.channel().eventLoop().submit(() -> {}).sync();
      assertInstanceOf(CancellationException.class, cause);
      assertTrue(cause.getMessage().contains("was closed"), cause.getMessage());
      assertThrows(CancellationException.class, fc.computation()::await);
      assertTrue(recorder.caught.isEmpty(), "a cancellation is not a failure: " + recorder.caught);
    }
  }

  @Test
  void cancellingTheFiberClosesTheChannel() throws Exception {
    Recorder recorder = new Recorder();
    Computation<FiberChannel> served = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(pipeline(PicosNetty.fiberPerChannel(ch -> {
        served.tryReturn(ch);
        Computation.create().await();
      }), recorder));
      Channel client = net.connect(new Collector(1));
      FiberChannel fc = served.await();
      CancellationException stop = new CancellationException("stop serving");
      fc.computation().tryCancel(stop);

      assertTrue(fc.channel().closeFuture().await(10, TimeUnit.SECONDS));
      assertTrue(client.closeFuture().await(10, TimeUnit.SECONDS), "the peer saw the close");
      assertTrue(recorder.caught.isEmpty(), "a cancellation is not a failure: " + recorder.caught);
    }
  }

  @Test
  void aFailingFiberClosesTheChannelAndFiresExceptionCaught() throws Exception {
    Recorder recorder = new Recorder();
    IllegalArgumentException boom = new IllegalArgumentException("boom");
    Computation<FiberChannel> served = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(pipeline(PicosNetty.fiberPerChannel(ch -> {
        served.tryReturn(ch);
        ByteBuf msg = (ByteBuf) ch.read();
        msg.release();
        throw boom;
      }), recorder));
      Channel client = net.connect(new Collector(1));
      client.writeAndFlush(text("go"));
      assertTrue(client.closeFuture().await(10, TimeUnit.SECONDS), "the channel was closed");
      waitUntil(() -> !recorder.caught.isEmpty(), 10, () -> "exceptionCaught never came");
      assertSame(boom, recorder.caught.poll());
      assertSame(boom, assertThrows(IllegalArgumentException.class, served.await().computation()::await));
    }
  }

  @Test
  void aFailureNobodyHandlesIsLoggedByThePipelineTail() throws Exception {
    IllegalArgumentException unhandled = new IllegalArgumentException("nobody handles this");
    ConcurrentLinkedQueue<Throwable> logged = new ConcurrentLinkedQueue<>();
    Logger tailLogger = Logger.getLogger("io.netty.channel.DefaultChannelPipeline");
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord record) {
        if (record.getThrown() != null) {
          logged.add(record.getThrown());
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    tailLogger.addHandler(capture);
    try (Loopback net = new Loopback()) {
      net.serve(PicosNetty.fiberPerChannel(ch -> {
        throw unhandled;
      }));
      Channel client = net.connect(new Collector(1));
      assertTrue(client.closeFuture().await(10, TimeUnit.SECONDS), "the channel was closed");
      waitUntil(() -> logged.contains(unhandled), 10, () -> "the failure was not logged: " + logged);
    } finally {
      tailLogger.removeHandler(capture);
    }
  }

  @Test
  void anErrorFromThePipelineIsThrownByRead() throws Exception {
    IllegalStateException bad = new IllegalStateException("bad input");
    ChannelInboundHandlerAdapter validator = new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf b = (ByteBuf) msg;
        if (b.toString(UTF_8).equals("bad")) {
          b.release();
          ctx.fireExceptionCaught(bad);
        } else {
          ctx.fireChannelRead(msg);
        }
      }

      @Override
      public boolean isSharable() {
        return true;
      }
    };
    Computation<Throwable> seen = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(pipeline(validator, PicosNetty.fiberPerChannel(ch -> {
        try {
          ch.read();
        } catch (IllegalStateException e) {
          seen.tryReturn(e);
          ch.writeAndFlush(text("rejected"));
        }
        ByteBuf next = (ByteBuf) ch.read();
        ch.writeAndFlush(text("+" + next.toString(UTF_8)));
        next.release();
      })));
      Collector replies = new Collector("rejected+ok".length());
      Channel client = net.connect(replies);
      client.writeAndFlush(text("bad")).sync();
      assertSame(bad, seen.await());
      client.writeAndFlush(text("ok"));
      assertEquals("rejected+ok", replies.done.await());
    }
  }

  @Test
  void writeOnAClosedChannelThrowsAndReleasesTheMessage() throws Exception {
    Computation<Throwable> thrown = Computation.create();
    ByteBuf late = text("late");
    try (Loopback net = new Loopback()) {
      net.serve(PicosNetty.fiberPerChannel(ch -> {
        assertNull(ch.read());
        try {
          ch.write(late);
        } catch (RuntimeException e) {
          thrown.tryReturn(e);
          throw e;
        }
      }));
      Channel client = net.connect(new Collector(1));
      client.close().sync();
      Throwable e = thrown.await();
      assertInstanceOf(CancellationException.class, e);
      assertTrue(e.getMessage().contains("was closed"), e.getMessage());
      assertEquals(0, late.refCnt(), "write released the message it could not write");
    }
  }

  @Test
  void misuseGetsClearErrorsAndAWriteFutureCanBeAwaited() throws Exception {
    Computation<FiberChannel> served = Computation.create();
    Computation<Object> secondReader = Computation.create();
    Computation<Boolean> written = Computation.create();
    try (Loopback net = new Loopback()) {
      net.serve(PicosNetty.fiberPerChannel(ch -> {
        served.tryReturn(ch);
        // The child runs once this fiber is suspended in read().
        Fiber.spawn(() -> secondReader.tryCapture(ch::read));
        Object msg = ch.read();
        written.tryReturn(PicosNetty.await(ch.writeAndFlush(msg)) == null);
      }));
      Collector echoed = new Collector(1);
      Channel client = net.connect(echoed);
      FiberChannel fc = served.await();

      IllegalStateException offLoop = assertThrows(IllegalStateException.class, fc::read);
      assertTrue(offLoop.getMessage().contains("FiberChannel.read must be called on the event loop"),
          offLoop.getMessage());
      ByteBuf notWritten = text("x");
      assertThrows(IllegalStateException.class, () -> fc.write(notWritten));
      assertEquals(0, notWritten.refCnt(), "write released what it refused");

      IllegalStateException twoReaders =
          assertThrows(IllegalStateException.class, secondReader::await);
      assertTrue(twoReaders.getMessage().contains("another fiber is already reading"),
          twoReaders.getMessage());

      client.writeAndFlush(text("x"));
      assertEquals("x", echoed.done.await());
      assertTrue(written.await(), "the awaited ChannelFuture succeeded");
    }
  }

  @Test
  void aPlainHandlerThatBlocksOnTheLoopGetsAClearError() throws Exception {
    Computation<Throwable> refused = Computation.create();
    ChannelInboundHandlerAdapter blocking = new ChannelInboundHandlerAdapter() {
      @Override
      public void channelActive(ChannelHandlerContext ctx) {
        try {
          Computation.create().await();
        } catch (Throwable t) {
          refused.tryReturn(t);
        }
        ctx.close();
      }
    };
    try (Loopback net = new Loopback()) {
      net.serve(pipeline(blocking, PicosNetty.fiberPerChannel(ch -> {})));
      net.connect(new Collector(1)).closeFuture().await(10, TimeUnit.SECONDS);
      Throwable t = refused.await();
      assertInstanceOf(IllegalStateException.class, t);
      assertTrue(t.getMessage().contains("outside a fiber would deadlock the loop"), t.getMessage());
      assertTrue(t.getMessage().contains("PicosNetty.fiberPerChannel"), t.getMessage());
    }
  }

  @Test
  void shuttingDownTheLoopsEndsSuspendedChannelFibersWithACauseNamingIt() throws Exception {
    int connections = 3;
    ConcurrentLinkedQueue<Throwable> causes = new ConcurrentLinkedQueue<>();
    AtomicInteger started = new AtomicInteger();
    ConcurrentLinkedQueue<FiberChannel> fibers = new ConcurrentLinkedQueue<>();
    Computation<Void> allStarted = Computation.create();
    CountDownLatch ended = new CountDownLatch(connections);
    try (Loopback net = new Loopback()) {
      net.serve(PicosNetty.fiberPerChannel(ch -> {
        fibers.add(ch);
        if (started.incrementAndGet() == connections) {
          allStarted.tryReturn(null);
        }
        try {
          Computation.create().await();
        } catch (CancellationException e) {
          causes.add(e);
          ended.countDown();
          throw e;
        }
      }));
      for (int i = 0; i < connections; i++) {
        net.connect(new Collector(1));
      }
      allStarted.await();
      net.serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      for (FiberChannel fc : fibers) {
        assertThrows(CancellationException.class, fc.computation()::await);
      }
      assertTrue(ended.await(10, TimeUnit.SECONDS), "every fiber ended");
      assertEquals(connections, causes.size());
      for (Throwable cause : causes) {
        assertInstanceOf(SchedulerClosedException.class, cause);
        assertTrue(cause.getMessage().contains("shut"), cause.getMessage());
      }
      assertTrue(net.serverLoops.terminationFuture().await(10, TimeUnit.SECONDS));
    }
  }

  /** Polls {@code done} until it holds; fails with {@code message} if it does not within {@code seconds}. */
  private static void waitUntil(java.util.function.BooleanSupplier done, int seconds,
      java.util.function.Supplier<String> message) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail(message.get());
      }
      Thread.sleep(5);
    }
  }
}
