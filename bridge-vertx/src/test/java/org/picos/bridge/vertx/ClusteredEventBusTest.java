package org.picos.bridge.vertx;

import static org.junit.jupiter.api.Assertions.*;
import static org.picos.bridge.vertx.PicosVertxTest.get;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.MultiMapConfig;
import com.hazelcast.config.NetworkConfig;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.picos.Computation;
import org.picos.Fiber;
import org.picos.Scheduler;

/**
 * Two clustered Vert.x nodes in one JVM (Hazelcast on 127.0.0.1, TCP-IP join, no multicast):
 * fibers on node A send event-bus requests to consumers on node B whose handlers are fibers.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusteredEventBusTest {
  private static final String CLUSTER = "picos-vertx-test-" + UUID.randomUUID();

  private static Vertx nodeA;
  private static Vertx nodeB;
  private static HazelcastClusterManager managerA;

  static Config hazelcast() {
    Config config = new Config();
    config.setClusterName(CLUSTER);
    config.setProperty("hazelcast.phone.home.enabled", "false");
    config.setProperty("hazelcast.logging.type", "none");
    config.setProperty("hazelcast.wait.seconds.before.join", "0");
    config.setProperty("hazelcast.socket.bind.any", "false");
    config.setProperty("hazelcast.shutdownhook.enabled", "false");
    NetworkConfig network = config.getNetworkConfig();
    network.setPort(5701).setPortAutoIncrement(true).setPortCount(50);
    network.getInterfaces().setEnabled(true).addInterface("127.0.0.1");
    JoinConfig join = network.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).addMember("127.0.0.1").setConnectionTimeoutSeconds(2);
    // The structures Vert.x keeps in the cluster (as in vertx-hazelcast's default-cluster.xml).
    config.addMultiMapConfig(new MultiMapConfig("__vertx.subs")
        .setBackupCount(1).setValueCollectionType(MultiMapConfig.ValueCollectionType.SET));
    config.addMapConfig(new MapConfig("__vertx.haInfo").setBackupCount(1));
    config.addMapConfig(new MapConfig("__vertx.nodeInfo").setBackupCount(1));
    return config;
  }

  static Vertx startNode(HazelcastClusterManager manager) throws Exception {
    VertxOptions options = new VertxOptions().setEventLoopPoolSize(2);
    options.getEventBusOptions().setHost("127.0.0.1").setPort(0).setClusterPublicHost("127.0.0.1");
    return Vertx.builder().with(options).withClusterManager(manager).buildClustered()
        .await(40, TimeUnit.SECONDS);
  }

  /** Node B's service: each request is handled in a fiber of this verticle. */
  static final class Service extends FiberVerticle {
    @Override
    protected void start() {
      vertx.eventBus().<String>consumer("service.echo", fiberHandler(message -> {
        PicosVertx.await(vertx.timer(5));
        message.reply("echo " + message.body() + " from B");
      }));
      vertx.eventBus().<String>consumer("service.silent", fiberHandler(message ->
          PicosVertx.await(Promise.<Void>promise().future())));
      vertx.eventBus().<String>consumer("service.ask-back", fiberHandler(message -> {
        // Node B's handler fiber itself awaits a request to node A before replying.
        String fromA = PicosVertx.<Message<String>>await(vertx.eventBus().request("client.name", "who")).body();
        message.reply("B asked A: " + fromA);
      }));
    }
  }

  @BeforeAll
  static void startCluster() throws Exception {
    managerA = new HazelcastClusterManager(hazelcast());
    nodeA = startNode(managerA);
    nodeB = startNode(new HazelcastClusterManager(hazelcast()));
    assertEquals(2, managerA.getNodes().size(), "both nodes joined one cluster");
    get(nodeB.deployVerticle(new Service()));
    nodeA.eventBus().<String>consumer("client.name", message -> message.reply("node A"));
  }

  @AfterAll
  static void stopCluster() throws Exception {
    if (nodeB != null) {
      nodeB.close().await(20, TimeUnit.SECONDS);
    }
    if (nodeA != null) {
      nodeA.close().await(20, TimeUnit.SECONDS);
    }
  }

  @Test
  void fibersOnNodeARequestAndAwaitRepliesFromFiberHandlersOnNodeB() throws Exception {
    Scheduler a = PicosVertx.newScheduler(nodeA);
    try {
      String replies = a.run(() -> {
        Computation<String> first = Fiber.spawn(() ->
            PicosVertx.<Message<String>>await(nodeA.eventBus().request("service.echo", "one")).body());
        String second = PicosVertx.<Message<String>>await(nodeA.eventBus().request("service.echo", "two")).body();
        String third = PicosVertx.<Message<String>>await(nodeA.eventBus().request("service.ask-back", "")).body();
        return first.await() + " | " + second + " | " + third;
      });
      assertEquals("echo one from B | echo two from B | B asked A: node A", replies);
    } finally {
      a.close();
    }
  }

  @Test
  void aReplyThatNeverComesFailsTheRequestOrThePicosTimeoutCancelsTheFiber() {
    Scheduler a = PicosVertx.newScheduler(nodeA);
    try {
      ReplyException vertxTimeout = assertThrows(ReplyException.class, () -> a.run(() ->
          PicosVertx.await(nodeA.eventBus().request("service.silent", "hello?",
              new DeliveryOptions().setSendTimeout(200)))));
      assertTrue(vertxTimeout.getMessage().contains("Timed out"), vertxTimeout.getMessage());

      CancellationException picosTimeout = new CancellationException("no reply from node B within 200 ms");
      CancellationException thrown = assertThrows(CancellationException.class, () -> a.run(() -> {
        Fiber.current().computation().cancelAfter(Duration.ofMillis(200), picosTimeout);
        return PicosVertx.await(nodeA.eventBus().request("service.silent", "hello?"));
      }));
      assertSame(picosTimeout, thrown);
    } finally {
      a.close();
    }
  }

  @Test
  void aServingNodeLeavingWhileAFiberOnAAwaitsEndsTheWaitWithAClearFailure() throws Exception {
    // A third node serves this request, so that B stays up for the other tests.
    HazelcastClusterManager managerC = new HazelcastClusterManager(hazelcast());
    Vertx nodeC = startNode(managerC);
    UUID nodeCMember = managerC.getHazelcastInstance().getCluster().getLocalMember().getUuid();
    CompletableFuture<Void> received = new CompletableFuture<>();
    get(nodeC.deployVerticle(new FiberVerticle() {
      @Override
      protected void start() {
        vertx.eventBus().<String>consumer("leaving.silent", fiberHandler(message -> {
          received.complete(null);
          PicosVertx.await(Promise.<Void>promise().future());
        }));
      }
    }));

    Scheduler a = PicosVertx.newScheduler(nodeA);
    try {
      Computation<Object> waiting = a.start(() -> {
        Computation<?> self = Fiber.current().computation();
        // Vert.x does not fail a pending request when the node serving it leaves: the request
        // only times out (after 30 s by default). Cancelling the waiting fiber when the member
        // leaves ends the wait at once with a cause saying why.
        UUID listener = managerA.getHazelcastInstance().getCluster().addMembershipListener(new MembershipListener() {
          @Override
          public void memberAdded(MembershipEvent event) {}

          @Override
          public void memberRemoved(MembershipEvent event) {
            self.tryCancel(new CancellationException("node " + event.getMember().getUuid() + " left the cluster"
                + " while this fiber awaited its reply"));
          }
        });
        try {
          return PicosVertx.await(nodeA.eventBus().request("leaving.silent", "are you there?"));
        } finally {
          managerA.getHazelcastInstance().getCluster().removeMembershipListener(listener);
        }
      });
      received.get(20, TimeUnit.SECONDS);
      get(nodeC.close());
      CancellationException left = assertThrows(CancellationException.class, waiting::await);
      assertEquals("node " + nodeCMember + " left the cluster while this fiber awaited its reply", left.getMessage());
    } finally {
      a.close();
    }
  }
}
