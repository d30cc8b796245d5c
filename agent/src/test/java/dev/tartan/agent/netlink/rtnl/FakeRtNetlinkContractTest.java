package dev.tartan.agent.netlink.rtnl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.NetlinkException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** The rtnetlink contract on the in-memory fake, plus the fake's own test hooks. */
class FakeRtNetlinkContractTest extends RtNetlinkContract {
  private FakeRtNetlink fake;

  @Override
  protected RtNetlink openFreshNamespace() {
    fake = new FakeRtNetlink();
    fake.addLink(UNDERLAY, 1500, UNDERLAY_IP, 24);
    return fake;
  }

  @Override
  protected NetlinkMonitor monitor(Consumer<NetlinkEvent> listener) {
    return fake.monitor(listener);
  }

  @Override
  protected void destroyNamespace() {}

  @Test
  void failNextInjectsOneErrorWithoutChangingState() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    fake.failNext("replaceRoute", Errno.ENOBUFS);
    Route r = Route.overlay(net("10.244.1.0/24"), ip("10.244.1.0"), vx.index());
    assertThatThrownBy(() -> rtnl.replaceRoute(r))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOBUFS));
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).isEmpty();
    rtnl.replaceRoute(r);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactly(r);
  }

  @Test
  void callsAreRecordedInOrderIncludingBatchedOnes() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    fake.clearCalls();
    Neighbour n = Neighbour.permanent(vx.index(), ip("10.244.1.0"), "02:00:00:00:00:01");
    FdbEntry f = new FdbEntry(vx.index(), "02:00:00:00:00:01", ip("198.51.100.2"));
    Route r = Route.overlay(net("10.244.1.0/24"), ip("10.244.1.0"), vx.index());
    rtnl.batch().replaceNeighbour(n).replaceFdb(f).replaceRoute(r).execute();
    assertThat(fake.calls()).containsExactly(new FakeRtNetlink.Call("replaceNeighbour", n),
        new FakeRtNetlink.Call("replaceFdb", f), new FakeRtNetlink.Call("replaceRoute", r));
  }

  @Test
  void emitDeliversInjectedEventsAndDeletingTheUnderlayRemovesTheVxlan() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    List<NetlinkEvent> events = new ArrayList<>();
    try (NetlinkMonitor m = fake.monitor(events::add)) {
      fake.emit(new NetlinkEvent.Overrun());
      rtnl.deleteLink(underlay.index());
    }
    assertThat(events.get(0)).isEqualTo(new NetlinkEvent.Overrun());
    assertThat(events).contains(new NetlinkEvent.AddressChanged(new Address(underlay.index(), UNDERLAY_IP, 24), true));
    assertThat(events).anyMatch(e -> e instanceof NetlinkEvent.LinkChanged lc && lc.deleted()
        && lc.link().index() == vx.index());
    assertThat(rtnl.linkByName("nlt-vx")).isEmpty();
  }

  @Test
  void closedFakeRefusesOperations() {
    rtnl.close();
    assertThat(fake.closed()).isTrue();
    assertThatThrownBy(() -> rtnl.links()).isInstanceOf(NetlinkException.class);
  }
}
