package dev.tartan.agent.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(20)
class ReconcileLoopTest {
  static final ReconcileResult.Counts NONE = new ReconcileResult.Counts(0, 0, 0, 0, 0);
  static final ReconcileResult OK = new ReconcileResult(NONE, NONE, NONE, 0, 0, Duration.ZERO);

  @Test
  void runsOnceAtStartAndAgainWhenTriggered() throws Exception {
    AtomicInteger passes = new AtomicInteger();
    try (ReconcileLoop loop = new ReconcileLoop("t", Duration.ofHours(1), () -> {
      passes.incrementAndGet();
      return OK;
    })) {
      loop.start();
      assertThat(loop.awaitSynced(Duration.ofSeconds(5))).isTrue();
      await().until(() -> passes.get() == 1);
      loop.trigger();
      await().until(() -> passes.get() == 2);
      assertThat(loop.lastResult()).isSameAs(OK);
      assertThat(loop.alive()).isTrue();
    }
  }

  @Test
  void triggersDuringAPassCoalesceIntoExactlyOneMore() throws Exception {
    AtomicInteger passes = new AtomicInteger();
    CountDownLatch inFirst = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (ReconcileLoop loop = new ReconcileLoop("t", Duration.ofHours(1), () -> {
      if (passes.incrementAndGet() == 1) {
        inFirst.countDown();
        release.await();
      }
      return OK;
    })) {
      loop.start();
      assertThat(inFirst.await(5, TimeUnit.SECONDS)).isTrue();
      for (int i = 0; i < 100; i++) {
        loop.trigger();
      }
      release.countDown();
      await().until(() -> loop.runs() == 2);
      // nothing else is pending: no third pass
      Thread.sleep(200);
      assertThat(passes).hasValue(2);
      assertThat(loop.triggers()).isEqualTo(100);
    }
  }

  @Test
  void resyncsEveryInterval() throws Exception {
    AtomicInteger passes = new AtomicInteger();
    try (ReconcileLoop loop = new ReconcileLoop("t", Duration.ofMillis(20), () -> {
      passes.incrementAndGet();
      return OK;
    })) {
      loop.start();
      await().atMost(Duration.ofSeconds(5)).until(() -> passes.get() >= 5);
    }
  }

  @Test
  void aFailedPassIsRetriedAndRecovers() throws Exception {
    AtomicInteger passes = new AtomicInteger();
    try (ReconcileLoop loop = new ReconcileLoop("t", Duration.ofHours(1), () -> {
      if (passes.incrementAndGet() <= 2) {
        throw new java.io.IOException("netlink socket gone");
      }
      return OK;
    })) {
      loop.start();
      // retried with backoff (250 ms, 500 ms) without any trigger, despite the 1 h interval
      assertThat(loop.awaitSynced(Duration.ofSeconds(5))).isTrue();
      assertThat(loop.failedRuns()).isEqualTo(2);
      assertThat(loop.lastError()).isNull();
    }
  }

  @Test
  void aPassWithNothingToDoYetIsNeitherASyncNorAFailure() throws Exception {
    AtomicInteger passes = new AtomicInteger();
    try (ReconcileLoop loop = new ReconcileLoop("t", Duration.ofHours(1), () -> {
      return passes.incrementAndGet() == 1 ? null : OK;
    })) {
      loop.start();
      await().until(() -> loop.runs() == 1);
      assertThat(loop.synced()).isFalse();
      assertThat(loop.failedRuns()).isZero();
      loop.trigger();
      assertThat(loop.awaitSynced(Duration.ofSeconds(5))).isTrue();
    }
  }

  @Test
  void closeStopsTheThread() throws Exception {
    ReconcileLoop loop = new ReconcileLoop("t", Duration.ofHours(1), () -> OK);
    loop.start();
    assertThat(loop.awaitSynced(Duration.ofSeconds(5))).isTrue();
    loop.close();
    assertThat(loop.alive()).isFalse();
    long runs = loop.runs();
    loop.trigger();
    Thread.sleep(50);
    assertThat(loop.runs()).isEqualTo(runs);
  }
}
