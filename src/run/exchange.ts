// One request through the proxy: a downstream request from node:http, an HTTP stream (context) in
// the filter, and the upstream request. Data goes into the stream as it arrives, chunk by chunk,
// the way Envoy's HTTP/1 codec hands it to the filter chain; what the filter lets go on (the
// stream's onPass hook) goes out on the other side right away. A paused direction waits for the
// guest (e.g. for a callout) and the proxy stops reading from that side once the filter holds more
// than the buffer limit, like Envoy's watermarks.
import type http from "node:http";
import { LogLevel } from "../abi.js";
import type { HttpStream } from "../host/http.js";
import { ExchangeLegs, Side, type ExchangeEnv, type ExchangeSummary } from "./exchange-legs.js";
import type { Instance, InstanceMember } from "./instance.js";
import { HOP_BY_HOP, envoyConnectFailure, formatAddress, rawPairs, requestPairs, type Pair } from "./wire.js";

export { requestPairs } from "./wire.js";

const EMPTY = Buffer.alloc(0);

export class Exchange extends ExchangeLegs implements InstanceMember {
  private stream: HttpStream | null = null;
  private readonly rq = new Side();
  private readonly rs = new Side();
  private failureHandled = false;
  private localSeen = false;
  private readonly started = performance.now();

  constructor(
    env: ExchangeEnv,
    private readonly instance: Instance | null,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    private readonly connectionId: number,
  ) {
    super(env, req, res);
  }

  protected endOutcome(): string {
    const local = this.stream?.sentHttpResponse;
    return local ? local.details || "local_reply" : "upstream";
  }

  get generation(): number {
    return this.stream && this.instance ? this.instance.generation : 0;
  }

  // ------------------------------------------------------------------ start

  start(): void {
    const { req, res } = this;
    res.on("close", () => {
      if (!res.writableFinished) this.downstreamGone();
    });
    req.on("error", () => {});
    res.on("error", () => {});
    const headers = requestPairs(req);
    this.rq.fedHeaders = headers;
    const cl = req.headers["content-length"];
    const chunked = req.headers["transfer-encoding"] !== undefined;
    this.rq.expected = !chunked && cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
    const hasBody = (this.hasBody = chunked || (this.rq.expected !== null && this.rq.expected > 0));
    req.on("data", (chunk: Buffer) => this.clientData(chunk));
    req.on("end", () => this.clientEnd());

    const instance = this.instance;
    if (instance) {
      try {
        this.stream = instance.host.httpStream({ properties: this.properties() });
      } catch (e) {
        // The plugin could not (re)start: FAIL_RELOAD found no working VM.
        this.env.logger.proxy(
          LogLevel.Error,
          `${(e as Error).message}; ${this.env.failOpen ? "passing the request through (--fail-open)" : "answering 503 (fail-closed)"}`,
        );
      }
    }
    const stream = this.stream;
    if (!stream || !instance) {
      if (this.env.failOpen) {
        this.rq.direct = this.rs.direct = true;
        this.outcome = "bypassed";
        this.openUpstream(headers);
        if (!hasBody) this.upEnd(null);
      } else {
        this.sendDirect(503, "", "wasm_fail_stream");
      }
      return;
    }
    instance.exchanges.add(this);
    stream.retainBody = false;
    stream.onPass = (dir, what, chunk) => (dir === 0 ? this.requestPassed(what, chunk) : this.responsePassed(what, chunk));
    if (!hasBody) this.rq.fedEnd = true;
    this.feed(() => stream.requestHeaders(headers, !hasBody));
  }

  private properties(): Record<string, string | number> {
    const s = this.req.socket;
    return {
      "source.address": formatAddress(s.remoteAddress, s.remotePort),
      "source.port": s.remotePort ?? 0,
      "destination.address": formatAddress(s.localAddress, s.localPort),
      "destination.port": s.localPort ?? 0,
      "connection.id": this.connectionId,
      connection_id: this.connectionId,
      "request.protocol": `HTTP/${this.req.httpVersion}`,
    };
  }

  /** Calls into the host, then lets the instance look at what changed. */
  private feed(fn: () => void): void {
    const stream = this.stream;
    const instance = this.instance;
    if (this.finished || !stream || !instance || stream.isComplete) return;
    if (instance.hostDepth > 0) {
      // Reached from a stream hook while the host is mid-call: go on a later turn.
      instance.later(() => this.feed(fn));
      return;
    }
    instance.call(fn, (e) => {
      this.env.logger.proxy(LogLevel.Error, `internal error in request ${this.id}: ${(e as Error)?.stack ?? e}`);
      this.reset("internal_error");
    });
  }

  // ------------------------------------------------------------------ downstream request in

