// Requests to a cluster's endpoints: HTTP/1.1 through a keep-alive agent, or HTTP/2 (prior knowledge,
// h2c) over one session per endpoint for clusters with http2_protocol_options. Trailers both ways.
import http from "node:http";
import http2 from "node:http2";
import type { ClusterConfig } from "../config/types.js";
import { HOP_BY_HOP, isValidHeaderName, isValidHeaderValue } from "../../run/wire.js";
import type { Pair } from "./pairs.js";

export interface UpstreamHandlers {
  headers(pairs: Pair[], eos: boolean): void;
  data(chunk: Buffer): void;
  /** The response ended, with its trailers (or none). */
  end(trailers: Pair[] | null): void;
  /** Failed: "connect" before a connection, "reset" after (before or after the response headers). */
  error(kind: "connect" | "reset", err: NodeJS.ErrnoException): void;
}

export interface UpstreamRequest {
  write(chunk: Buffer): void;
  end(trailers: Pair[] | null): void;
  abort(): void;
  /** host:port of the endpoint. */
  readonly endpoint: string;
}

/** A cluster's connections: endpoints taken in turn (round robin), sessions kept per endpoint. */
export class ClusterClient {
  private next = 0;
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();

  constructor(readonly config: ClusterConfig) {}

  private pick(): { host: string; port: number; key: string } {
    const e = this.config.endpoints[this.next++ % this.config.endpoints.length];
    const host = e.host.includes(":") ? `[${e.host}]` : e.host;
    return { host: e.host, port: e.port, key: `${host}:${e.port}` };
  }

  /** An HTTP/2 session to an endpoint, opened on first use and kept until it closes. */
  session(key: string): http2.ClientHttp2Session {
    let s = this.sessions.get(key);
    if (s && !s.closed && !s.destroyed) return s;
    s = http2.connect(`http://${key}`);
    const mine = s;
    const drop = () => {
      if (this.sessions.get(key) === mine) this.sessions.delete(key);
    };
    s.on("error", drop);
    s.on("close", drop);
    s.on("goaway", drop);
    this.sessions.set(key, s);
    return s;
  }

  /** Any endpoint's session (for gRPC callouts). */
  anySession(): { session: http2.ClientHttp2Session; endpoint: string } {
    const e = this.pick();
    return { session: this.session(e.key), endpoint: e.key };
  }

  request(headers: readonly Pair[], eos: boolean, h: UpstreamHandlers): UpstreamRequest {
    const e = this.pick();
    return this.config.http2 ? this.h2(e.key, headers, eos, h) : this.h1(e, headers, eos, h);
  }

