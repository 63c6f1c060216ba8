package org.picos.bridge.netty;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.*;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A fiber per channel over Netty's local transport with both peers on one event loop, where a
 * write's flush hands the message to the peer's {@code channelRead} on the same stack, and a
 * peer that answers there delivers its reply before the flush returns.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FiberChannelLocalTest {
  private static final int ROUNDS = 200;

  /** One loop for the server and its clients. */
  private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());

  @AfterEach
  void stopLoop() {
    loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    assertTrue(loop.terminationFuture().awaitUninterruptibly(10, TimeUnit.SECONDS),
        "the event loop did not terminate");
  }

  private Channel serve(LocalAddress address, ChannelHandler child,
      Consumer<ServerBootstrap> options) {
    ServerBootstrap b = new ServerBootstrap()
        .group(loop)
        .channel(LocalServerChannel.class)
        .childHandler(child);
    options.accept(b);
    return b.bind(address).syncUninterruptibly().channel();
  }

  private Channel connect(LocalAddress address, ChannelHandler handler) {
    return new Bootstrap()
        .group(loop)
        .channel(LocalChannel.class)
        .handler(handler)
        .connect(address)
        .syncUninterruptibly()
        .channel();
  }

  private static ByteBuf text(String s) {
    return Unpooled.copiedBuffer(s, UTF_8);
  }

  private static String take(Object msg) {
    ByteBuf b = (ByteBuf) msg;
    try {
      return b.toString(UTF_8);
    } finally {
      b.release();
    }
  }

  /** Answers every message inside its channelRead: "ping n" gets "pong n". */
  @ChannelHandler.Sharable
  static final class Answerer extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ctx.writeAndFlush(text(take(msg).replace("ping", "pong")));
    }
  }

  private static <T> T within(CompletableFuture<T> result, String what) throws Exception {
    try {
      return result.get(10, TimeUnit.SECONDS);
    } catch (TimeoutException hung) {
      throw new AssertionError(what + " did not finish within 10 s (a lost wake-up)", hung);
    }
  }

  @Test
  void aChannelsFiberIsNamedAfterItInFiberDumpsAndSaysItWaitsToRead() throws Exception {
    LocalAddress address = new LocalAddress("dumped-channel-fiber");
    CompletableFuture<Channel> served = new CompletableFuture<>();
    CompletableFuture<Long> fiberId = new CompletableFuture<>();
    serve(address, PicosNetty.fiberPerChannel(ch -> {
      served.complete(ch.channel());
      fiberId.complete(org.picos.Fiber.current().id());
      while (ch.read() != null) {
        // nothing comes: the fiber waits here until the client closes
      }
    }), b -> {});
    Channel client = connect(address, new Answerer());
    Channel channel = within(served, "the server's fiber");
    long id = within(fiberId, "the server's fiber id");
    org.picos.Fibers.FiberInfo info = null;
    for (int k = 0; k < 2000 && info == null; k++) {
      info = org.picos.Fibers.dump().stream()
          .filter(i -> i.id() == id && i.state() == org.picos.Fibers.State.SUSPENDED
              && !i.stack().isEmpty())
          .findFirst().orElse(null);
      if (info == null) {
        Thread.sleep(5);
      }
    }
    assertNotNull(info, "the channel's fiber was never seen waiting: " + org.picos.Fibers.toText());
    assertEquals("FiberChannel " + channel.id().asShortText(), info.name());
    assertEquals(channel.toString(), info.scope());
    assertTrue(info.waitingFor().startsWith("FiberChannel.read on FiberChannel[" + channel + ", 0 buffered"),
        info.toString());
    assertTrue(info.stack().stream().anyMatch(f -> f.getClassName().startsWith(
        FiberChannelLocalTest.class.getName())), info.toString());
    client.close().syncUninterruptibly();
    for (int k = 0; k < 2000 && org.picos.Fibers.dump().stream().anyMatch(i -> i.id() == id); k++) {
      Thread.sleep(5);
    }
    assertTrue(org.picos.Fibers.dump().stream().noneMatch(i -> i.id() == id),
        "the fiber outlived its channel: " + org.picos.Fibers.toText());
  }

  @Test
  void aReplyDeliveredDuringReadsOwnFlushWakesTheReader() throws Exception {
    LocalAddress address = new LocalAddress("sync-reply-server-fiber");
    CompletableFuture<Integer> rounds = new CompletableFuture<>();
    serve(address, PicosNetty.fiberPerChannel(ch -> {
      try {
        for (int i = 0; i < ROUNDS; i++) {
          ch.write(text("ping " + i));
          assertEquals("pong " + i, take(ch.read()));
        }
        rounds.complete(ROUNDS);
      } catch (Throwable t) {
        rounds.completeExceptionally(t);
        throw t;
      }
    }), b -> {});
    Channel client = connect(address, new Answerer());
    assertSame(client.eventLoop(), loop.next(), "both peers share the one loop");
    assertEquals(ROUNDS, within(rounds, "the request/response loop"));
  }

  @Test
  void aClientFiberGetsRepliesAServerGivesInsideChannelRead() throws Exception {
    LocalAddress address = new LocalAddress("sync-reply-client-fiber");
    CompletableFuture<Integer> rounds = new CompletableFuture<>();
    serve(address, new Answerer(), b -> {});
    connect(address, PicosNetty.fiberPerChannel(ch -> {
      try {
        for (int i = 0; i < ROUNDS; i++) {
          ch.writeAndFlush(text("ping " + i));
          assertEquals("pong " + i, take(ch.read()));
        }
        rounds.complete(ROUNDS);
      } catch (Throwable t) {
        rounds.completeExceptionally(t);
        throw t;
      }
    }));
    assertEquals(ROUNDS, within(rounds, "the request/response loop"));
  }

  @Test
  void twoChannelFibersOnOneLoopPlayPingPong() throws Exception {
    LocalAddress address = new LocalAddress("fiber-to-fiber");
    CompletableFuture<Integer> served = new CompletableFuture<>();
    CompletableFuture<Integer> asked = new CompletableFuture<>();
    serve(address, PicosNetty.fiberPerChannel(ch -> {
      int n = 0;
      for (Object msg; (msg = ch.read()) != null; n++) {
        ch.write(text(take(msg).replace("ping", "pong")));
      }
      served.complete(n);
    }), b -> {});
    connect(address, PicosNetty.fiberPerChannel(ch -> {
      try {
        for (int i = 0; i < ROUNDS; i++) {
          ch.write(text("ping " + i));
          assertEquals("pong " + i, take(ch.read()));
        }
        asked.complete(ROUNDS);
      } catch (Throwable t) {
        asked.completeExceptionally(t);
        throw t;
      }
    }));
    assertEquals(ROUNDS, within(asked, "the asking fiber"));
    // The asking fiber returned, which closed its channel: the serving fiber saw the end.
    assertEquals(ROUNDS, within(served, "the serving fiber"));
  }

  @Test
  void writesAboveTheHighWaterMarkWhoseFlushDrainsAtOnceDoNotSuspendForever() throws Exception {
    LocalAddress address = new LocalAddress("sync-writability");
    int messages = 2_000;
    CompletableFuture<Integer> wrote = new CompletableFuture<>();
    CompletableFuture<Integer> received = new CompletableFuture<>();
    serve(address, PicosNetty.fiberPerChannel(ch -> {
      int notWritable = 0;
      for (int i = 0; i < messages; i++) {
        if (!ch.channel().isWritable()) {
          notWritable++;
        }
        ch.write(text("message " + i + " "));
      }
      ch.flush();
      wrote.complete(notWritable);
    }), b -> b.childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(16, 64)));
    connect(address, new ChannelInboundHandlerAdapter() {
      int count;

      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        take(msg);
        if (++count == messages) {
          received.complete(count);
        }
      }
    });
    assertTrue(within(wrote, "the writing fiber") > 0,
        "the fiber did find the channel unwritable, so write had to flush and wait");
    assertEquals(messages, within(received, "the peer"));
  }

  @Test
  void cancellingAFiberSuspendedInReadThrowsItsCauseAndClosesTheChannel() throws Exception {
    LocalAddress address = new LocalAddress("cancel-reader");
    CompletableFuture<FiberChannel> reading = new CompletableFuture<>();
    CompletableFuture<Throwable> thrown = new CompletableFuture<>();
    serve(address, PicosNetty.fiberPerChannel(ch -> {
      reading.complete(ch);
      try {
        Object msg = ch.read();
        thrown.complete(new AssertionError("read returned " + msg));
      } catch (Throwable t) {
        thrown.complete(t);
        throw t;
      }
    }), b -> {});
    Channel client = connect(address, new ChannelInboundHandlerAdapter());
    FiberChannel fc = within(reading, "the fiber's start");
    CancellationException stop = new CancellationException("stop reading");
    // The fiber suspends in read() within the loop task that completed `reading`; this task
    // runs after that one.
    fc.channel().eventLoop().submit(() -> fc.computation().tryCancel(stop)).sync();
    assertSame(stop, within(thrown, "the reader"));
    assertTrue(fc.channel().closeFuture().await(10, TimeUnit.SECONDS), "the channel closed");
    assertTrue(client.closeFuture().await(10, TimeUnit.SECONDS), "the peer saw the close");
    assertSame(stop, assertThrows(CancellationException.class, fc.computation()::await));
  }

  @Test
  void messagesThatArriveAfterTheReaderWasCancelledAreReleased() throws Exception {
    LocalAddress address = new LocalAddress("cancel-reader-then-data");
    CompletableFuture<FiberChannel> reading = new CompletableFuture<>();
    CountDownLatch ended = new CountDownLatch(1);
    serve(address, PicosNetty.fiberPerChannel(ch -> {
      reading.complete(ch);
      try {
        ch.read();
      } finally {
        ended.countDown();
      }
    }), b -> {});
    Channel client = connect(address, new ChannelInboundHandlerAdapter());
    FiberChannel fc = within(reading, "the fiber's start");
    ByteBuf late = text("late");
    // Cancel and send in one loop task: the message reaches the channel in the same turn as
    // the cancellation, before the fiber has unwound.
    fc.channel().eventLoop().submit(() -> {
      fc.computation().tryCancel(new CancellationException("stop"));
      client.writeAndFlush(late);
    }).sync();
    assertTrue(ended.await(10, TimeUnit.SECONDS), "the fiber ended");
    assertTrue(fc.channel().closeFuture().await(10, TimeUnit.SECONDS), "the channel closed");
    fc.channel().eventLoop().submit(() -> {}).sync();
    assertEquals(0, late.refCnt(), "the message nobody read was released");
  }
}
