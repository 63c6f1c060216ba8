package org.picos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.rmi.server.RMIClientSocketFactory;
import java.rmi.server.RMIServerSocketFactory;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.management.JMX;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXConnectorServer;
import javax.management.remote.JMXConnectorServerFactory;
import javax.management.remote.JMXServiceURL;
import javax.management.remote.rmi.RMIConnectorServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.sched.Schedulers;

/**
 * The JMX view over a real connection: an RMI connector server on loopback, a client that
 * connects to it with {@link JMXConnectorFactory}, the generic attribute and operation calls a
 * console makes and the typed {@link FibersMXBean} proxy.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FibersJmxTest {
  /** Sockets on 127.0.0.1 only, for the RMI registry-less connector and its client. */
  private static final class Loopback implements RMIServerSocketFactory, RMIClientSocketFactory,
      java.io.Serializable {
    @Override
    public ServerSocket createServerSocket(int port) throws IOException {
      return new ServerSocket(port, 50, InetAddress.getLoopbackAddress());
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
      return new Socket(InetAddress.getLoopbackAddress(), port);
    }
  }

  private static String waitInUserCode(Computation<String> gate) {
    return gate.await();
  }

  @Test
  void theMBeanAnswersOverARealJmxConnection() throws Exception {
    Loopback loopback = new Loopback();
    JMXConnectorServer server = JMXConnectorServerFactory.newJMXConnectorServer(
        new JMXServiceURL("service:jmx:rmi://127.0.0.1"),
        Map.of(RMIConnectorServer.RMI_SERVER_SOCKET_FACTORY_ATTRIBUTE, loopback,
            RMIConnectorServer.RMI_CLIENT_SOCKET_FACTORY_ATTRIBUTE, loopback),
        ManagementFactory.getPlatformMBeanServer());
    server.start();
    try (Scheduler s = Schedulers.fifo()) {
      Computation<String> gate = Computation.create();
      Computation<String> waiter = s.start(() -> {
        Fiber.current().setName("jmx-visible");
        return waitInUserCode(gate);
      });
      try (JMXConnector client = JMXConnectorFactory.connect(server.getAddress())) {
        MBeanServerConnection connection = client.getMBeanServerConnection();
        ObjectName name = new ObjectName(FibersMXBean.OBJECT_NAME);
        assertTrue(connection.isRegistered(name), "registered by the first scheduler");
        // What a console does: generic attribute reads and operation calls.
        TabularData perScheduler =
            (TabularData) connection.getAttribute(name, "LiveFibersPerScheduler");
        CompositeData row = perScheduler.get(new Object[] {s.toString()});
        assertEquals(1, row.get("value"), perScheduler.toString());
        assertTrue((int) connection.getAttribute(name, "LiveFibers") >= 1);
        String text = "";
        for (int k = 0; k < 1000 && !text.contains("waitInUserCode"); k++) {
          text = (String) connection.invoke(name, "dump", null, null);
          Thread.sleep(5);
        }
        assertTrue(text.contains("\"jmx-visible\" SUSPENDED waiting for"), text);
        assertTrue(text.contains("at org.picos.FibersJmxTest.waitInUserCode("), text);
        // The typed proxy a tool written against the interface uses.
        FibersMXBean proxy = JMX.newMXBeanProxy(connection, name, FibersMXBean.class);
        assertEquals(1, proxy.getLiveFibersPerScheduler().get(s.toString()));
        assertTrue(proxy.dumpJson().contains("\"name\":\"jmx-visible\""), proxy.dumpJson());
      }
      gate.tryReturn("done");
      assertEquals("done", waiter.await());
    } finally {
      server.stop();
    }
  }
}