  private clientData(chunk: Buffer): void {
    if (this.finished) return;
    const d = this.rq;
    d.received += chunk.length;
    const eos = d.expected !== null && d.received >= d.expected;
    if (d.direct) {
      this.upWrite(chunk);
      if (eos) this.upEnd(null);
      return;
    }
    if (d.abandoned || d.fedEnd) return;
    const stream = this.stream!;
    d.hold(chunk);
    if (eos) d.fedEnd = true;
    this.feed(() => stream.requestBody(chunk, eos));
    this.checkBuffered(d);
  }

  private clientEnd(): void {
    if (this.finished) return;
    const d = this.rq;
    if (d.fedEnd && !d.direct) return;
    const trailers = rawPairs(this.req.rawTrailers);
    if (d.direct) {
      if (!this.upEnded) this.upEnd(trailers.length > 0 ? trailers : null);
      return;
    }
    if (d.abandoned) return;
    const stream = this.stream!;
    d.fedEnd = true;
    if (trailers.length > 0) {
      d.fedTrailers = trailers;
      this.feed(() => stream.requestTrailers(trailers));
    } else {
      this.feed(() => stream.requestBody(EMPTY, true));
    }
  }

  // ------------------------------------------------------------------ what the filter lets go on

  private requestPassed(what: "headers" | "body" | "trailers" | "end", chunk?: Buffer): void {
    const d = this.rq;
    if (this.finished || d.abandoned || d.direct) return;
    switch (what) {
      case "headers":
        d.passedHeaders = true;
        this.unpauseClient("watermark");
        this.openUpstream(this.stream!.request.headerPairsBytes);
        return;
      case "body":
        d.drop();
        this.unpauseClient("watermark");
        this.upWrite(chunk!);
        return;
      case "trailers":
        d.passTrailers = this.stream!.request.trailerPairsBytes;
        return;
      case "end":
        d.passedEnd = true;
        d.drop();
        this.upEnd(d.passTrailers);
        return;
    }
  }

  private responsePassed(what: "headers" | "body" | "trailers" | "end", chunk?: Buffer): void {
    const d = this.rs;
    if (this.finished || d.abandoned || d.direct) return;
    switch (what) {
      case "headers":
        d.passedHeaders = true;
        this.unpauseUpstream("watermark");
        this.downHead(withCodecLength(this.stream!, this.isHead));
        return;
      case "body":
        d.drop();
        this.unpauseUpstream("watermark");
        this.downWrite(chunk!);
        return;
      case "trailers":
        d.passTrailers = this.stream!.response.trailerPairsBytes;
        return;
      case "end":
        d.passedEnd = true;
        d.drop();
        this.downEnd(d.passTrailers);
        return;
    }
  }

  protected upstreamResponse(r: http.IncomingMessage): void {
    this.upRes = r;
    r.on("error", () => {});
    if (this.finished || this.rs.abandoned || this.upAborted) {
      r.resume();
      return;
    }
    const status = r.statusCode ?? 502;
    const pairs: Pair[] = [[":status", String(status)]];
    for (const p of rawPairs(r.rawHeaders)) if (!HOP_BY_HOP.has(p[0] as string)) pairs.push(p);
    // Envoy's router adds this before the filters see the response.
    pairs.push(["x-envoy-upstream-service-time", String(Math.round(performance.now() - this.upStarted))]);
    const cl = r.headers["content-length"];
    const noBody = this.isHead || status === 204 || status === 304 || (status >= 100 && status < 200) || cl === "0";
    this.rs.expected = !noBody && r.headers["transfer-encoding"] === undefined && cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
    if (this.stream) {
      const addr = formatAddress(r.socket?.remoteAddress, r.socket?.remotePort);
      this.stream.setProperty("upstream.address", addr);
      this.stream.setProperty("upstream.port", r.socket?.remotePort ?? 0);
    }
    r.on("data", (c: Buffer) => this.upstreamData(c));
    r.on("end", () => this.upstreamEnd());
    r.on("close", () => {
      if (!r.complete) this.upstreamBroken();
    });
    const d = this.rs;
    d.fedHeaders = pairs;
    if (noBody) d.fedEnd = this.upResDone = true;
    if (d.direct) {
      this.outcome ||= "upstream";
      this.downHead(pairs);
      if (noBody) this.downEnd(null);
      return;
    }
    const stream = this.stream!;
    this.feed(() => stream.responseHeaders(pairs, noBody));
  }