  private h1(e: { host: string; port: number; key: string }, pairs: readonly Pair[], eos: boolean, h: UpstreamHandlers): UpstreamRequest {
    let method = "GET";
    let path = "/";
    let authority = e.key;
    const headers: string[] = [];
    for (const [k, v] of pairs) {
      if (k === ":method") method = v;
      else if (k === ":path") path = v;
      else if (k === ":authority") authority = v;
      else if (k.startsWith(":") || k === "host" || HOP_BY_HOP.has(k)) continue;
      else if (isValidHeaderName(k) && isValidHeaderValue(v)) headers.push(k, v);
    }
    headers.push("host", authority);
    const hasLength = pairs.some(([k]) => k === "content-length");
    if (!eos && !hasLength) headers.push("transfer-encoding", "chunked");
    let done = false;
    let connected = false;
    const req = http.request({ host: e.host, port: e.port, method, path, headers, agent: this.agent, setHost: false });
    const connectTimer = setTimeout(() => {
      if (!connected) req.destroy(Object.assign(new Error("connection timeout"), { code: "ETIMEDOUT" }));
    }, this.config.connectTimeoutMs);
    req.on("socket", (s) => {
      if (!s.connecting) {
        connected = true;
        clearTimeout(connectTimer);
      } else
        s.once("connect", () => {
          connected = true;
          clearTimeout(connectTimer);
        });
    });
    req.on("response", (res) => {
      const out: Pair[] = [[":status", String(res.statusCode ?? 502)]];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
        const k = res.rawHeaders[i].toLowerCase();
        if (!HOP_BY_HOP.has(k)) out.push([k, res.rawHeaders[i + 1]]);
      }
      const noBody = method === "HEAD" || res.statusCode === 204 || res.statusCode === 304 || res.headers["content-length"] === "0";
      h.headers(out, noBody);
      res.on("data", (c: Buffer) => h.data(c));
      res.on("end", () => {
        done = true;
        if (noBody) return;
        const t: Pair[] = [];
        for (let i = 0; i + 1 < res.rawTrailers.length; i += 2) t.push([res.rawTrailers[i].toLowerCase(), res.rawTrailers[i + 1]]);
        h.end(t.length > 0 ? t : null);
      });
      res.on("error", (err) => {
        if (!done) h.error("reset", err);
        done = true;
      });
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (done) return;
      done = true;
      h.error(connected ? "reset" : "connect", err);
    });
    req.on("close", () => clearTimeout(connectTimer));
    if (eos) req.end();
    return {
      endpoint: e.key,
      write: (c) => void req.write(c),
      end: (t) => {
        if (t && t.length > 0) req.addTrailers(t.filter(([k, v]) => isValidHeaderName(k) && isValidHeaderValue(v)));
        req.end();
      },
      abort: () => {
        if (done) return;
        done = true;
        req.destroy();
      },
    };
  }

  private h2(key: string, pairs: readonly Pair[], eos: boolean, h: UpstreamHandlers): UpstreamRequest {
    const session = this.session(key);
    const headers: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of pairs) {
      if (k === "host" || HOP_BY_HOP.has(k) || (k === "te" && v !== "trailers")) continue;
      const prev = headers[k];
      headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
    }
    if (headers[":scheme"] === undefined) headers[":scheme"] = "http";
    let done = false;
    let trailersOut: Pair[] | null = null;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: eos, waitForTrailers: !eos });
    } catch (err) {
      setImmediate(() => h.error("connect", err as NodeJS.ErrnoException));
      return { endpoint: key, write() {}, end() {}, abort() {} };
    }
    const connectTimer = session.connecting
      ? setTimeout(() => {
          if (session.connecting) session.destroy(Object.assign(new Error("connection timeout"), { code: "ETIMEDOUT" }));
        }, this.config.connectTimeoutMs)
      : null;
    session.once("connect", () => connectTimer && clearTimeout(connectTimer));
    stream.on("wantTrailers", () => {
      const obj: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of trailersOut ?? []) obj[k] = v;
      stream.sendTrailers(obj);
    });
    let endStreamOnHeaders = false;
    stream.on("response", (hs, flags) => {
      const out: Pair[] = [];
      for (const [k, v] of Object.entries(hs)) {
        if (v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) out.push([k, String(one)]);
      }
      out.sort((a, b) => (a[0] === ":status" ? -1 : b[0] === ":status" ? 1 : 0));
      endStreamOnHeaders = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      h.headers(out, endStreamOnHeaders);
      if (endStreamOnHeaders) done = true;
    });
    let trailersIn: Pair[] | null = null;
    stream.on("trailers", (hs) => {
      trailersIn = [];
      for (const [k, v] of Object.entries(hs))
        if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) trailersIn.push([k, String(one)]);
    });
    stream.on("data", (c: Buffer) => h.data(c));
    stream.on("end", () => {
      if (done) return;
      done = true;
      h.end(trailersIn);
    });
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (connectTimer) clearTimeout(connectTimer);
      if (done) return;
      done = true;
      h.error(session.connecting || err.code === "ECONNREFUSED" ? "connect" : "reset", err);
    });
    stream.on("close", () => {
      if (connectTimer) clearTimeout(connectTimer);
      if (done) return;
      done = true;
      h.error("reset", Object.assign(new Error(`stream closed with code ${stream.rstCode}`), { code: "ECONNRESET" }));
    });
    return {
      endpoint: key,
      write: (c) => void stream.write(c),
      end: (t) => {
        trailersOut = t;
        stream.end();
      },
      abort: () => {
        if (done) return;
        done = true;
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  close(): void {
    this.agent.destroy();
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}
