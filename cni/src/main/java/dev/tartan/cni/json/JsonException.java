package dev.tartan.cni.json;

/** Malformed JSON text, or a value the writer cannot represent. The message names the position. */
public final class JsonException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int offset;

  JsonException(String message, int offset) {
    super(message);
    this.offset = offset;
  }

  /** Character offset of the problem in the parsed text, or -1 for writer errors. */
  public int offset() {
    return offset;
  }
}
