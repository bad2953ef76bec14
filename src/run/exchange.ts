// One request through the proxy: a downstream request from node:http, an HTTP stream (context) in
// the filter, and the upstream request. Data goes into the stream as it arrives, chunk by chunk,
// the way Envoy's HTTP/1 codec hands it to the filter chain; what the filter lets go on (the
// stream's onPass hook) goes out on the other side right away. A paused direction waits for the
// guest (e.g. for a callout) and the proxy stops reading from that side once the filter holds more
// than the buffer limit, like Envoy's watermarks.
import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { LogLevel } from "../abi.js";
import type { HttpStream } from "../host/http.js";
import type { Instance, InstanceMember } from "./instance.js";
import type { Logger } from "./log.js";
import type { Target } from "./options.js";
import { HOP_BY_HOP, envoyConnectFailure, formatAddress, isValidHeaderName, isValidHeaderValue, textToLatin1 } from "./wire.js";

const EMPTY = Buffer.alloc(0);
const ASCII = /^[\x00-\x7f]*$/;

/** What every exchange of one proxy shares. */
export interface ExchangeEnv {
  logger: Logger;
  upstream: Target | null;
  agents: { http: http.Agent; https: https.Agent };
  failOpen: boolean;
  timeoutMs: number;
  bufferLimit: number;
  onFinished(summary: ExchangeSummary): void;
}

/** What one exchange reports when it is over. */
export interface ExchangeSummary {
  method: string;
  path: string;
  /** Status sent downstream, or 0 when none was (reset / client gone). */
  status: number;
  /** How it ended: "upstream", "local_reply", "wasm_fail_stream", "no_upstream", "reset: ...", ... */
  outcome: string;
  ms: number;
  /** Which instance (build) served it; 0 = none (bypassed because the plugin could not start). */
  generation: number;
}

type Pair = [string | Buffer, string | Buffer];

/** One direction as the proxy sees it. */
class Side {
  /** Bytes fed to the filter that it has not let go on yet (for fail-open and the buffer limit). */
  unpassed: Buffer[] = [];
  unpassedBytes = 0;
  fedHeaders: Pair[] | null = null;
  fedEnd = false;
  fedTrailers: Pair[] | null = null;
  passedHeaders = false;
  passedEnd = false;
  passTrailers: Array<[string, string]> | null = null;
  /** The filter is bypassed for the rest of this direction (fail-open after a failure). */
  direct = false;
  /** Nothing more of this direction goes anywhere (local reply, reset). */
  abandoned = false;
  /** Content-Length of the incoming message, if it has one. */
  expected: number | null = null;
  received = 0;

  hold(chunk: Buffer): void {
    this.unpassed.push(chunk);
    this.unpassedBytes += chunk.length;
  }
  drop(): void {
    this.unpassed = [];
    this.unpassedBytes = 0;
  }
}

let exchangeIds = 0;

export class Exchange implements InstanceMember {
  readonly id = ++exchangeIds;
  private stream: HttpStream | null = null;
  private readonly rq = new Side();
  private readonly rs = new Side();
  private up: http.ClientRequest | null = null;
  private upRes: http.IncomingMessage | null = null;
  private upStarted = 0;
  private upEnded = false;
  private upDeclared: number | null = null;
  private upWritten = 0;
  private upAborted = false;
  /** The upstream's response arrived completely. */
  private upResDone = false;
  private downDeclared: number | null = null;
  private downWritten = 0;
  /** The last chunk passed downstream, held to the end of this turn so the end (or the next chunk) goes in the same write. */
  private downHeld: Buffer | null = null;
  private status = 0;
  private outcome = "";
  private finished = false;
  private failureHandled = false;
  private localSeen = false;
  private routeTimer: NodeJS.Timeout | null = null;
  private readonly clientPauses = new Set<string>();
  private readonly upstreamPauses = new Set<string>();
  private readonly started = performance.now();
  private readonly method: string;
  private readonly isHead: boolean;
  /** The downstream request has a body (content-length > 0 or chunked). */
  private hasBody = false;