  private upstreamData(chunk: Buffer): void {
    if (this.finished) return;
    const d = this.rs;
    d.received += chunk.length;
    const eos = d.expected !== null && d.received >= d.expected;
    if (eos) this.upResDone = true;
    if (d.direct) {
      this.downWrite(chunk);
      if (eos) this.downEnd(null);
      return;
    }
    if (d.abandoned || d.fedEnd) return;
    const stream = this.stream!;
    d.hold(chunk);
    if (eos) d.fedEnd = true;
    this.feed(() => stream.responseBody(chunk, eos));
    this.checkBuffered(d);
  }

  private upstreamEnd(): void {
    this.upResDone = true;
    this.clearRouteTimer();
    if (this.finished) return;
    const d = this.rs;
    const trailers = rawPairs(this.upRes?.rawTrailers ?? []);
    if (d.direct) {
      this.downEnd(trailers.length > 0 ? trailers : null);
      return;
    }
    if (d.abandoned || d.fedEnd) return;
    const stream = this.stream!;
    d.fedEnd = true;
    if (trailers.length > 0) {
      d.fedTrailers = trailers;
      this.feed(() => stream.responseTrailers(trailers));
    } else {
      this.feed(() => stream.responseBody(EMPTY, true));
    }
  }

  private upstreamBroken(): void {
    if (this.finished || this.upAborted) return;
    this.env.logger.proxy(
      LogLevel.Warn,
      `request ${this.id}: the upstream closed the connection in the middle of the response; resetting the downstream request like Envoy`,
    );
    this.reset("upstream_reset_after_response_started");
  }

