package org.picos.bridge.netty;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A server and its clients on 127.0.0.1 with real NIO event loops; closing stops the loops. */
final class Loopback implements AutoCloseable {
  final EventLoopGroup serverLoops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  final EventLoopGroup clientLoops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private Channel server;

  /** Binds a server on 127.0.0.1, port 0, whose accepted channels get {@code child}. */
  Loopback serve(ChannelHandler child, Consumer<ServerBootstrap> options) {
    ServerBootstrap b = new ServerBootstrap()
        .group(serverLoops)
        .channel(NioServerSocketChannel.class)
        .childHandler(child);
    options.accept(b);
    server = b.bind("127.0.0.1", 0).syncUninterruptibly().channel();
    return this;
  }

  Loopback serve(ChannelHandler child) {
    return serve(child, b -> {});
  }

  int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  /** Connects a client whose pipeline gets {@code handler}. */
  Channel connect(ChannelHandler handler, Consumer<Bootstrap> options) {
    Bootstrap b = new Bootstrap()
        .group(clientLoops)
        .channel(NioSocketChannel.class)
        .option(ChannelOption.TCP_NODELAY, true)
        .handler(handler);
    options.accept(b);
    return b.connect("127.0.0.1", port()).syncUninterruptibly().channel();
  }

  Channel connect(ChannelHandler handler) {
    return connect(handler, b -> {});
  }

  @Override
  public void close() {
    if (server != null) {
      server.close().awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
    serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    if (!serverLoops.terminationFuture().awaitUninterruptibly(10, TimeUnit.SECONDS)
        || !clientLoops.terminationFuture().awaitUninterruptibly(10, TimeUnit.SECONDS)) {
      throw new AssertionError("event loops did not terminate");
    }
  }
}
