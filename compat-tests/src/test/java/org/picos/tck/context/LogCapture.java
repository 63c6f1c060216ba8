package org.picos.tck.context;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lines logged through logback to {@link #LOGGER}, formatted as they are logged (on the logging
 * thread, so with that thread's MDC) by the pattern {@code %X{requestId}|%X{fiber}|%thread|%msg}.
 */
final class LogCapture implements AutoCloseable {
  static final String LOGGER = "org.picos.tck.context.fibers";

  /** One logged line. */
  record Line(String requestId, String fiber, String thread, String message) {}

  private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
  private final OutputStreamAppender<ILoggingEvent> appender = new OutputStreamAppender<>();
  private final ch.qos.logback.classic.Logger logger;

  LogCapture() {
    LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(logback);
    encoder.setPattern("%X{requestId:-none}|%X{fiber:-none}|%thread|%msg%n");
    encoder.setCharset(StandardCharsets.UTF_8);
    encoder.start();
    appender.setName("mdc-capture");
    appender.setContext(logback);
    appender.setEncoder(encoder);
    appender.setOutputStream(buffer);
    appender.start();
    logger = logback.getLogger(LOGGER);
    logger.setAdditive(false);
    logger.setLevel(Level.INFO);
    logger.addAppender(appender);
  }

  Logger logger() {
    return logger;
  }

  List<Line> lines() {
    return buffer.toString(StandardCharsets.UTF_8).lines().map(l -> {
      String[] parts = l.split("\\|", 4);
      if (parts.length != 4) {
        throw new AssertionError("not a line of the pattern: " + l);
      }
      return new Line(parts[0], parts[1], parts[2], parts[3]);
    }).toList();
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
  }
}
