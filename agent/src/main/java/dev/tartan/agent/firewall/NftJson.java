package dev.tartan.agent.firewall;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.firewall.NftTable.NftChain;
import dev.tartan.agent.firewall.NftTable.NftSet;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads the output of {@code nft -j list table FAMILY NAME} (libnftables JSON schema 1) into an
 * {@link NftTable} whose rules are rendered the way {@code nft list} prints them, for the
 * expressions our rules use (payload and meta matches with prefixes, sets and {@code !=},
 * counter, masquerade, verdicts). Any other expression is rendered as its raw JSON in brackets,
 * so it never equals one of our rules. Pure.
 */
public final class NftJson {
  private static final ObjectMapper JSON = new ObjectMapper();

  private NftJson() {}

  /** The table in {@code json}; comments and handles are not kept. */
  public static NftTable parse(String json) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("nft -j printed no JSON: " + e.getMessage());
    }
    JsonNode items = root.path("nftables");
    if (!items.isArray()) {
      throw new IllegalArgumentException("nft -j printed no \"nftables\" array");
    }
    String family = null;
    String name = null;
    String comment = null;
    List<NftSet> sets = new ArrayList<>();
    Map<String, JsonNode> chains = new LinkedHashMap<>();
    Map<String, List<String>> rules = new LinkedHashMap<>();
    for (JsonNode item : items) {
      if (item.has("table")) {
        JsonNode t = item.get("table");
        family = t.path("family").asText();
        name = t.path("name").asText();
        comment = t.hasNonNull("comment") ? t.get("comment").asText() : null;
      } else if (item.has("set")) {
        JsonNode s = item.get("set");
        List<String> elements = new ArrayList<>();
        JsonNode elem = s.path("elem");
        if (elem.isArray()) {
          elem.forEach(e -> elements.add(value(e)));
        } else if (!elem.isMissingNode()) {
          elements.add(value(elem));
        }
        sets.add(new NftSet(s.path("name").asText(), s.path("type").asText(), elements));
      } else if (item.has("chain")) {
        JsonNode c = item.get("chain");
        chains.put(c.path("name").asText(), c);
        rules.putIfAbsent(c.path("name").asText(), new ArrayList<>());
      } else if (item.has("rule")) {
        JsonNode r = item.get("rule");
        rules.computeIfAbsent(r.path("chain").asText(), k -> new ArrayList<>()).add(rule(r.path("expr")));
      }
    }
    if (name == null) {
      throw new IllegalArgumentException("nft -j printed no table");
    }
    List<NftChain> out = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : chains.entrySet()) {
      JsonNode c = e.getValue();
      out.add(new NftChain(e.getKey(), c.hasNonNull("type") ? c.get("type").asText() : null,
          c.hasNonNull("hook") ? c.get("hook").asText() : null,
          c.hasNonNull("prio") ? c.get("prio").asText() : null, c.path("prio").asInt(0),
          c.hasNonNull("comment") ? c.get("comment").asText() : null, rules.get(e.getKey())));
    }
    return new NftTable(family, name, comment, sets, out);
  }

  /** One rule's {@code expr} array as {@code nft list} text. */
  static String rule(JsonNode expr) {
    List<String> words = new ArrayList<>();
    for (JsonNode e : expr) {
      words.add(expression(e));
    }
    return String.join(" ", words);
  }

  private static String expression(JsonNode e) {
    Iterator<Map.Entry<String, JsonNode>> it = e.fields();
    if (!it.hasNext()) {
      return raw(e);
    }
    Map.Entry<String, JsonNode> f = it.next();
    JsonNode v = f.getValue();
    switch (f.getKey()) {
      case "match":
        return match(v, e);
      case "counter":
        return "counter";
      case "accept":
      case "drop":
      case "return":
      case "continue":
        return f.getKey();
      case "jump":
      case "goto":
        return f.getKey() + " " + v.path("target").asText();
      case "masquerade":
        if (v == null || v.isNull()) {
          return "masquerade";
        }
        JsonNode flags = v.path("flags");
        if (flags.isTextual()) {
          return "masquerade " + flags.asText();
        }
        if (flags.isArray()) {
          List<String> fl = new ArrayList<>();
          flags.forEach(x -> fl.add(x.asText()));
          return "masquerade " + String.join(",", fl);
        }
        return raw(e);
      default:
        return raw(e);
    }
  }

  private static String match(JsonNode m, JsonNode whole) {
    String op = m.path("op").asText("==");
    JsonNode left = m.path("left");
    String l;
    boolean mark = false;
    if (left.has("payload")) {
      l = left.get("payload").path("protocol").asText() + " " + left.get("payload").path("field").asText();
    } else if (left.has("meta")) {
      String key = left.get("meta").path("key").asText();
      mark = key.equals("mark");
      l = "meta " + key;
    } else {
      return raw(whole);
    }
    JsonNode right = m.path("right");
    String r;
    if (right.isNumber() && mark) {
      r = String.format(Locale.ROOT, "0x%08x", right.asLong());
    } else if (right.has("prefix")) {
      r = right.get("prefix").path("addr").asText() + "/" + right.get("prefix").path("len").asInt();
    } else if (right.isValueNode()) {
      r = right.asText();
    } else {
      return raw(whole);
    }
    String o = switch (op) {
      case "==", "in" -> "";
      case "!=" -> "!= ";
      default -> op + " ";
    };
    return l + " " + o + r;
  }

  private static String value(JsonNode e) {
    if (e.isValueNode()) {
      return e.asText();
    }
    if (e.has("prefix")) {
      return e.get("prefix").path("addr").asText() + "/" + e.get("prefix").path("len").asInt();
    }
    return raw(e);
  }

  private static String raw(JsonNode e) {
    return "[" + e.toString() + "]";
  }
}
