package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.IpSubnet;
import java.net.InetAddress;
import java.util.function.Supplier;

/** A {@link DriftWatcher.Programmed} that looks entries up in a whole desired state (tests). */
public final class TestProgrammed {
  private TestProgrammed() {}

  public static DriftWatcher.Programmed of(Supplier<DesiredState> state) {
    return new DriftWatcher.Programmed() {
      @Override
      public int link() {
        DesiredState s = state.get();
        return s == null ? -1 : s.link();
      }

      @Override
      public Route route(IpSubnet dst) {
        DesiredState s = state.get();
        return s == null ? null : s.routes().stream().filter(r -> r.dst().equals(dst)).findFirst().orElse(null);
      }

      @Override
      public Neighbour neighbour(InetAddress ip) {
        DesiredState s = state.get();
        return s == null ? null : s.neighbours().stream().filter(n -> n.ip().equals(ip)).findFirst().orElse(null);
      }

      @Override
      public FdbEntry fdb(String mac) {
        DesiredState s = state.get();
        return s == null ? null : s.fdb().stream().filter(e -> e.mac().equals(mac)).findFirst().orElse(null);
      }
    };
  }
}
