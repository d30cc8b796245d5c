package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class EtcdOptionsTest {

  private static final Path CA = Path.of("/etc/etcd/ca.pem");

  @Test
  void parsesFlannelStyleEndpointLists() {
    assertThat(EtcdOptions.parseEndpoints("http://127.0.0.1:4001, https://etcd-1:2379,10.0.0.5:2380,,etcd-2"))
        .containsExactly(URI.create("http://127.0.0.1:4001"), URI.create("https://etcd-1:2379"),
            URI.create("http://10.0.0.5:2380"), URI.create("http://etcd-2:2379"));
    assertThat(EtcdOptions.parseEndpoints("http://[::1]:2379")).containsExactly(URI.create("http://[::1]:2379"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " , ", "unix:///run/etcd.sock", "ftp://h:1", "http://h:1/path", "http://user@h:1",
      "http://h:x"})
  void rejectsBadEndpoints(String list) {
    assertThatThrownBy(() -> EtcdOptions.parseEndpoints(list)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void defaultsAndPrefixNormalisation() {
    EtcdOptions o = new EtcdOptions(List.of(URI.create("http://127.0.0.1:2379")), null, null, null, null, null,
        null, null);
    assertThat(o.prefix()).isEqualTo("/coreos.com/network");
    assertThat(o.leaseTtl()).isEqualTo(Duration.ofHours(24));
    assertThat(o.configKey()).isEqualTo("/coreos.com/network/config");
    assertThat(o.subnetsPrefix()).isEqualTo("/coreos.com/network/subnets/");
    assertThat(o.pageSize()).isEqualTo(EtcdOptions.DEFAULT_PAGE_SIZE);
    assertThat(o.withPageSize(100).pageSize()).isEqualTo(100);
    assertThat(o.withPageSize(100).withPrefix("/x").withLeaseTtl(Duration.ofSeconds(5)).pageSize()).isEqualTo(100);
    assertThatThrownBy(() -> o.withPageSize(-1)).hasMessageContaining("page size must be 1..10000");
    assertThatThrownBy(() -> o.withPageSize(10_001)).isInstanceOf(IllegalArgumentException.class);
    assertThat(o.withPrefix("/coreos.com/network/").prefix()).isEqualTo("/coreos.com/network");
    assertThat(o.withPrefix("//a//b//").configKey()).isEqualTo("/a/b/config");
    assertThat(o.withPrefix("/").configKey()).isEqualTo("/config");
  }

  @Test
  void httpsNeedsTheCaFile() {
    assertThatThrownBy(() -> new EtcdOptions(List.of(URI.create("https://h:2379")), null, null, null, null, null,
        null, null)).isInstanceOf(IllegalArgumentException.class).hasMessage("https etcd endpoints need --etcd-cafile");
    assertThat(new EtcdOptions(List.of(URI.create("https://h:2379")), null, CA, null, null, null, null, null)
        .caFile()).isEqualTo(CA);
  }

  @Test
  void certAndKeyGoTogether() {
    List<URI> https = List.of(URI.create("https://h:2379"));
    assertThatThrownBy(() -> new EtcdOptions(https, null, CA, Path.of("c.pem"), null, null, null, null))
        .hasMessage("--etcd-certfile and --etcd-keyfile must be given together");
    assertThatThrownBy(() -> new EtcdOptions(https, null, CA, null, Path.of("k.pem"), null, null, null))
        .hasMessage("--etcd-certfile and --etcd-keyfile must be given together");
  }

  @Test
  void tlsFilesWithPlainEndpointsAreAnError() {
    assertThatThrownBy(() -> new EtcdOptions(List.of(URI.create("http://h:2379")), null, CA, null, null, null,
        null, null)).hasMessageContaining("use https:// endpoints");
  }

  @Test
  void mixedSchemesAreAnError() {
    assertThatThrownBy(() -> new EtcdOptions(List.of(URI.create("http://a:2379"), URI.create("https://b:2379")),
        null, CA, null, null, null, null, null)).hasMessageStartingWith("etcd endpoints must be all http");
  }

  @Test
  void usernameNeedsPasswordAndToStringHidesIt() {
    List<URI> http = List.of(URI.create("http://h:2379"));
    assertThatThrownBy(() -> new EtcdOptions(http, null, null, null, null, "root", null, null))
        .hasMessage("--etcd-username needs --etcd-password");
    assertThatThrownBy(() -> new EtcdOptions(http, null, null, null, null, null, "s3cret", null))
        .hasMessage("--etcd-password needs --etcd-username");
    EtcdOptions o = new EtcdOptions(http, null, null, null, null, "root", "s3cret", null);
    assertThat(o.password()).isEqualTo("s3cret");
    assertThat(o.toString()).contains("root").doesNotContain("s3cret");
  }

  @Test
  void ttlMustBeAtLeastOneSecond() {
    List<URI> http = List.of(URI.create("http://h:2379"));
    assertThatThrownBy(() -> EtcdOptions.of(http).withLeaseTtl(Duration.ofMillis(500)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(EtcdOptions.of(http).withLeaseTtl(Duration.ofSeconds(3)).leaseTtl()).isEqualTo(Duration.ofSeconds(3));
  }
}