  protected upstreamError(err: NodeJS.ErrnoException): void {
    if (this.finished || this.upAborted) return;
    if (this.upRes) {
      if (!this.upRes.complete) this.upstreamBroken();
      return;
    }
    const target = this.env.upstream!;
    this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: upstream ${target.display}: ${err.code ?? err.message}`);
    this.proxyReply(503, envoyConnectFailure(err), "upstream_reset_before_response_started");
  }

  // ------------------------------------------------------------------ proxy replies, resets, the end

  /** Envoy's router answering itself (no upstream, connect failure, timeout): the filter sees it as the response. */
  protected proxyReply(status: number, body: string, outcome: string): void {
    if (this.finished) return;
    this.abortUpstream();
    this.rq.abandoned = true;
    this.rq.drop();
    this.unpauseClient("watermark");
    this.unpauseClient("upstream");
    this.outcome = outcome;
    const stream = this.stream;
    if (this.res.headersSent || this.rs.fedHeaders !== null) {
      // The response already started (or the filter holds one): all Envoy can do is reset.
      this.reset(outcome);
      return;
    }
    if (!stream || this.rs.direct || stream.failed) {
      this.sendDirect(status, body, outcome);
      return;
    }
    const reply = this.envoyReply(status, body, -1);
    const pairs: Pair[] = reply.headers.keys.map((k, i) => [k, reply.headers.values[i]]);
    const hasBody = reply.body.length > 0;
    this.rs.fedHeaders = pairs;
    this.rs.fedEnd = true;
    this.feed(() => {
      stream.responseHeaders(pairs, !hasBody);
      if (hasBody && !stream.isComplete) stream.responseBody(reply.body, true);
    });
  }

  private downstreamGone(): void {
    if (this.finished) return;
    this.abortUpstream();
    this.finish(this.res.headersSent ? "downstream_remote_disconnect_after_response_started" : "downstream_remote_disconnect");
  }

  protected finish(outcome: string): void {
    if (this.finished) return;
    this.finished = true;
    this.outcome = outcome;
    // The response is over: an upstream exchange still going (a local reply, a response that came
    // before the request ended) is aborted, as Envoy resets it.
    if (this.up && !this.upAborted && (!this.upEnded || !this.upResDone)) this.abortUpstream();
    this.clearRouteTimer();
    this.rq.drop();
    this.rs.drop();
    this.clientPauses.clear();
    if (this.req.isPaused()) this.req.resume();
    const stream = this.stream;
    const instance = this.instance;
    if (stream && instance) {
      stream.onPass = null;
      // Complete the context (proxy_on_done, proxy_on_log, proxy_on_delete) on a later turn, never
      // from inside a callback of this stream.
      setImmediate(() => {
        instance.exchanges.delete(this);
        if (stream.isComplete || instance.closed) return instance.afterAction();
        instance.call(
          () => stream.complete(),
          (e) => this.env.logger.proxy(LogLevel.Error, `internal error completing request ${this.id}: ${(e as Error)?.message ?? e}`),
        );
      });
    }
    this.env.onFinished(this.summary());
  }

  summary(): ExchangeSummary {
    return {
      method: this.method,
      path: this.req.url ?? "",
      status: this.res.headersSent && !this.outcome.startsWith("reset") ? this.status : 0,
      outcome: this.outcome,
      ms: performance.now() - this.started,
      generation: this.generation,
    };
  }

  protected instanceLater(fn: () => void): void {
    if (this.instance && this.stream) this.instance.later(fn);
    else setImmediate(fn);
  }

  // ------------------------------------------------------------------ after every host call

  /** Called by the instance after any call into the host: local replies, resets, failures. */
  check(): void {
    const stream = this.stream;
    if (this.finished || !stream) return;
    if (stream.resetReason !== null) {
      this.env.logger.proxy(LogLevel.Debug, `request ${this.id}: the filter reset the stream (${stream.resetReason})`);
      this.reset(stream.resetReason);
      return;
    }
    if (stream.failed && !stream.bypassed && !this.failureHandled) {
      this.failureHandled = true;
      if (this.env.failOpen) this.rescue();
      else this.sendDirect(503, "", "wasm_fail_stream");
      return;
    }
    const local = stream.sentHttpResponse;
    if (local && !this.localSeen) {
      this.localSeen = true;
      this.outcome = local.details || "local_reply";
      // The request goes no further; what the filter answered reaches the client through onPass.
      this.abortUpstream();
      this.rq.abandoned = true;
      this.rq.drop();
      this.unpauseClient("watermark");
      this.unpauseClient("upstream");
    }
  }

  /** Fail-open after the VM failed: the filter is left out of the rest of this exchange. */
  private rescue(): void {
    const stream = this.stream!;
    this.env.logger.proxy(
      LogLevel.Warn,
      `request ${this.id}: the filter's VM failed; passing the rest of this request through unfiltered (--fail-open)`,
    );
    this.outcome = "bypassed";
    const rq = this.rq;
    if (!rq.abandoned && !rq.passedEnd && !this.upAborted) {
      rq.direct = true;
      if (!rq.passedHeaders)
        this.openUpstream(stream.request.headerPairsBytes.length > 0 ? stream.request.headerPairsBytes : rq.fedHeaders!);
      for (const c of rq.unpassed) this.upWrite(c);
      rq.drop();
      if (rq.fedEnd) this.upEnd(rq.fedTrailers);
      this.unpauseClient("watermark");
    }
    const rs = this.rs;
    if (!rs.abandoned && !rs.passedEnd && rs.fedHeaders) {
      rs.direct = true;
      if (!rs.passedHeaders) this.downHead(stream.response.headerPairsBytes.length > 0 ? stream.response.headerPairsBytes : rs.fedHeaders);
      for (const c of rs.unpassed) this.downWrite(c);
      rs.drop();
      if (rs.fedEnd) this.downEnd(rs.fedTrailers);
      this.unpauseUpstream("watermark");
    } else if (!rs.fedHeaders) {
      rs.direct = true;
    }
  }

  /**
   * The filter holds more than the buffer limit: Envoy stops reading (watermark) while headers are
   * held, and answers 413 (request) / 500 (response) when a body callback keeps buffering.
   */
  private checkBuffered(d: Side): void {
    if (this.finished || d.unpassedBytes <= this.env.bufferLimit) return;
    const request = d === this.rq;
    const stream = this.stream;
    if (!stream || d.direct || d.abandoned) return;
    const paused = request ? stream.request.paused : stream.response.paused;
    if (!paused) return;
    if (!d.passedHeaders) {
      if (request) this.pauseClient("watermark");
      else this.pauseUpstream("watermark");
      return;
    }
    this.env.logger.proxy(
      LogLevel.Warn,
      `request ${this.id}: the filter buffered more than ${this.env.bufferLimit} bytes of the ${request ? "request" : "response"} body (the buffer limit; change it with --buffer-limit)`,
    );
    if (request) {
      this.proxyReply(413, "Payload Too Large", "request_payload_too_large");
    } else {
      this.abortUpstream();
      this.rs.abandoned = true;
      this.sendDirect(500, "Internal Server Error", "response_payload_too_large");
    }
  }
}

/**
 * The response headers to write. A local reply that ends with its headers (gRPC trailers-only, no
 * body) gets `content-length: 0` the way Envoy's HTTP/1 codec frames a header-only response, not
 * chunked encoding.
 */
function withCodecLength(stream: HttpStream, isHead: boolean): Array<[Buffer, Buffer]> {
  const pairs = stream.response.headerPairsBytes;
  if (!stream.sentHttpResponse || isHead || stream.response.body.length > 0) return pairs;
  const status = pairs.find(([k]) => k.toString("latin1") === ":status")?.[1].toString("latin1");
  if (status === "204" || status === "304" || pairs.some(([k]) => k.toString("latin1") === "content-length")) return pairs;
  return [...pairs, [Buffer.from("content-length"), Buffer.from("0")]];
}
