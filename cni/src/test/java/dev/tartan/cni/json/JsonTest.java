package dev.tartan.cni.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class JsonTest {

  @Test
  void parsesEveryTypeAndKeepsKeyOrder() throws Exception {
    Map<String, Object> m = Json.parseObject(
        " {\"z\": 1, \"a\": -2.5, \"m\": \"s\", \"t\": true, \"f\": false, \"n\": null, \"o\": {}, \"l\": [1, [2]]}\n");
    assertThat(m.keySet()).containsExactly("z", "a", "m", "t", "f", "n", "o", "l");
    assertThat(m.get("z")).isEqualTo(1L);
    assertThat(m.get("a")).isEqualTo(-2.5);
    assertThat(m.get("m")).isEqualTo("s");
    assertThat(m.get("t")).isEqualTo(Boolean.TRUE);
    assertThat(m.get("f")).isEqualTo(Boolean.FALSE);
    assertThat(m).containsKey("n");
    assertThat(m.get("n")).isNull();
    assertThat(m.get("o")).isEqualTo(Map.of());
    assertThat(m.get("l")).isEqualTo(List.of(1L, List.of(2L)));
  }

  @Test
  void repeatedKeyKeepsFirstPositionAndLastValueLikeGo() throws Exception {
    Map<String, Object> m = Json.parseObject("{\"a\":1,\"b\":2,\"a\":3}");
    assertThat(m.keySet()).containsExactly("a", "b");
    assertThat(m.get("a")).isEqualTo(3L);
  }

  @Test
  void numbers() throws Exception {
    assertThat(Json.parse("0")).isEqualTo(0L);
    assertThat(Json.parse("-0")).isEqualTo(-0.0);
    assertThat(Json.parse("9223372036854775807")).isEqualTo(Long.MAX_VALUE);
    assertThat(Json.parse("-9223372036854775808")).isEqualTo(Long.MIN_VALUE);
    assertThat(Json.parse("9223372036854775808")).isEqualTo(9.223372036854775808e18);
    assertThat(Json.parse("1e3")).isEqualTo(1000.0);
    assertThat(Json.parse("1.5E-3")).isEqualTo(0.0015);
    assertThat(Json.parse("2e+2")).isEqualTo(200.0);
  }

  @Test
  void stringEscapes() throws Exception {
    assertThat(Json.parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20AC\"")).isEqualTo("a\"b\\c/d\b\f\n\r\té€");
    assertThat(Json.parse("\"\\ud83d\\ude00\"")).isEqualTo("\ud83d\ude00");
    assertThat(Json.parse("\"ünïcødé 😀\"")).isEqualTo("ünïcødé 😀");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "``|unexpected end of JSON input at line 1 column 1 (offset 0)",
      "{\"a\":1,}|unexpected character '}', expected a string key at line 1 column 8 (offset 7)",
      "[1,]|unexpected character ']', expected a JSON value at line 1 column 4 (offset 3)",
      "{\"a\" 1}|unexpected character '1', expected ':' after key \"a\" at line 1 column 6 (offset 5)",
      "[1 2]|unexpected character '2', expected ',' or ']' in array at line 1 column 4 (offset 3)",
      "01|number with a leading zero at line 1 column 2 (offset 1)",
      "1.|unexpected end of input after decimal point in number at line 1 column 3 (offset 2)",
      "-|unexpected end of input in number at line 1 column 2 (offset 1)",
      "1e|unexpected end of input in exponent of number at line 1 column 3 (offset 2)",
      "tru|unexpected character 't', expected a JSON value at line 1 column 1 (offset 0)",
      "nul|unexpected character 'n', expected a JSON value at line 1 column 1 (offset 0)",
      "{} x|unexpected character 'x' after the JSON value at line 1 column 4 (offset 3)",
      "\"abc|unterminated string at line 1 column 1 (offset 0)",
      "\"a\\x\"|invalid escape \"\\x\" in string at line 1 column 3 (offset 2)",
      "\"\\u12g4\"|invalid \\u escape \"\\u12g4\" at line 1 column 2 (offset 1)",
      "// c\\n{}|unexpected character '/', expected a JSON value at line 1 column 1 (offset 0)",
      "NaN|unexpected character 'N', expected a JSON value at line 1 column 1 (offset 0)",
      "1e999|number 1e999 is out of range at line 1 column 1 (offset 0)",
  })
  void rejectsMalformedTextNamingThePosition(String text, String message) {
    assertThatThrownBy(() -> Json.parse(text.replace("\\n", "\n"))).isInstanceOf(JsonException.class)
        .hasMessage(message);
  }

  @Test
  void positionCountsLines() {
    assertThatThrownBy(() -> Json.parse("{\n  \"a\": 1,\n  \"b\": ?\n}"))
        .hasMessage("unexpected character '?', expected a JSON value at line 3 column 8 (offset 19)");
  }

  @Test
  void rejectsRawControlCharactersInStrings() {
    assertThatThrownBy(() -> Json.parse("\"a\nb\"")).hasMessageStartingWith("control character U+000A in string");
    assertThatThrownBy(() -> Json.parse("\"a\tb\"")).hasMessageStartingWith("control character U+0009 in string");
  }

  @Test
  void rejectsNonJsonWhitespaceAndBom() {
    assertThatThrownBy(() -> Json.parse("\u00a0{}")).hasMessageStartingWith("unexpected character U+00A0");
    assertThatThrownBy(() -> Json.parse("\ufeff{}")).hasMessageStartingWith("unexpected character U+FEFF");
  }

  @Test
  void depthLimit() throws Exception {
    String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
    assertThat(Json.parse(ok)).isInstanceOf(List.class);
    String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
    assertThatThrownBy(() -> Json.parse(deep)).hasMessageStartingWith("JSON nests deeper than 64 levels");
    String deepObjects = "{\"a\":".repeat(Json.MAX_DEPTH + 1) + "1" + "}".repeat(Json.MAX_DEPTH + 1);
    assertThatThrownBy(() -> Json.parse(deepObjects)).hasMessageStartingWith("JSON nests deeper than 64 levels");
  }

  @Test
  void sizeLimit() {
    String big = "\"" + "x".repeat(Json.MAX_LENGTH) + "\"";
    assertThatThrownBy(() -> Json.parse(big)).isInstanceOf(JsonException.class)
        .hasMessageContaining("more than the limit");
  }

  @Test
  void parseObjectRejectsOtherTypes() {
    assertThatThrownBy(() -> Json.parseObject("[1]")).hasMessage("expected a JSON object, got an array");
    assertThatThrownBy(() -> Json.parseObject("null")).hasMessage("expected a JSON object, got null");
  }

  @Test
  void writerEscapesLikeGo() {
    assertThat(Json.write("<a>&\"\\\n\r\t\b\f\u0001\u001f\u2028\u2029é😀"))
        .isEqualTo("\"\\u003ca\\u003e\\u0026\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\\u2028\\u2029é😀\"");
    assertThat(Json.write("\ud800x")).isEqualTo("\"\\ufffdx\"");
  }

  @Test
  void writeKeepsOrderWriteSortedSortsMapsButNotStructs() {
    Map<String, Object> inner = new LinkedHashMap<>();
    inner.put("type", "host-local");
    inner.put("ranges", List.of());
    JsonStruct route = new JsonStruct();
    route.put("dst", "10.0.0.0/8");
    route.put("advmss", 1L);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", "n");
    m.put("ipam", inner);
    m.put("ipMasq", false);
    m.put("routes", List.of(route));
    assertThat(Json.write(m))
        .isEqualTo("{\"name\":\"n\",\"ipam\":{\"type\":\"host-local\",\"ranges\":[]},\"ipMasq\":false,"
            + "\"routes\":[{\"dst\":\"10.0.0.0/8\",\"advmss\":1}]}");
    assertThat(Json.writeSorted(m))
        .isEqualTo("{\"ipMasq\":false,\"ipam\":{\"ranges\":[],\"type\":\"host-local\"},\"name\":\"n\","
            + "\"routes\":[{\"dst\":\"10.0.0.0/8\",\"advmss\":1}]}");
  }

  @Test
  void sortedKeysUseCodePointOrderLikeGoBytes() {
    Map<String, Object> m = new LinkedHashMap<>();
    for (String k : new String[] {"b", "B", "\uffff", "\ud83d\ude00", "a", "", "aa"}) {
      m.put(k, 1L);
    }
    // U+1F600 sorts after U+FFFF by code point (UTF-8 byte order), though its first UTF-16 unit does not.
    assertThat(Json.writeSorted(m))
        .isEqualTo("{\"\":1,\"B\":1,\"a\":1,\"aa\":1,\"b\":1,\"\uffff\":1,\"\ud83d\ude00\":1}");
  }

  @Test
  void indentedLikeGoMarshalIndent() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("a", 1L);
    m.put("b", List.of(1L, Map.of("c", "d")));
    m.put("e", Map.of());
    m.put("f", new ArrayList<>());
    assertThat(Json.writeIndented(m)).isEqualTo("{\n    \"a\": 1,\n    \"b\": [\n        1,\n        {\n"
        + "            \"c\": \"d\"\n        }\n    ],\n    \"e\": {},\n    \"f\": []\n}");
  }

  @ParameterizedTest
  @CsvSource({
      "1472.0, 1472",
      "0.5, 0.5",
      "-2.25, -2.25",
      "1e20, 100000000000000000000",
      "1e21, 1e+21",
      "1.5e300, 1.5e+300",
      "0.000001, 0.000001",
      "1e-7, 1e-7",
      "-1.25e-10, -1.25e-10",
      "123456789.125, 123456789.125",
      "0.1, 0.1",
  })
  void floatsLikeGo(double value, String expected) {
    assertThat(Json.goFloat(value)).isEqualTo(expected);
  }

  @Test
  void zeroes() {
    assertThat(Json.goFloat(0.0)).isEqualTo("0");
    assertThat(Json.goFloat(-0.0)).isEqualTo("-0");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"aa:bb\"}],\"dns\":{}}",
      "[1,-2,3.5,\"x\",true,false,null,{},[]]",
      "{\"a\":{\"b\":{\"c\":[1,{\"d\":\"\\u003c\\\\\"}]}}}",
  })
  void roundTrips(String text) throws Exception {
    assertThat(Json.write(Json.parse(text))).isEqualTo(text);
  }

  @Test
  void writerRejectsUnknownTypes() {
    assertThatThrownBy(() -> Json.write(new Object())).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Json.write(Double.NaN)).isInstanceOf(IllegalArgumentException.class);
  }
}
