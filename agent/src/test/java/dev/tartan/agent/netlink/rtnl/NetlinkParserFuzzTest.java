package dev.tartan.agent.netlink.rtnl;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.netlink.codec.Attributes;
import dev.tartan.agent.netlink.codec.Hex;
import dev.tartan.agent.netlink.codec.MalformedMessageException;
import dev.tartan.agent.netlink.codec.MessageReader;
import dev.tartan.agent.netlink.codec.MessageWriter;
import dev.tartan.agent.netlink.codec.NlMsgErr;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Feeds random and mutated buffers to every parser: the only acceptable failure is {@link
 * MalformedMessageException}; never an out-of-bounds read, an arithmetic surprise or an endless
 * loop. Fixed seed, bounded iterations (well under a second here); {@code @Timeout} guards
 * against a hang.
 */
@Timeout(60)
class NetlinkParserFuzzTest {
  private static final long SEED = 0x7a27a2L;
  private static final int MUTATIONS = 12_000;
  private static final int RANDOM_BUFFERS = 8_000;
  private static final int[] TYPES = {2, 3, 16, 17, 20, 21, 24, 25, 28, 29};

  private static List<byte[]> seeds() throws Exception {
    Inet4Address a = (Inet4Address) InetAddress.getByName("198.51.100.1");
    Inet4Address g = (Inet4Address) InetAddress.getByName("10.244.1.0");
    MessageWriter w = new MessageWriter();
    List<byte[]> out = new ArrayList<>();
    List<java.util.function.Consumer<MessageWriter>> encoders = List.of(
        x -> RtnlCodec.newVxlan(x, 1, new VxlanSpec("flannel.1", 1, a, 2, 8472, false, true, true, 1450, "02:00:00:00:00:01")),
        x -> RtnlCodec.newBridge(x, 1, "cni0", 1400),
        x -> RtnlCodec.newVeth(x, 1, "veth0", "eth0", 5),
        x -> RtnlCodec.newAddress(x, 1, new Address(3, a, 24), true),
        x -> RtnlCodec.newRoute(x, 1, Route.overlay(Ipv4Subnet.parse("10.244.1.0/24"), g, 5)),
        x -> RtnlCodec.newRoute(x, 1, new Route(Ipv4Subnet.parse("10.0.0.0/8"), null, 5, false, 1000, 3)),
        x -> RtnlCodec.newNeighbour(x, 1, Neighbour.permanent(5, g, "02:00:00:00:00:01")),
        x -> RtnlCodec.newFdb(x, 1, new FdbEntry(5, "02:00:00:00:00:01", a), false));
    for (var e : encoders) {
      w.reset();
      e.accept(w);
      out.add(w.finish().array());
    }
    out.add(Hex.bytes(RtnlCodecTest.KERNEL_VXLAN_LINK));
    out.add(Hex.bytes("30000000 0200 0003 2a000000 00000000 deffffff 30000000 1c00 0505 2a000000 00000000"
        + "0800 0100 62616400 0800 0200 20000000")); // NLMSG_ERROR with ext-ack
    out.add(Hex.bytes("14000000 0300 0200 05000000 39300000 00000000")); // NLMSG_DONE
    // all seeds packed into one datagram, as a dump would deliver them
    int total = out.stream().mapToInt(b -> b.length).sum();
    ByteBuffer all = ByteBuffer.allocate(total);
    out.forEach(all::put);
    out.add(all.array());
    return out;
  }

