package dev.tartan.store.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EtcdClusterExtensionIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static final EtcdClusterExtension single = EtcdClusterExtension.builder().build();

  @RegisterExtension
  static final EtcdClusterExtension three = EtcdClusterExtension.builder().members(3).build();

  @Test
  void singleMemberPutAndGet() {
    assertThat(single.clientEndpoints()).hasSize(1);
    assertThat(single.endpointsCsv()).matches("http://127\\.0\\.0\\.1:\\d+");
    single.etcdctl("put", "/it/single", "hello");
    assertThat(single.etcdctl("get", "/it/single", "--print-value-only")).isEqualTo("hello\n");
  }

  @Test
  void compactDiscardsOlderRevisions() throws IOException {
    single.etcdctl("put", "/it/compact", "v1");
    long firstRev = revision(single.etcdctl("get", "/it/compact", "-w", "json"));
    single.etcdctl("put", "/it/compact", "v2");

    long compacted = single.compact();

    assertThat(compacted).isGreaterThan(firstRev);
    assertThatThrownBy(() -> single.etcdctl("get", "/it/compact", "--rev=" + firstRev))
        .hasMessageContaining("required revision has been compacted");
    assertThat(single.etcdctl("get", "/it/compact", "--print-value-only")).isEqualTo("v2\n");
  }

  @Test
  void killedLeaderIsReplacedAndRestartedMemberCatchesUp() throws IOException {
    three.etcdctl("put", "/it/three", "before");
    EtcdMember leader = three.member(leaderIndex());
    long oldPid = leader.pid();

    leader.kill();
    assertThat(leader.isRunning()).isFalse();
    // The two survivors elect a new leader; the client balancer retries the dead endpoint.
    three.waitHealthy(Duration.ofSeconds(30));
    three.etcdctl("put", "/it/three", "while-down");

    leader.start();
    three.waitHealthy(Duration.ofSeconds(30));
    assertThat(leader.isRunning()).isTrue();
    assertThat(leader.pid()).isNotEqualTo(oldPid);
    // Read from the restarted member alone: it replayed its WAL and caught up through raft.
    assertThat(three.etcdctl(leader, "get", "/it/three", "--print-value-only")).isEqualTo("while-down\n");
    // etcdctl endpoint health prints to stderr and exits non-zero when any endpoint is unhealthy.
    assertThatCode(() -> three.etcdctl("endpoint", "health")).doesNotThrowAnyException();
  }

  @Test
  void stoppedMemberRestartsWithSameEndpoint() {
    EtcdMember m = three.member(2);
    var endpoint = m.clientEndpoint();
    m.stop();
    assertThat(m.isRunning()).isFalse();
    m.start();
    three.waitHealthy(Duration.ofSeconds(30));
    assertThat(m.clientEndpoint()).isEqualTo(endpoint);
    three.etcdctl("put", "/it/stopped", "x");
    assertThat(three.etcdctl(m, "get", "/it/stopped", "--print-value-only")).isEqualTo("x\n");
  }

  @Test
  void closeKillsProcessesAndRemovesData() {
    EtcdClusterExtension cluster = EtcdClusterExtension.builder().build();
    Path dataDir;
    EtcdMember m;
    try {
      cluster.start();
      m = cluster.member(0);
      dataDir = m.dataDir();
      cluster.etcdctl("put", "k", "v");
      assertThat(Files.isDirectory(dataDir)).isTrue();
      assertThat(m.logFile()).exists().isNotEmptyFile();
    } finally {
      cluster.close();
    }
    assertThat(m.isRunning()).isFalse();
    assertThat(dataDir).doesNotExist();
    assertThat(dataDir.getParent()).doesNotExist();
  }

  /** etcd inside a network namespace, listening on an underlay address that exists only there. */
  @Test
  void runsInsideANetworkNamespace() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/etcd")), EtcdClusterExtension.MISSING_BINARY);
    Assumptions.assumeTrue(ProcessHandle.current().info().user().orElse("").equals("root"),
        "needs root to create a network namespace");
    String ns = "tet" + Long.toString(ProcessHandle.current().pid(), 36);
    try {
      run("ip", "netns", "add", ns);
      run("ip", "-n", ns, "link", "set", "lo", "up");
      // No dummy driver in this kernel; a veth pair with both ends in the namespace serves as well.
      run("ip", "-n", ns, "link", "add", "ctl0", "type", "veth", "peer", "name", "ctl1");
      run("ip", "-n", ns, "link", "set", "ctl1", "up");
      run("ip", "-n", ns, "addr", "add", "198.51.100.254/24", "dev", "ctl0");
      run("ip", "-n", ns, "link", "set", "ctl0", "up");
      try (EtcdClusterExtension cluster =
               EtcdClusterExtension.builder().netns(ns).clientHost("198.51.100.254").build()) {
        cluster.start();
        assertThat(cluster.endpointsCsv()).startsWith("http://198.51.100.254:");
        cluster.etcdctl("put", "/it/netns", "inside");
        assertThat(cluster.etcdctl("get", "/it/netns", "--print-value-only")).isEqualTo("inside\n");
      }
    } finally {
      new ProcessBuilder("ip", "netns", "del", ns).inheritIO().start().waitFor();
    }
  }

  private static int leaderIndex() throws IOException {
    JsonNode statuses = JSON.readTree(three.etcdctl("endpoint", "status", "-w", "json"));
    List<java.net.URI> endpoints = three.clientEndpoints();
    for (JsonNode s : statuses) {
      JsonNode st = s.path("Status");
      if (st.path("header").path("member_id").asText().equals(st.path("leader").asText())) {
        return endpoints.indexOf(java.net.URI.create(s.path("Endpoint").asText()));
      }
    }
    throw new AssertionError("no leader in " + statuses);
  }

  private static long revision(String getJson) throws IOException {
    return JSON.readTree(getJson).path("header").path("revision").asLong();
  }

  private static void run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + ": " + out);
    }
  }
}
