package org.picos.examples.netty;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Runs the Netty examples over loopback, as their main methods do, and checks what they did. */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class NettyExamplesTest {
  @Test
  void echoServerEchoesEveryClientsLines() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    List<String> echoes = EchoServer.run(3, 4, new PrintStream(printed, true, StandardCharsets.UTF_8));
    assertEquals(3, echoes.size());
    for (int c = 1; c <= 3; c++) {
      StringBuilder expected = new StringBuilder();
      for (int i = 1; i <= 4; i++) {
        expected.append("client ").append(c).append(" line ").append(i).append('\n');
      }
      assertEquals(expected.toString(), echoes.get(c - 1));
    }
    String log = printed.toString(StandardCharsets.UTF_8);
    assertTrue(log.contains("on its event loop: true"), log);
    assertTrue(log.contains("saw the end of the stream"), log);
  }

  @Test
  void httpServerAnswersFastWorkAndTimesOutSlowWork() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    List<String> answers = HttpServer.run(List.of("/work?ms=10", "/work?ms=5000", "/nowhere", "/work?ms=1"),
        new PrintStream(printed, true, StandardCharsets.UTF_8));
    assertEquals(4, answers.size());
    assertTrue(answers.get(0).startsWith("/work?ms=10 -> 200 worked 10 ms"), answers.get(0));
    assertEquals("/work?ms=5000 -> 504 the work took longer than " + HttpServer.TIMEOUT_MS + " ms",
        answers.get(1));
    assertEquals("/nowhere -> 404 try /work?ms=N", answers.get(2));
    assertTrue(answers.get(3).startsWith("/work?ms=1 -> 200 worked 1 ms"), answers.get(3));
    String log = printed.toString(StandardCharsets.UTF_8);
    assertTrue(log.contains("its Netty timer was cancelled too"), log);
  }
}
