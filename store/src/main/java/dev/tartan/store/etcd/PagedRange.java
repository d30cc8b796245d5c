package dev.tartan.store.etcd;

import dev.tartan.store.LeaseStoreException;
import io.etcd.jetcd.ByteSequence;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a key range in pages of at most {@code pageSize} keys, sorted by key, every page after the
 * first read at the first page's revision: the result is one consistent snapshot of the range
 * however many keys it holds, and no single answer grows with the network (gRPC's 4 MiB limit).
 * The next page starts at the last key read + {@code "\0"}. When the pinned revision is compacted
 * away between two pages, the listing starts over at the newest revision.
 *
 * <p>Pure paging logic over a {@link PageReader}, so it is unit-tested without etcd.
 */
final class PagedRange {
  private static final Logger LOG = LoggerFactory.getLogger(PagedRange.class);

  /** How often a listing starts over because its revision was compacted mid-way. */
  static final int COMPACTION_RESTARTS = 5;

  /** One answer: the items, whether more keys follow in the range, and the revision it was read at. */
  record Page<T>(List<T> items, boolean more, long revision) {}

  /** Reads one page: keys in [{@code from}, end of range), at most {@code limit}, at {@code revision} (0 = newest). */
  interface PageReader<T> {
    Page<T> read(ByteSequence from, long revision, int limit) throws LeaseStoreException;
  }

  /** Every item of the range and the revision they were all read at. */
  record Listing<T>(List<T> items, long revision, int pages) {}

  private PagedRange() {}

  static <T> Listing<T> list(ByteSequence start, int pageSize, PageReader<T> reader, Function<T, ByteSequence> keyOf,
      String what) throws LeaseStoreException {
    if (pageSize < 1) {
      throw new IllegalArgumentException("page size must be at least 1, got " + pageSize);
    }
    for (int attempt = 1; ; attempt++) {
      try {
        return listOnce(start, pageSize, reader, keyOf);
      } catch (CompactedRevisionException e) {
        if (attempt >= COMPACTION_RESTARTS) {
          throw new TransientEtcdException("could not list " + what + ": its revision was compacted away "
              + attempt + " times while reading it page by page (etcd compacts very often); try again", e);
        }
        LOG.info("the revision of the listing of {} was compacted while reading it page by page; listing again",
            what);
      }
    }
  }

  private static <T> Listing<T> listOnce(ByteSequence start, int pageSize, PageReader<T> reader,
      Function<T, ByteSequence> keyOf) throws LeaseStoreException {
    Page<T> page = reader.read(start, 0, pageSize);
    long revision = page.revision();
    List<T> out = new ArrayList<>(page.items());
    int pages = 1;
    while (page.more() && !page.items().isEmpty()) {
      ByteSequence next = after(keyOf.apply(page.items().get(page.items().size() - 1)));
      page = reader.read(next, revision, pageSize);
      out.addAll(page.items());
      pages++;
    }
    return new Listing<>(out, revision, pages);
  }

  /** The smallest key after {@code key}: {@code key + "\0"}. */
  static ByteSequence after(ByteSequence key) {
    byte[] k = key.getBytes();
    return ByteSequence.from(Arrays.copyOf(k, k.length + 1));
  }

  /** The end of the prefix range of {@code prefix} (etcd's {@code clientv3.GetPrefixRangeEnd}). */
  static ByteSequence prefixEnd(ByteSequence prefix) {
    byte[] p = prefix.getBytes();
    for (int i = p.length - 1; i >= 0; i--) {
      if (p[i] != (byte) 0xff) {
        byte[] end = Arrays.copyOf(p, i + 1);
        end[i]++;
        return ByteSequence.from(end);
      }
    }
    return ByteSequence.from(new byte[] {0}); // all 0xff: to the end of the key space
  }
}
