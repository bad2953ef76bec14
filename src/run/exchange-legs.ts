// The two HTTP/1.1 legs of one request through the proxy (exchange.ts): the request going upstream
// and the response going downstream, with their framing (content-length, chunked trailers),
// backpressure (who is paused and why), the route timeout and the replies that bypass the filter.
// Exchange extends it with the filter in the middle.
import http from "node:http";
import https from "node:https";
import { LogLevel } from "../abi.js";
import type { Logger } from "./log.js";
import type { Target } from "./options.js";
import { HOP_BY_HOP, isValidHeaderName, isValidHeaderValue, type Pair } from "./wire.js";
import { HeaderMap } from "../host/headers.js";
import { prepareLocalReply, type PreparedLocalReply } from "../host/local-reply.js";

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

/** One direction as the proxy sees it. */
export class Side {
  /** Bytes fed to the filter that it has not let go on yet (for fail-open and the buffer limit). */
  unpassed: Buffer[] = [];
  unpassedBytes = 0;
  fedHeaders: Pair[] | null = null;
  fedEnd = false;
  fedTrailers: Pair[] | null = null;
  passedHeaders = false;
  passedEnd = false;
  passTrailers: Array<[Buffer, Buffer]> | null = null;
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

export abstract class ExchangeLegs {
  readonly id = ++exchangeIds;
  protected up: http.ClientRequest | null = null;
  protected upRes: http.IncomingMessage | null = null;
  protected upStarted = 0;
  protected upEnded = false;
  protected upDeclared: number | null = null;
  protected upWritten = 0;
  protected upAborted = false;
  /** The upstream's response arrived completely. */
  protected upResDone = false;
  protected downDeclared: number | null = null;
  protected downWritten = 0;
  /** The last chunk passed downstream, held to the end of this turn so the end (or the next chunk) goes in the same write. */
  protected downHeld: Buffer | null = null;
  protected status = 0;
  protected outcome = "";
  protected finished = false;
  protected routeTimer: NodeJS.Timeout | null = null;
  protected readonly clientPauses = new Set<string>();
  protected readonly upstreamPauses = new Set<string>();
  readonly method: string;
  protected readonly isHead: boolean;
  /** The downstream request has a body (content-length > 0 or chunked). */
  protected hasBody = false;

  // ------------------------------------------------------------------ upstream

