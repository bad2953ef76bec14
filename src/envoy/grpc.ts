// proxy_grpc_call and proxy_grpc_stream over real HTTP/2 to the cluster the plugin named, as Envoy's
// gRPC AsyncClient does: POST /<service>/<method> with :authority the cluster name, messages framed
// with the 5-byte gRPC prefix, status from grpc-status (trailers, or headers for a trailers-only
// reply). A unary call answers with its message (proxy_on_grpc_receive) or a close with the status;
// a stream gets initial metadata, messages, trailing metadata, then the close.
import http2 from "node:http2";
import { LogLevel } from "../abi.js";
import type { GrpcCallout } from "../host/index.js";
import type { GrpcHandle } from "../run/instance.js";
import type { Logger } from "../run/log.js";
import type { ClusterClient } from "./http/upstream.js";

const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;
const INTERNAL = 13;
const UNIMPLEMENTED = 12;

/** gRPC's mapping of an HTTP status (when the server is not answering gRPC). */
function statusFromHttp(s: number): number {
  if (s === 400) return INTERNAL;
  if (s === 401) return 16;
  if (s === 403) return 7;
  if (s === 404) return UNIMPLEMENTED;
  if (s === 429 || s === 502 || s === 503 || s === 504) return UNAVAILABLE;
  return 2;
}

function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

function metadataPairs(h: http2.IncomingHttpHeaders): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, String(one)]);
  }
  return out;
}

export class GrpcCallouts {
  constructor(
    private readonly clusters: ReadonlyMap<string, ClusterClient>,
    private readonly logger: Logger,
  ) {}

  /** Starts `g`; answers go through `deliver` (a later call into the host). */
  start(g: GrpcCallout, deliver: (fn: () => void) => void): GrpcHandle {
    const cluster = this.clusters.get(g.upstream);
    let over = false;
    const finish = (status: number, message: string) => {
      if (over) return;
      over = true;
      if (timer) clearTimeout(timer);
      deliver(() => g.pending && g.close(status, message));
    };
    let timer: NodeJS.Timeout | null = null;
    if (!cluster) {
      finish(UNAVAILABLE, `unknown cluster ${g.upstream}`);
      return { cancel() {}, sync() {} };
    }
    if (!cluster.config.http2) {
      this.logger.proxy(
        LogLevel.Warn,
        `gRPC call to cluster ${g.upstream}: the cluster has no http2_protocol_options; sending HTTP/2 anyway (Envoy would fail the call)`,
      );
    }
    const { session } = cluster.anySession();
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": `/${g.service}/${g.method}`,
      ":authority": g.upstream,
      ":scheme": "http",
      "content-type": "application/grpc",
      te: "trailers",
    };
    for (const [k, v] of g.metadata) {
      if (k.startsWith(":")) continue;
      const prev = headers[k];
      headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
    }
    if (g.timeoutMs > 0) headers["grpc-timeout"] = `${g.timeoutMs}m`;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: false });
    } catch (e) {
      finish(UNAVAILABLE, (e as Error).message);
      return { cancel() {}, sync() {} };
    }
    if (g.timeoutMs > 0) {
      timer = setTimeout(() => {
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
        finish(DEADLINE_EXCEEDED, "Deadline Exceeded");
      }, g.timeoutMs);
    }
    let sentCount = 0;
    let halfClosed = false;
    const sync = () => {
      if (over) return;
      if (g.cancelled) {
        // No callback after a cancel (Envoy resets the stream quietly).
        over = true;
        if (timer) clearTimeout(timer);
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      while (sentCount < g.sent.length) stream.write(frame(g.sent[sentCount++]));
      if (g.localClosed && !halfClosed) {
        halfClosed = true;
        stream.end();
      }
    };
    if (g.kind === "call") {
      stream.end(frame(g.message ?? Buffer.alloc(0)));
      halfClosed = true;
    } else sync();

    let httpStatus = 0;
    let buffered: Buffer = Buffer.alloc(0);
    let firstMessage: Buffer | null = null;
    const statusOf = (h: http2.IncomingHttpHeaders): [number, string] | null => {
      const s = h["grpc-status"];
      if (s === undefined) return null;
      const m = h["grpc-message"];
      let text = Array.isArray(m) ? m[0] : (m ?? "");
      try {
        text = decodeURIComponent(text);
      } catch {
        // keep the raw text
      }
      return [Number(Array.isArray(s) ? s[0] : s) >>> 0, text];
    };
    const closeWith = (st: [number, string]) => {
      if (g.kind === "call" && st[0] === 0) {
        if (firstMessage) {
          over = true;
          if (timer) clearTimeout(timer);
          const m = firstMessage;
          deliver(() => g.pending && g.respond(m));
        } else finish(INTERNAL, "the server sent no message");
        return;
      }
      finish(st[0], st[1]);
    };
    stream.on("response", (h, flags) => {
      httpStatus = Number(h[":status"] ?? 0);
      if (httpStatus !== 200) {
        finish(statusFromHttp(httpStatus), `HTTP status ${httpStatus}`);
        return;
      }
      const endsHere = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      const st = statusOf(h);
      if (endsHere && st) {
        // Trailers-only reply: the status is in the headers.
        if (g.kind === "stream") deliver(() => g.pending && g.receiveTrailingMetadata(metadataPairs(h)));
        closeWith(st);
        return;
      }
      if (g.kind === "stream") {
        const md = metadataPairs(h);
        deliver(() => g.pending && !g.cancelled && g.receiveInitialMetadata(md));
      }
    });
    stream.on("data", (c: Buffer) => {
      if (over) return;
      buffered = buffered.length ? Buffer.concat([buffered, c]) : c;
      while (buffered.length >= 5) {
        const len = buffered.readUInt32BE(1);
        if (buffered.length < 5 + len) break;
        if (buffered[0] !== 0) {
          finish(INTERNAL, "compressed gRPC messages are not supported");
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        const msg = Buffer.from(buffered.subarray(5, 5 + len));
        buffered = buffered.subarray(5 + len);
        if (g.kind === "call") firstMessage ??= msg;
        else deliver(() => g.pending && !g.cancelled && g.receive(msg));
      }
    });
    stream.on("trailers", (h) => {
      if (over) return;
      if (g.kind === "stream") {
        const md = metadataPairs(h);
        deliver(() => g.pending && !g.cancelled && g.receiveTrailingMetadata(md));
      }
      closeWith(statusOf(h) ?? [INTERNAL, "the server sent no grpc-status"]);
    });
    stream.on("end", () => {
      if (!over) finish(httpStatus === 200 ? INTERNAL : UNAVAILABLE, "the stream ended without a status");
    });
    stream.on("error", (e: NodeJS.ErrnoException) => finish(UNAVAILABLE, e.message));
    stream.on("close", () => {
      if (!over) finish(UNAVAILABLE, `the stream was reset (code ${stream.rstCode})`);
    });
    return {
      sync,
      cancel: () => {
        over = true;
        if (timer) clearTimeout(timer);
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }
}
