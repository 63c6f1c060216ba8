package org.picos.std.sync;

/**
 * Thrown by a {@link Channel} operation that cannot complete because the channel is closed: a
 * send after (or waiting at) {@link Channel#close()}, or a receive once the channel is closed
 * and its buffer drained. Unchecked, like {@link java.nio.channels.ClosedChannelException}'s role
 * for NIO, but not an {@link java.io.IOException}.
 */
public class ChannelClosedException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a message saying which operation found the channel closed. */
  public ChannelClosedException(String message) {
    super(message);
  }
}
