package dev.tartan.cni.attach;

import java.util.function.BooleanSupplier;

final class Testing {
  private Testing() {}

  /** Polls {@code check} for up to 20 s. */
  static boolean await(BooleanSupplier check) {
    long end = System.nanoTime() + 20_000_000_000L;
    while (System.nanoTime() < end) {
      if (check.getAsBoolean()) {
        return true;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return check.getAsBoolean();
  }
}
