package dev.tartan.agent.backend.vxlan;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.backend.BackendConfigException;
import dev.tartan.agent.backend.BackendDataException;
import dev.tartan.store.testing.Fuzz;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 8, hostile input: what other hosts (or anyone with write access to etcd) put into a lease's
 * BackendData, and the Backend block of the network config, reach these parsers; fixed-seed fuzz,
 * typed failures only.
 */
@Timeout(60)
class BackendDataFuzzTest {
  @Test
  void leaseDataFailsOnlyWithBackendDataException() {
    int ok = Fuzz.run("VxlanLeaseData.parse", List.of("{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}",
        "{\"vni\":4096,\"vtepmac\":\"02:00:00:00:00:01\",\"Extra\":[1,{}]}", "{\"VtepMAC\":\"0a:00:00:00:00:50\"}"),
        2500, s -> {
          try {
            VxlanLeaseData.parse(s);
          } catch (BackendDataException e) { // logged once per lease: it must stay one short line
            assertThat(e.getMessage()).hasSizeLessThan(600).doesNotContain("\n");
            throw e;
          }
        }, BackendDataException.class);
    assertThat(ok).isGreaterThan(3);
  }

  @Test
  void backendConfigFailsOnlyWithBackendConfigException() {
    int ok = Fuzz.run("VxlanBackendConfig.parse", List.of("{\"Type\":\"vxlan\"}",
        "{\"Type\":\"vxlan\",\"VNI\":4096,\"Port\":4789,\"MTU\":1400,\"GBP\":false,\"Learning\":false,"
            + "\"DirectRouting\":false}", "{\"type\":\"vxlan\",\"vni\":1,\"port\":0}"),
        2500, s -> {
          try {
            VxlanBackendConfig.parse(s);
          } catch (BackendConfigException e) {
            assertThat(e.getMessage()).hasSizeLessThan(600).doesNotContain("\n");
            throw e;
          }
        }, BackendConfigException.class);
    assertThat(ok).isGreaterThan(3);
  }
}