  constructor(
    private readonly env: ExchangeEnv,
    private readonly instance: Instance | null,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly connectionId: number,
  ) {
    this.method = req.method ?? "GET";
    this.isHead = this.method === "HEAD";
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
        this.env.logger.proxy(LogLevel.Error, `${(e as Error).message}; ${this.env.failOpen ? "passing the request through (--fail-open)" : "answering 503 (fail-closed)"}`);
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
        d.passTrailers = this.stream!.request.trailers;
        return;
      case "end":
        d.passedEnd = true;
        d.drop();
        this.upEnd(d.passTrailers ? d.passTrailers.map(([k, v]) => [k, textToLatin1(v)] as Pair) : null);
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
        this.downHead(this.stream!.response.headerPairsBytes);
        return;
      case "body":
        d.drop();
        this.unpauseUpstream("watermark");
        this.downWrite(chunk!);
        return;
      case "trailers":
        d.passTrailers = this.stream!.response.trailers;
        return;
      case "end":
        d.passedEnd = true;
        d.drop();
        this.downEnd(d.passTrailers ? d.passTrailers.map(([k, v]) => [k, textToLatin1(v)] as Pair) : null);
        return;
    }
  }

  // ------------------------------------------------------------------ upstream

  private openUpstream(pairs: ReadonlyArray<readonly [Buffer | string, Buffer | string]>): void {
    if (this.up || this.finished) return;
    const target = this.env.upstream;
    let method = "";
    let path = "";
    let authority: string | null = null;
    const headers: string[] = [];
    for (const [kb, vb] of pairs) {
      const k = typeof kb === "string" ? kb : kb.toString("latin1");
      const v = typeof vb === "string" ? vb : vb.toString("latin1");
      if (k.startsWith(":")) {
        if (k === ":method") method = v;
        else if (k === ":path") path = v;
        else if (k === ":authority") authority = v;
        continue;
      }
      if (k === "host" || HOP_BY_HOP.has(k)) continue;
      if (!isValidHeaderName(k) || !isValidHeaderValue(v)) {
        this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: dropped request header ${JSON.stringify(k)}: not a valid HTTP/1.1 header (name or value)`);
        continue;
      }
      if (k === "content-length") this.upDeclared = /^\d+$/.test(v) ? Number(v) : null;
      headers.push(k, v);
    }
    if (!method || !path) {
      this.instanceLater(() => this.proxyReply(503, "the filter removed the :method or :path pseudo-header, so the request cannot be sent upstream", "missing_required_header"));
      return;
    }
    if (!target) {
      this.instanceLater(() => this.proxyReply(503, "no upstream configured: start proxy-wasm-as run with --upstream http://HOST:PORT to forward requests the filter lets through", "no_upstream"));
      return;
    }
    headers.push("host", authority ?? target.url.host);
    // A body without content-length goes chunked. Node frames only POST, PUT and PATCH that way by
    // default, so say it for every method (a GET with a body is still a valid request).
    if (this.hasBody && this.upDeclared === null) headers.push("transfer-encoding", "chunked");
    const mod = target.tls ? https : http;
    let up: http.ClientRequest;
    try {
      up = mod.request({
        host: target.hostname,
        port: target.port,
        method,
        path,
        headers,
        setHost: false,
        agent: target.tls ? this.env.agents.https : this.env.agents.http,
        servername: target.tls ? target.hostname : undefined,
      } as https.RequestOptions);
    } catch (e) {
      const why = (e as Error).message;
      this.instanceLater(() => this.proxyReply(503, `upstream connect error or disconnect/reset before headers. reset reason: ${why}`, "upstream_reset_before_response_started"));
      return;
    }
    this.up = up;
    this.upStarted = performance.now();
    up.on("response", (r) => this.upstreamResponse(r));
    up.on("error", (e) => this.upstreamError(e));
    up.on("drain", () => this.unpauseClient("upstream"));
  }

  private upWrite(chunk: Buffer): void {
    const up = this.up;
    if (!up || this.upEnded || this.upAborted || chunk.length === 0) return;
    if (this.upDeclared !== null && this.upWritten + chunk.length > this.upDeclared) {
      this.requestLengthMismatch(this.upWritten + chunk.length);
      return;
    }
    this.upWritten += chunk.length;
    if (!up.write(chunk)) this.pauseClient("upstream");
  }

  private upEnd(trailers: Pair[] | null): void {
    const up = this.up;
    if (!up || this.upEnded || this.upAborted) return;
    if (this.upDeclared !== null && this.upWritten !== this.upDeclared) {
      this.requestLengthMismatch(this.upWritten);
      return;
    }
    this.upEnded = true;
    if (trailers && trailers.length > 0) {
      if (this.upDeclared === null) up.addTrailers(trailers.map(([k, v]) => [String(k), String(v)]) as never);
      else this.env.logger.proxy(LogLevel.Debug, `request ${this.id}: request trailers dropped (HTTP/1.1 sends trailers only with chunked encoding, and the request has content-length)`);
    }
    up.end();
    if (this.env.timeoutMs > 0 && !this.routeTimer) {
      this.routeTimer = setTimeout(() => this.routeTimeout(), this.env.timeoutMs);
    }
  }

  private requestLengthMismatch(actual: number): void {
    this.env.logger.proxy(
      LogLevel.Warn,
      `request ${this.id}: the request body going upstream is ${actual > this.upDeclared! ? "longer" : "shorter"} than its content-length: ${this.upDeclared}; a filter that changes the body must remove content-length in onHttpRequestHeaders (Envoy would send a broken request)`,
    );
    this.proxyReply(503, "upstream connect error or disconnect/reset before headers. reset reason: the request body did not match its content-length", "request_length_mismatch");
  }

  private abortUpstream(): void {
    this.clearRouteTimer();
    this.upAborted = true;
    if (this.up && !(this.upRes?.complete ?? false)) this.up.destroy();
    this.upRes?.destroy();
  }

  private upstreamResponse(r: http.IncomingMessage): void {
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
    this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: the upstream closed the connection in the middle of the response; resetting the downstream request like Envoy`);
    this.reset("upstream_reset_after_response_started");
  }

  private upstreamError(err: NodeJS.ErrnoException): void {
    if (this.finished || this.upAborted) return;
    if (this.upRes) {
      if (!this.upRes.complete) this.upstreamBroken();
      return;
    }
    const target = this.env.upstream!;
    this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: upstream ${target.display}: ${err.code ?? err.message}`);
    this.proxyReply(503, envoyConnectFailure(err), "upstream_reset_before_response_started");
  }

  private routeTimeout(): void {
    this.routeTimer = null;
    if (this.finished) return;
    this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: no complete upstream response within ${this.env.timeoutMs}ms (route timeout; change it with --timeout, 0 disables)`);
    if (!this.upRes) this.proxyReply(504, "upstream request timeout", "upstream_response_timeout");
    else this.reset("upstream_response_timeout");
  }

  private clearRouteTimer(): void {
    if (this.routeTimer) clearTimeout(this.routeTimer);
    this.routeTimer = null;
  }

  // ------------------------------------------------------------------ downstream response out

  private downHead(pairs: ReadonlyArray<readonly [Buffer | string, Buffer | string]>): void {
    const res = this.res;
    if (res.headersSent || this.finished) return;
    let status = 0;
    const headers: string[] = [];
    for (const [kb, vb] of pairs) {
      const k = typeof kb === "string" ? kb : kb.toString("latin1");
      const v = typeof vb === "string" ? vb : vb.toString("latin1");
      if (k.startsWith(":")) {
        if (k === ":status") status = /^\d{3}$/.test(v) ? Number(v) : 0;
        continue;
      }
      if (HOP_BY_HOP.has(k)) continue;
      if (!isValidHeaderName(k) || !isValidHeaderValue(v)) {
        this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: dropped response header ${JSON.stringify(k)}: not a valid HTTP/1.1 header (name or value)`);
        continue;
      }
      if (k === "content-length") this.downDeclared = /^\d+$/.test(v) ? Number(v) : null;
      headers.push(k, v);
    }
    if (status < 200) {
      this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: the response has no valid :status (${status || "missing"}); answering 502`);
      this.sendDirect(502, "the filter left the response without a valid :status", "invalid_status");
      return;
    }
    this.status = status;
    try {
      res.writeHead(status, headers);
    } catch (e) {
      this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: cannot send the response headers: ${(e as Error).message}`);
      this.reset("invalid_response_headers");
      return;
    }
    // Send the head as soon as it passed, unless body or end follow in the same turn (Node would
    // otherwise hold it until the first write; a paused body must not hold the headers back).
    queueMicrotask(() => {
      if (!this.finished && !res.writableEnded && this.downWritten === 0 && !res.destroyed) res.flushHeaders();
    });
  }

  private noBodyAllowed(): boolean {
    return this.isHead || this.status === 204 || this.status === 304;
  }

  private downWrite(chunk: Buffer): void {
    const res = this.res;
    if (this.finished || chunk.length === 0 || !res.headersSent || this.noBodyAllowed()) return;
    if (this.downDeclared !== null && this.downWritten + chunk.length > this.downDeclared) {
      this.responseLengthMismatch(this.downWritten + chunk.length);
      return;
    }
    this.downWritten += chunk.length;
    if (this.downHeld) this.flushHeld();
    this.downHeld = chunk;
    queueMicrotask(() => this.flushHeld());
  }

  private flushHeld(): void {
    const chunk = this.downHeld;
    if (!chunk) return;
    this.downHeld = null;
    const res = this.res;
    if (res.writableEnded || res.destroyed) return;
    if (!res.write(chunk)) {
      this.pauseUpstream("downstream");
      res.once("drain", () => this.unpauseUpstream("downstream"));
    }
  }

  private downEnd(trailers: Pair[] | null): void {
    const res = this.res;
    if (this.finished || !res.headersSent) return;
    if (!this.noBodyAllowed() && this.downDeclared !== null && this.downWritten !== this.downDeclared) {
      this.responseLengthMismatch(this.downWritten);
      return;
    }
    if (trailers && trailers.length > 0) {
      if (this.downDeclared === null && !this.noBodyAllowed()) res.addTrailers(trailers.map(([k, v]) => [String(k), String(v)]) as never);
      else this.env.logger.proxy(LogLevel.Debug, `request ${this.id}: response trailers dropped (HTTP/1.1 sends trailers only with chunked encoding, and the response has content-length)`);
    }
    const last = this.downHeld;
    this.downHeld = null;
    if (last) res.end(last);
    else res.end();
    const local = this.stream?.localResponse;
    this.finish(this.outcome || (local ? local.details || "local_reply" : "upstream"));
  }

  private responseLengthMismatch(actual: number): void {
    this.env.logger.proxy(
      LogLevel.Warn,
      `request ${this.id}: the response body is ${actual > this.downDeclared! ? "longer" : "shorter"} than its content-length: ${this.downDeclared}; a filter that changes the body must remove content-length in onHttpResponseHeaders (Envoy would send a broken response); resetting the connection`,
    );
    this.reset("response_length_mismatch");
  }

  /** A reply that does not go through the filter (failures, or when the filter is bypassed). */
  private sendDirect(status: number, body: string, outcome: string): void {
    const res = this.res;
    this.outcome = outcome;
    if (res.headersSent) {
      this.reset(outcome);
      return;
    }
    try {
      res.writeHead(status, ["content-length", String(Buffer.byteLength(body)), ...(body ? ["content-type", "text/plain"] : [])]);
      res.end(this.isHead ? undefined : body);
    } catch {
      res.destroy();
    }
    this.status = status;
    this.finish(outcome);
  }

  // ------------------------------------------------------------------ proxy replies, resets, the end

  /** Envoy's router answering itself (no upstream, connect failure, timeout): the filter sees it as the response. */
  private proxyReply(status: number, body: string, outcome: string): void {
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
    const pairs: Pair[] = [[":status", String(status)]];
    if (body) pairs.push(["content-length", String(Buffer.byteLength(body))], ["content-type", "text/plain"]);
    this.rs.fedHeaders = pairs;
    this.rs.fedEnd = true;
    this.feed(() => {
      stream.responseHeaders(pairs, !body);
      if (body && !stream.isComplete) stream.responseBody(Buffer.from(body), true);
    });
  }

  /** Ends the exchange abruptly: the client sees the connection close without a (complete) response. */
  private reset(outcome: string): void {
    if (this.finished) return;
    this.abortUpstream();
    if (!this.res.writableEnded) this.res.destroy();
    this.finish(`reset: ${outcome}`);
  }

  private downstreamGone(): void {
    if (this.finished) return;
    this.abortUpstream();
    this.finish(this.res.headersSent ? "downstream_remote_disconnect_after_response_started" : "downstream_remote_disconnect");
  }

  private finish(outcome: string): void {
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

  private instanceLater(fn: () => void): void {
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
    const local = stream.localResponse;
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
    this.env.logger.proxy(LogLevel.Warn, `request ${this.id}: the filter's VM failed; passing the rest of this request through unfiltered (--fail-open)`);
    this.outcome = "bypassed";
    const rq = this.rq;
    if (!rq.abandoned && !rq.passedEnd && !this.upAborted) {
      rq.direct = true;
      if (!rq.passedHeaders) this.openUpstream(stream.request.headerPairsBytes.length > 0 ? stream.request.headerPairsBytes : rq.fedHeaders!);
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

  private pauseClient(reason: string): void {
    this.clientPauses.add(reason);
    this.req.pause();
  }

  private unpauseClient(reason: string): void {
    if (!this.clientPauses.delete(reason)) return;
    if (this.clientPauses.size === 0) this.req.resume();
  }

  private pauseUpstream(reason: string): void {
    if (!this.upRes) return;
    this.upstreamPauses.add(reason);
    this.upRes.pause();
  }

  private unpauseUpstream(reason: string): void {
    if (!this.upstreamPauses.delete(reason)) return;
    if (this.upstreamPauses.size === 0) this.upRes?.resume();
  }
}

/** Envoy's view of an HTTP/1.1 request: pseudo-headers first, connection headers gone, its own headers added. */
export function requestPairs(req: http.IncomingMessage): Pair[] {
  let path = req.url ?? "/";
  let authority = req.headers.host ?? "";
  if (/^https?:\/\//i.test(path)) {
    // Absolute-form request line (a client using us as a forward proxy): Envoy splits it.
    try {
      const u = new URL(path);
      authority = u.host;
      path = u.pathname + u.search;
    } catch {
      // leave it as it is; the filter sees what came in
    }
  }
  const pairs: Pair[] = [
    [":authority", latin1(authority)],
    [":path", latin1(path)],
    [":method", req.method ?? "GET"],
    [":scheme", "http"],
  ];
  let hasProto = false;
  let hasId = false;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    const v = raw[i + 1];
    if (k === "host" || HOP_BY_HOP.has(k)) continue;
    // Envoy answers 100-continue itself and removes the header (proxy_100_continue: false).
    if (k === "expect" && v.toLowerCase() === "100-continue") continue;
    if (k === "te" && v.toLowerCase() !== "trailers") continue;
    if (k === "x-forwarded-proto") hasProto = true;
    if (k === "x-request-id") hasId = true;
    pairs.push([latin1(k), latin1(v)]);
  }
  if (!hasProto) pairs.push(["x-forwarded-proto", "http"]);
  if (!hasId) pairs.push(["x-request-id", randomUUID()]);
  return pairs;
}

function rawPairs(raw: string[]): Pair[] {
  const out: Pair[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([latin1(raw[i].toLowerCase()), latin1(raw[i + 1])]);
  return out;
}

/** Node decodes header bytes as latin1; the host reads strings as UTF-8, so non-ASCII goes as bytes. */
function latin1(s: string): string | Buffer {
  return ASCII.test(s) ? s : Buffer.from(s, "latin1");
}
