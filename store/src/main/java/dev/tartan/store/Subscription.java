package dev.tartan.store;

/** A running watch; closing it stops the watch and its reconnect loop. */
public interface Subscription extends AutoCloseable {
  @Override
  void close();
}
