package dev.tartan.agent.backend.vxlan;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.lease;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.DesiredState.Conflict;
import dev.tartan.store.SubnetLease;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VxlanPeersTest {
  private static final int DEV = 5;

  @Test
  void onePeerGivesNeighbourFdbAndRoute() {
    DesiredState d = VxlanPeers.desired(net("10.5.72.0/24"), DEV,
        List.of(vxlan("10.5.31.0/24", "192.168.1.12", "5A:00:00:00:00:01")));
    assertThat(d.link()).isEqualTo(DEV);
    assertThat(d.neighbours()).containsExactly(
        new Neighbour(DEV, ip("10.5.31.0"), "5a:00:00:00:00:01", Neighbour.NUD_PERMANENT));
    assertThat(d.fdb()).containsExactly(new FdbEntry(DEV, "5a:00:00:00:00:01", ip("192.168.1.12")));
    assertThat(d.routes()).containsExactly(
        new Route(net("10.5.31.0/24"), ip("10.5.31.0"), DEV, true, 254, Route.PROTO_TARTAN));
    assertThat(d.skipped()).isEmpty();
    assertThat(d.conflicts()).isEmpty();
    assertThat(d.peers()).isEqualTo(1);
  }

  @Test
  void ownLeaseIsNeverAPeer() {
    DesiredState d = VxlanPeers.desired(net("10.5.72.0/24"), DEV, List.of(
        vxlan("10.5.72.0/24", "192.168.1.11", "5a:00:00:00:00:72"),
        vxlan("10.5.31.0/24", "192.168.1.12", "5a:00:00:00:00:01")));
    assertThat(d.routes()).extracting(Route::dst).containsExactly(net("10.5.31.0/24"));
    assertThat(d.neighbours()).extracting(Neighbour::mac).containsExactly("5a:00:00:00:00:01");
    assertThat(d.skipped()).isEmpty();
  }

  @Test
  void nonVxlanAndUndecodableLeasesAreSkippedAndCounted() {
    DesiredState d = VxlanPeers.desired(net("10.5.72.0/24"), DEV, List.of(
        lease("10.5.1.0/24", "192.168.1.1", "udp", "{\"VNI\":1,\"VtepMAC\":\"5a:00:00:00:00:01\"}"),
        lease("10.5.2.0/24", "192.168.1.2", null, null),
        lease("10.5.3.0/24", "192.168.1.3", "vxlan", "{\"VNI\":1}"),
        lease("10.5.4.0/24", "192.168.1.4", "vxlan", "not json"),
        lease("10.5.5.0/24", "0.0.0.0", "vxlan", "{\"VtepMAC\":\"5a:00:00:00:00:05\"}"),
        vxlan("10.5.6.0/24", "192.168.1.6", "5a:00:00:00:00:06")));
    assertThat(d.routes()).extracting(Route::dst).containsExactly(net("10.5.6.0/24"));
    assertThat(d.skipped()).extracting(DesiredState.Skipped::subnet).containsExactly(
        net("10.5.1.0/24"), net("10.5.2.0/24"), net("10.5.3.0/24"), net("10.5.4.0/24"),
        net("10.5.5.0/24"));
    assertThat(d.skipped().get(0).reason()).contains("BackendType is \"udp\"");
    assertThat(d.skipped().get(2).reason()).contains("VtepMAC is missing");
  }

  @Test
  void overlappingLeasesHaveADeterministicWinnerWhateverTheOrder() {
    List<SubnetLease> leases = new ArrayList<>(List.of(
        vxlan("10.5.0.0/16", "192.168.1.1", "5a:00:00:00:00:01"),
        vxlan("10.5.3.0/24", "192.168.1.3", "5a:00:00:00:00:03"),
        vxlan("10.6.3.0/24", "192.168.1.4", "5a:00:00:00:00:04"),
        vxlan("10.6.3.0/25", "192.168.1.5", "5a:00:00:00:00:05"),
        vxlan("10.7.0.0/24", "192.168.1.7", "5a:00:00:00:00:07")));
    DesiredState first = VxlanPeers.desired(net("10.9.0.0/24"), DEV, leases);
    Random r = new Random(3);
    for (int i = 0; i < 20; i++) {
      Collections.shuffle(leases, r);
      assertThat(VxlanPeers.desired(net("10.9.0.0/24"), DEV, leases)).isEqualTo(first);
    }
    assertThat(first.routes()).extracting(Route::dst).containsExactlyInAnyOrder(
        net("10.5.0.0/16"), net("10.6.3.0/24"), net("10.7.0.0/24"));
    assertThat(first.conflicts()).containsExactly(
        new Conflict(net("10.5.0.0/16"), net("10.5.3.0/24"), "overlapping subnets"),
        new Conflict(net("10.6.3.0/24"), net("10.6.3.0/25"), "overlapping subnets"));
  }

  @Test
  void aLeaseOverlappingOurOwnSubnetLoses() {
    DesiredState d = VxlanPeers.desired(net("10.5.72.0/24"), DEV, List.of(
        vxlan("10.5.0.0/16", "192.168.1.1", "5a:00:00:00:00:01")));
    assertThat(d.routes()).isEmpty();
    assertThat(d.conflicts()).containsExactly(
        new Conflict(net("10.5.72.0/24"), net("10.5.0.0/16"), "overlaps our own subnet"));
  }

  @Test
  void aDuplicateVtepMacIsAConflict() {
    DesiredState d = VxlanPeers.desired(net("10.5.72.0/24"), DEV, List.of(
        vxlan("10.5.9.0/24", "192.168.1.9", "5a:00:00:00:00:01"),
        vxlan("10.5.8.0/24", "192.168.1.8", "5a:00:00:00:00:01")));
    assertThat(d.routes()).extracting(Route::dst).containsExactly(net("10.5.8.0/24"));
    assertThat(d.fdb()).containsExactly(new FdbEntry(DEV, "5a:00:00:00:00:01", ip("192.168.1.8")));
    assertThat(d.conflicts()).containsExactly(
        new Conflict(net("10.5.8.0/24"), net("10.5.9.0/24"), "same VtepMAC 5a:00:00:00:00:01"));
  }

  @Test
  void manyPeers() {
    List<SubnetLease> leases = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      leases.add(vxlan("10." + (100 + i / 256) + "." + (i % 256) + ".0/24",
          "198.51.100." + (1 + i % 250), String.format("5a:00:00:00:%02x:%02x", i / 256, i % 256)));
    }
    DesiredState d = VxlanPeers.desired(net("10.99.0.0/24"), DEV, leases);
    assertThat(d.routes()).hasSize(5000);
    assertThat(d.neighbours()).hasSize(5000);
    assertThat(d.fdb()).hasSize(5000);
  }
}
