package dev.tartan.agent.health;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Dispatches a request to the endpoint of its path. */
final class HealthHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger log = LoggerFactory.getLogger(HealthHandler.class);

  private final Map<String, HealthServer.Endpoint> endpoints;

  HealthHandler(Map<String, HealthServer.Endpoint> endpoints) {
    this.endpoints = endpoints;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
    HealthServer.Response r;
    boolean head = req.method().equals(HttpMethod.HEAD);
    if (!req.decoderResult().isSuccess()) {
      r = HealthServer.Response.text(400, "bad request");
    } else if (!head && !req.method().equals(HttpMethod.GET)) {
      r = HealthServer.Response.text(405, "method not allowed");
    } else {
      HealthServer.Endpoint e = endpoints.get(new QueryStringDecoder(req.uri()).path());
      if (e == null) {
        r = HealthServer.Response.text(404, "not found");
      } else {
        try {
          r = e.handle();
        } catch (RuntimeException ex) {
          log.warn("handler of {} failed: {}", req.uri(), ex.toString());
          r = HealthServer.Response.text(500, "internal error");
        }
      }
    }
    byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
    ByteBuf content = head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
    FullHttpResponse resp = new DefaultFullHttpResponse(req.protocolVersion(),
        HttpResponseStatus.valueOf(r.status()), content);
    resp.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
    resp.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    resp.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    if (r.status() == 405) {
      resp.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
    }
    boolean keepAlive = HttpUtil.isKeepAlive(req) && req.decoderResult().isSuccess();
    HttpUtil.setKeepAlive(resp, keepAlive);
    if (keepAlive) {
      ctx.writeAndFlush(resp);
    } else {
      ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("health connection failed: {}", cause.toString());
    ctx.close();
  }
}
