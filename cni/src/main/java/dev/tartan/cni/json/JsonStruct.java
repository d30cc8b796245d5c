package dev.tartan.cni.json;

import java.util.LinkedHashMap;

/**
 * A JSON object whose keys {@link Json#writeSorted} keeps in insertion order, like a Go struct (whose
 * fields {@code encoding/json} writes in declaration order) next to Go maps (whose keys it sorts).
 */
public final class JsonStruct extends LinkedHashMap<String, Object> {
  private static final long serialVersionUID = 1L;
}