  protected openUpstream(pairs: ReadonlyArray<readonly [Buffer | string, Buffer | string]>): void {
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
        this.env.logger.proxy(
          LogLevel.Warn,
          `request ${this.id}: dropped request header ${JSON.stringify(k)}: not a valid HTTP/1.1 header (name or value)`,
        );
        continue;
      }
      if (k === "content-length") this.upDeclared = /^\d+$/.test(v) ? Number(v) : null;
      headers.push(k, v);
    }
    if (!method || !path) {
      this.instanceLater(() =>
        this.proxyReply(
          503,
          "the filter removed the :method or :path pseudo-header, so the request cannot be sent upstream",
          "missing_required_header",
        ),
      );
      return;
    }
    if (!target) {
      this.instanceLater(() =>
        this.proxyReply(
          503,
          "no upstream configured: start proxy-wasm-as run with --upstream http://HOST:PORT to forward requests the filter lets through",
          "no_upstream",
        ),
      );
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
      this.instanceLater(() =>
        this.proxyReply(
          503,
          `upstream connect error or disconnect/reset before headers. reset reason: ${why}`,
          "upstream_reset_before_response_started",
        ),
      );
      return;
    }
    this.up = up;
    this.upStarted = performance.now();
    up.on("response", (r) => this.upstreamResponse(r));
    up.on("error", (e) => this.upstreamError(e));
    up.on("drain", () => this.unpauseClient("upstream"));
  }

  protected upWrite(chunk: Buffer): void {
    const up = this.up;
    if (!up || this.upEnded || this.upAborted || chunk.length === 0) return;
    if (this.upDeclared !== null && this.upWritten + chunk.length > this.upDeclared) {
      this.requestLengthMismatch(this.upWritten + chunk.length);
      return;
    }
    this.upWritten += chunk.length;
    if (!up.write(chunk)) this.pauseClient("upstream");
  }

  protected upEnd(trailers: Pair[] | null): void {
    const up = this.up;
    if (!up || this.upEnded || this.upAborted) return;
    if (this.upDeclared !== null && this.upWritten !== this.upDeclared) {
      this.requestLengthMismatch(this.upWritten);
      return;
    }
    this.upEnded = true;
    if (trailers && trailers.length > 0) {
      if (this.upDeclared === null) up.addTrailers(byteExact(trailers) as never);
      else
        this.env.logger.proxy(
          LogLevel.Debug,
          `request ${this.id}: request trailers dropped (HTTP/1.1 sends trailers only with chunked encoding, and the request has content-length)`,
        );
    }
    up.end();
    if (this.env.timeoutMs > 0 && !this.routeTimer) {
      this.routeTimer = setTimeout(() => this.routeTimeout(), this.env.timeoutMs);
    }
  }

  protected requestLengthMismatch(actual: number): void {
    this.env.logger.proxy(
      LogLevel.Warn,
      `request ${this.id}: the request body going upstream is ${actual > this.upDeclared! ? "longer" : "shorter"} than its content-length: ${this.upDeclared}; a filter that changes the body must remove content-length in onHttpRequestHeaders (Envoy would send a broken request)`,
    );
    this.proxyReply(
      503,
      "upstream connect error or disconnect/reset before headers. reset reason: the request body did not match its content-length",
      "request_length_mismatch",
    );
  }

  protected abortUpstream(): void {
    this.clearRouteTimer();
    this.upAborted = true;
    if (this.up && !(this.upRes?.complete ?? false)) this.up.destroy();
    this.upRes?.destroy();
  }

  protected routeTimeout(): void {
    this.routeTimer = null;
    if (this.finished) return;
    this.env.logger.proxy(
      LogLevel.Warn,
      `request ${this.id}: no complete upstream response within ${this.env.timeoutMs}ms (route timeout; change it with --timeout, 0 disables)`,
    );
    if (!this.upRes) this.proxyReply(504, "upstream request timeout", "upstream_response_timeout");
    else this.reset("upstream_response_timeout");
  }

  protected clearRouteTimer(): void {
    if (this.routeTimer) clearTimeout(this.routeTimer);
    this.routeTimer = null;
  }

  // ------------------------------------------------------------------ downstream response out

  protected downHead(pairs: ReadonlyArray<readonly [Buffer | string, Buffer | string]>): void {
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
        this.env.logger.proxy(
          LogLevel.Warn,
          `request ${this.id}: dropped response header ${JSON.stringify(k)}: not a valid HTTP/1.1 header (name or value)`,
        );
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

  /** How Envoy encodes a reply of its own (local-reply.ts) for this request. */
  protected envoyReply(status: number, body: string, grpcStatus: number): PreparedLocalReply {
    return prepareLocalReply(status, new HeaderMap(), Buffer.from(body), grpcStatus, {
      contentType: this.req.headers["content-type"],
      method: this.method,
    });
  }

  protected noBodyAllowed(): boolean {
    return this.isHead || this.status === 204 || this.status === 304;
  }

  protected downWrite(chunk: Buffer): void {
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

  protected flushHeld(): void {
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

  protected downEnd(trailers: Pair[] | null): void {
    const res = this.res;
    if (this.finished || !res.headersSent) return;
    if (!this.noBodyAllowed() && this.downDeclared !== null && this.downWritten !== this.downDeclared) {
      this.responseLengthMismatch(this.downWritten);
      return;
    }
    if (trailers && trailers.length > 0) {
      if (this.downDeclared === null && !this.noBodyAllowed()) res.addTrailers(byteExact(trailers) as never);
      else
        this.env.logger.proxy(
          LogLevel.Debug,
          `request ${this.id}: response trailers dropped (HTTP/1.1 sends trailers only with chunked encoding, and the response has content-length)`,
        );
    }
    const last = this.downHeld;
    this.downHeld = null;
    if (last) res.end(last);
    else res.end();
    this.finish(this.outcome || this.endOutcome());
  }

  protected responseLengthMismatch(actual: number): void {
    this.env.logger.proxy(
      LogLevel.Warn,
      `request ${this.id}: the response body is ${actual > this.downDeclared! ? "longer" : "shorter"} than its content-length: ${this.downDeclared}; a filter that changes the body must remove content-length in onHttpResponseHeaders (Envoy would send a broken response); resetting the connection`,
    );
    this.reset("response_length_mismatch");
  }

  /** A reply that does not go through the filter (failures, or when the filter is bypassed). */
  protected sendDirect(status: number, body: string, outcome: string): void {
    const res = this.res;
    this.outcome = outcome;
    if (res.headersSent) {
      this.reset(outcome);
      return;
    }
    // Envoy's local reply: a gRPC request gets a trailers-only answer (a failed VM's 503 is UNAVAILABLE).
    const reply = this.envoyReply(status, body, outcome === "wasm_fail_stream" ? 14 : -1);
    status = Number(reply.headers.get(":status"));
    const flat: string[] = [];
    for (let i = 1; i < reply.headers.keys.length; i++) flat.push(reply.headers.keys[i], reply.headers.values[i]);
    try {
      res.writeHead(status, flat);
      res.end(reply.body.length > 0 ? reply.body : undefined);
    } catch {
      res.destroy();
    }
    this.status = status;
    this.finish(outcome);
  }

  /** Ends the exchange abruptly: the client sees the connection close without a (complete) response. */
  protected reset(outcome: string): void {
    if (this.finished) return;
    this.abortUpstream();
    if (!this.res.writableEnded) this.res.destroy();
    this.finish(`reset: ${outcome}`);
  }

  protected pauseClient(reason: string): void {
    this.clientPauses.add(reason);
    this.req.pause();
  }

  protected unpauseClient(reason: string): void {
    if (!this.clientPauses.delete(reason)) return;
    if (this.clientPauses.size === 0) this.req.resume();
  }

  protected pauseUpstream(reason: string): void {
    if (!this.upRes) return;
    this.upstreamPauses.add(reason);
    this.upRes.pause();
  }

  protected unpauseUpstream(reason: string): void {
    if (!this.upstreamPauses.delete(reason)) return;
    if (this.upstreamPauses.size === 0) this.upRes?.resume();
  }

  constructor(
    protected readonly env: ExchangeEnv,
    protected readonly req: http.IncomingMessage,
    protected readonly res: http.ServerResponse,
  ) {
    this.method = req.method ?? "GET";
    this.isHead = this.method === "HEAD";
  }

  /** Envoy's router answering itself (no upstream, connect failure, timeout). */
  protected abstract proxyReply(status: number, body: string, outcome: string): void;
  /** The exchange is over: reported once with how it ended. */
  protected abstract finish(outcome: string): void;
  /** How a response that ended normally ended ("upstream", or the local reply's details). */
  protected abstract endOutcome(): string;
  protected abstract upstreamResponse(r: http.IncomingMessage): void;
  protected abstract upstreamError(err: NodeJS.ErrnoException): void;
  /** Runs fn on a later turn, after the host call in progress (if any). */
  protected abstract instanceLater(fn: () => void): void;
}

/** Pairs as the latin1 strings Node writes byte for byte (String(buffer) would decode UTF-8 and turn invalid bytes into U+FFFD). */
function byteExact(pairs: Pair[]): Array<[string, string]> {
  return pairs.map(([k, v]) => [typeof k === "string" ? k : k.toString("latin1"), typeof v === "string" ? v : v.toString("latin1")]);
}
