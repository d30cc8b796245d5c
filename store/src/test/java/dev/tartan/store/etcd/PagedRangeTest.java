package dev.tartan.store.etcd;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.store.LeaseStoreException;
import io.etcd.jetcd.ByteSequence;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The paging logic of {@link PagedRange} on an in-memory multi-version key space. */
class PagedRangeTest {

  /** Keys (sorted like etcd: byte order = string order for ASCII) with a history of revisions. */
  private static final class FakeKv {
    final List<NavigableMap<String, Integer>> history = new ArrayList<>(); // index = revision
    long compactedBelow;
    final List<String> calls = new ArrayList<>();
    Runnable afterEachRead = () -> {};

    FakeKv() {
      history.add(new TreeMap<>());
    }

    long revision() {
      return history.size() - 1;
    }

    void put(String key, int value) {
      TreeMap<String, Integer> next = new TreeMap<>(history.get(history.size() - 1));
      next.put(key, value);
      history.add(next);
    }

    void delete(String key) {
      TreeMap<String, Integer> next = new TreeMap<>(history.get(history.size() - 1));
      next.remove(key);
      history.add(next);
    }

    PagedRange.Page<Map.Entry<String, Integer>> read(ByteSequence from, long revision, int limit, String end)
        throws LeaseStoreException {
      long rev = revision == 0 ? revision() : revision;
      calls.add(from.toString(UTF_8) + "@" + revision);
      if (rev < compactedBelow) {
        throw new CompactedRevisionException("mvcc: required revision has been compacted", null);
      }
      NavigableMap<String, Integer> range = history.get((int) rev).subMap(from.toString(UTF_8), true, end, false);
      List<Map.Entry<String, Integer>> items = new ArrayList<>();
      for (Map.Entry<String, Integer> e : range.entrySet()) {
        if (items.size() == limit) {
          break;
        }
        items.add(Map.entry(e.getKey(), e.getValue()));
      }
      PagedRange.Page<Map.Entry<String, Integer>> page =
          new PagedRange.Page<>(items, range.size() > items.size(), revision());
      afterEachRead.run();
      return page;
    }

    PagedRange.Listing<Map.Entry<String, Integer>> list(String prefix, int pageSize) throws LeaseStoreException {
      String end = PagedRange.prefixEnd(bs(prefix)).toString(UTF_8);
      return PagedRange.list(bs(prefix), pageSize, (from, rev, limit) -> read(from, rev, limit, end),
          e -> bs(e.getKey()), prefix);
    }
  }

  private static ByteSequence bs(String s) {
    return ByteSequence.from(s, UTF_8);
  }

  private static FakeKv withKeys(int n) {
    FakeKv kv = new FakeKv();
    kv.put("/a/config", -1);
    for (int i = 0; i < n; i++) {
      kv.put(String.format("/a/subnets/10.%d.%d.0-24", i / 256, i % 256), i);
    }
    kv.put("/a/subnets0", -2); // just past the range
    kv.put("/b/subnets/x", -3);
    return kv;
  }

  @Test
  void pagesTogetherEqualOneUnpagedRead() throws Exception {
    FakeKv kv = withKeys(1000);
    var whole = kv.list("/a/subnets/", 10_000);
    assertThat(whole.pages()).isEqualTo(1);
    assertThat(whole.items()).hasSize(1000);
    for (int size : new int[] {1, 7, 100, 999, 1000, 1001}) {
      var paged = kv.list("/a/subnets/", size);
      assertThat(paged.items()).as("page size %d", size).isEqualTo(whole.items());
      assertThat(paged.revision()).isEqualTo(whole.revision());
      assertThat(paged.pages()).isEqualTo(size >= 1000 ? 1 : (1000 + size - 1) / size);
    }
  }

  @Test
  void everyPageAfterTheFirstIsPinnedToTheFirstPagesRevisionAndStartsAfterTheLastKey() throws Exception {
    FakeKv kv = withKeys(5);
    var l = kv.list("/a/subnets/", 2);
    long rev = l.revision();
    assertThat(kv.calls).containsExactly("/a/subnets/@0", "/a/subnets/10.0.1.0-24\0@" + rev,
        "/a/subnets/10.0.3.0-24\0@" + rev);
  }

  @Test
  void writesLandingBetweenPagesAreNotSeenButTheSnapshotIsConsistent() throws Exception {
    FakeKv kv = withKeys(10);
    long before = kv.revision();
    int[] n = {0};
    kv.afterEachRead = () -> {
      // a new key before the cursor, one after it, and a deletion after it: an unpinned read would
      // see the latter two only
      kv.put("/a/subnets/10.0.0.1-32", 100 + n[0]);
      kv.put("/a/subnets/10.9.9.0-24", 200 + n[0]);
      kv.delete("/a/subnets/10.0.9.0-24");
      n[0]++;
    };
    var l = kv.list("/a/subnets/", 3);
    assertThat(l.revision()).isEqualTo(before);
    assertThat(l.items()).hasSize(10).extracting(Map.Entry::getValue).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
  }

  @Test
  void aCompactionOfThePinnedRevisionStartsTheListingOver() throws Exception {
    FakeKv kv = withKeys(10);
    int[] reads = {0};
    kv.afterEachRead = () -> {
      if (++reads[0] == 2) {
        kv.put("/a/subnets/10.5.5.0-24", 55);
        kv.compactedBelow = kv.revision(); // the pinned revision is gone
      }
    };
    var l = kv.list("/a/subnets/", 4);
    assertThat(l.items()).hasSize(11);
    assertThat(l.revision()).isEqualTo(kv.revision());
    assertThat(kv.calls.get(2)).endsWith("@" + (kv.revision() - 1)); // failed, pinned to the old revision
    assertThat(kv.calls.get(3)).isEqualTo("/a/subnets/@0"); // started over
  }

  @Test
  void compactionOverAndOverGivesUpAsTransient() {
    FakeKv kv = withKeys(10);
    kv.afterEachRead = () -> {
      kv.put("/a/other", 0);
      kv.compactedBelow = kv.revision();
    };
    assertThatThrownBy(() -> kv.list("/a/subnets/", 4)).isInstanceOf(TransientEtcdException.class)
        .hasMessageContaining("compacted away " + PagedRange.COMPACTION_RESTARTS + " times");
  }

  @Test
  void emptyRangeIsOnePage() throws Exception {
    FakeKv kv = withKeys(0);
    var l = kv.list("/a/subnets/", 3);
    assertThat(l.items()).isEmpty();
    assertThat(l.pages()).isEqualTo(1);
  }

  @Test
  void prefixEndAndAfter() {
    assertThat(PagedRange.prefixEnd(bs("/a/subnets/")).toString(UTF_8)).isEqualTo("/a/subnets0");
    assertThat(PagedRange.prefixEnd(ByteSequence.from(new byte[] {1, (byte) 0xff})).getBytes())
        .containsExactly(2);
    assertThat(PagedRange.prefixEnd(ByteSequence.from(new byte[] {(byte) 0xff})).getBytes()).containsExactly(0);
    assertThat(PagedRange.after(bs("k")).getBytes()).containsExactly('k', 0);
  }
}