  /** Runs every parser over {@code buf}; fails on anything but MalformedMessageException. */
  private static int exercise(byte[] buf) {
    int messages = 0;
    try {
      MessageReader r = new MessageReader(ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder()));
      while (r.next()) {
        messages++;
        if (messages > buf.length / 16) {
          throw new AssertionError(messages + " messages in " + buf.length + " bytes: the walk does not advance");
        }
        int type = r.type();
        int flags = r.flags();
        ByteBuffer p = r.payload();
        guard(() -> NlMsgErr.parse(flags, p));
        guard(() -> RtnlCodec.decodeEvent(type, p));
        for (int t : TYPES) {
          guard(() -> RtnlCodec.decodeEvent(t, p));
        }
        guard(() -> RtnlCodec.decodeLink(p));
        guard(() -> RtnlCodec.decodeAddress(p));
        guard(() -> RtnlCodec.decodeRoute(p));
        guard(() -> RtnlCodec.decodeNeighbour(p));
        guard(() -> RtnlCodec.decodeFdb(p));
        guard(() -> readAll(Attributes.parse(p)));
      }
    } catch (MalformedMessageException expected) {
      // the one allowed failure
    }
    guard(() -> readAll(Attributes.parse(ByteBuffer.wrap(buf))));
    return messages;
  }

  private static Object readAll(Attributes a) {
    for (int i = 0; i < a.size(); i++) {
      int t = a.typeAt(i);
      guard(() -> a.u8(t, 0));
      guard(() -> a.u16(t, 0));
      guard(() -> a.u16be(t, 0));
      guard(() -> a.u32(t, 0));
      guard(() -> a.string(t));
      guard(() -> a.inet4(t));
      guard(() -> readAll(a.nested(t)));
    }
    return a;
  }

  private static void guard(java.util.function.Supplier<Object> s) {
    try {
      s.get();
    } catch (MalformedMessageException expected) {
      // fine
    }
  }

  private static byte[] mutate(byte[] seed, Random rnd) {
    byte[] b = Arrays.copyOf(seed, seed.length);
    switch (rnd.nextInt(6)) {
      case 0 -> { // flip a few random bytes
        for (int i = 0, n = 1 + rnd.nextInt(4); i < n && b.length > 0; i++) {
          b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
        }
      }
      case 1 -> { // truncate
        b = Arrays.copyOf(b, rnd.nextInt(b.length + 1));
      }
      case 2 -> { // overwrite a 16-bit length/type at an aligned offset (attribute headers)
        if (b.length >= 2) {
          int off = (rnd.nextInt(b.length / 2)) * 2 & ~1;
          int v = rnd.nextBoolean() ? rnd.nextInt(65536) : rnd.nextInt(12);
          b[off] = (byte) v;
          b[Math.min(off + 1, b.length - 1)] = (byte) (v >> 8);
        }
      }
      case 3 -> { // overwrite nlmsg_len
        if (b.length >= 4) {
          ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).putInt(0,
              rnd.nextBoolean() ? rnd.nextInt() : rnd.nextInt(b.length + 32));
        }
      }
      case 4 -> { // append garbage
        byte[] tail = new byte[rnd.nextInt(40)];
        rnd.nextBytes(tail);
        byte[] c = Arrays.copyOf(b, b.length + tail.length);
        System.arraycopy(tail, 0, c, b.length, tail.length);
        b = c;
      }
      default -> { // zero a range
        if (b.length > 0) {
          int from = rnd.nextInt(b.length);
          Arrays.fill(b, from, Math.min(b.length, from + 1 + rnd.nextInt(8)), (byte) 0);
        }
      }
    }
    return b;
  }

  @Test
  void seedsParseCleanly() throws Exception {
    for (byte[] s : seeds()) {
      assertThat(exercise(s)).isPositive();
    }
  }

  @Test
  void mutatedMessagesNeverBreakTheParsers() throws Exception {
    Random rnd = new Random(SEED);
    List<byte[]> seeds = seeds();
    for (int i = 0; i < MUTATIONS; i++) {
      byte[] b = seeds.get(rnd.nextInt(seeds.size()));
      for (int k = 0, n = 1 + rnd.nextInt(3); k < n; k++) {
        b = mutate(b, rnd);
      }
      byte[] input = b;
      try {
        exercise(input);
      } catch (RuntimeException | AssertionError e) {
        throw new AssertionError("parser failed on mutation " + i + ": " + Hex.of(ByteBuffer.wrap(input)), e);
      }
    }
  }

  @Test
  void randomBuffersNeverBreakTheParsers() {
    Random rnd = new Random(SEED + 1);
    for (int i = 0; i < RANDOM_BUFFERS; i++) {
      byte[] b = new byte[rnd.nextInt(200)];
      rnd.nextBytes(b);
      if (b.length >= 4 && rnd.nextBoolean()) {
        // a plausible nlmsg_len, so the walk gets past the first header more often
        ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).putInt(0, 16 + rnd.nextInt(Math.max(1, b.length - 15)));
      }
      try {
        exercise(b);
      } catch (RuntimeException | AssertionError e) {
        throw new AssertionError("parser failed on random buffer " + i + ": " + Hex.of(ByteBuffer.wrap(b)), e);
      }
    }
  }
}
