package dev.tartan.agent.metrics;

import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Batch;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Counts the requests the kernel refuses, by errno, on the way through an {@link RtNetlink}: every
 * {@link NetlinkException} a call throws and every {@link Batch.Failure} a batch returns. A delete
 * of something already gone ({@link NetlinkException#notFound()}) is success by the library's
 * convention ("delete... treats not found as done") and is not counted.
 *
 * <p>A dynamic proxy, so it forwards whatever {@link RtNetlink} grows without changes here.
 */
final class NetlinkErrors {
  private NetlinkErrors() {}

  /** {@code nl} with every refused request reported to {@code count} (errno label, e.g. "EEXIST"). */
  static RtNetlink counting(RtNetlink nl, Consumer<String> count) {
    return proxy(RtNetlink.class, nl, new Handler(nl, count));
  }

  /** "EEXIST" for errno 17; "errno_N" for one {@link Errno} has no name for; "none" for 0 (socket or parse failure). */
  static String label(int errno) {
    if (errno == 0) {
      return "none";
    }
    String name = Errno.name(errno);
    int space = name.indexOf(' ');
    String symbol = space < 0 ? name : name.substring(0, space);
    return symbol.startsWith("E") ? symbol : "errno_" + errno;
  }

  private static <T> T proxy(Class<T> type, Object target, InvocationHandler h) {
    return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, h));
  }

  private static Object call(Object target, Method m, Object[] args) throws Throwable {
    try {
      return m.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /** equals/hashCode of the proxy itself; everything else is forwarded. */
  private static Object objectMethod(Object proxy, Object target, Method m, Object[] args) {
    return switch (m.getName()) {
      case "equals" -> proxy == args[0];
      case "hashCode" -> System.identityHashCode(proxy);
      default -> target.toString();
    };
  }

  private static boolean isObjectMethod(Method m) {
    return m.getDeclaringClass() == Object.class;
  }

  private static final class Handler implements InvocationHandler {
    private final RtNetlink target;
    private final Consumer<String> count;

    Handler(RtNetlink target, Consumer<String> count) {
      this.target = target;
      this.count = count;
    }

    @Override
    public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
      if (isObjectMethod(m)) {
        return objectMethod(proxy, target, m, args);
      }
      try {
        Object result = call(target, m, args);
        if (result instanceof Batch b && m.getName().equals("batch")) {
          return proxy(Batch.class, b, new BatchHandler(b, count));
        }
        return result;
      } catch (NetlinkException e) {
        if (!(m.getName().startsWith("delete") && e.notFound())) {
          count.accept(label(e.errno()));
        }
        throw e;
      }
    }
  }

  private static final class BatchHandler implements InvocationHandler {
    private final Batch target;
    private final Consumer<String> count;
    private final Set<Object> deletes = Collections.newSetFromMap(new IdentityHashMap<>());

    BatchHandler(Batch target, Consumer<String> count) {
      this.target = target;
      this.count = count;
    }

    @Override
    public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
      if (isObjectMethod(m)) {
        return objectMethod(proxy, target, m, args);
      }
      if (m.getName().equals("execute")) {
        try {
          @SuppressWarnings("unchecked")
          List<Batch.Failure> failures = (List<Batch.Failure>) call(target, m, args);
          for (Batch.Failure f : failures) {
            if (!(deletes.contains(f.request()) && f.error().notFound())) {
              count.accept(label(f.error().errno()));
            }
          }
          return failures;
        } catch (NetlinkException e) {
          count.accept(label(e.errno()));
          throw e;
        } finally {
          deletes.clear();
        }
      }
      if (m.getName().startsWith("delete") && args != null && args.length == 1) {
        deletes.add(args[0]);
      }
      Object result = call(target, m, args);
      return result == target ? proxy : result; // keep chained calls on the counting batch
    }
  }
}
