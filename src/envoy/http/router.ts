// envoy.filters.http.router: picks the route with the headers the filters left (so a filter that
// changes :authority or :path changes the route, as Envoy's cleared route cache does), answers
// direct_response routes, or forwards to the route's cluster with the route timeout.
import { LogLevel } from "../../abi.js";
import type { Logger } from "../../run/log.js";
import { envoyConnectFailure } from "../../run/wire.js";
import type { FormatContext } from "../format.js";
import { getJoined, set, type Pair } from "./pairs.js";
import type { RouteMatch, RouteTable } from "./routes.js";
import type { ClusterClient, UpstreamRequest } from "./upstream.js";

/** One piece of a message moving through the exchange: headers, a body chunk or trailers. */
export type Event =
  | { what: "headers"; pairs: Pair[]; eos: boolean }
  | { what: "body"; chunk: Buffer; eos: boolean }
  | { what: "trailers"; pairs: Pair[] };

/** What the router needs of its exchange (HttpExchange in exchange.ts), kept here so neither file imports the other's module. */
export interface RouterExchange {
  readonly status: number;
  readonly flags: string;
  details: string;
  readonly startTime: Date;
  readonly protocol: string;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly durationMs: number;
  readonly remoteAddress: string;
  readonly localAddress: string;
  filterState(key: string): string | undefined;
  routerReply(status: number, body: string, details: string, flags: string): void;
}

export interface RouterEnv {
  routes: RouteTable;
  clusters: ReadonlyMap<string, ClusterClient>;
  logger: Logger;
}

export class Router {
  clusterName = "";
  endpoint = "";
  routeName = "";
  /** The request headers reached the router; forwardedHeaders are the ones sent on (after route edits). */
  requestSeen = false;
  forwardedHeaders: Pair[] = [];
  private match: RouteMatch | null = null;
  private upstream: UpstreamRequest | null = null;
  private requestHeaders: Pair[] = [];
  private timer: NodeJS.Timeout | null = null;
  private upStarted = 0;
  private done = false;
  private responseStarted = false;
  private directed = false;

  constructor(
    private readonly env: RouterEnv,
    private readonly x: RouterExchange,
    private readonly respond: (ev: Event) => void,
  ) {}

  private context(response: Pair[] = []): FormatContext {
    const x = this.x;
    return {
      req: (n) => getJoined(this.requestHeaders, n),
      resp: (n) => getJoined(response, n),
      status: x.status,
      flags: x.flags,
      details: x.details,
      startTime: x.startTime,
      protocol: x.protocol,
      bytesReceived: x.bytesReceived,
      bytesSent: x.bytesSent,
      durationMs: x.durationMs,
      upstreamHost: this.endpoint,
      cluster: this.clusterName,
      routeName: this.routeName,
      remoteAddress: x.remoteAddress,
      localAddress: x.localAddress,
      filterState: (k) => x.filterState(k),
    };
  }

  private editResponse(pairs: Pair[]): Pair[] {
    let out = pairs;
    if (this.match) for (const e of this.match.responseEdits) if (!e.empty) out = e.apply(out, this.context(out));
    return out;
  }

  request(ev: Event): void {
    if (this.done) return;
    if (ev.what === "headers") return this.headers(ev.pairs, ev.eos);
    if (this.directed || !this.upstream) return;
    if (ev.what === "body") {
      if (ev.chunk.length > 0) this.upstream.write(ev.chunk);
      if (ev.eos) this.endRequest(null);
    } else this.endRequest(ev.pairs);
  }

  private headers(pairs: Pair[], eos: boolean): void {
    this.requestHeaders = pairs;
    this.requestSeen = true;
    this.forwardedHeaders = pairs;
    const m = this.env.routes.match(pairs);
    if (!m) {
      this.directed = true;
      this.x.routerReply(404, "", "route_not_found", "NR");
      return;
    }
    this.match = m;
    this.routeName = m.route.config.action.kind === "cluster" ? m.route.config.action.cluster : "";
    const action = m.route.config.action;
    if (action.kind === "direct") {
      this.directed = true;
      this.x.details = "direct_response";
      const body = action.body ?? Buffer.alloc(0);
      let out: Pair[] = [[":status", String(action.status)]];
      if (body.length > 0) out.push(["content-length", String(body.length)], ["content-type", "text/plain"]);
      out = this.editResponse(out);
      this.respond({ what: "headers", pairs: out, eos: body.length === 0 });
      if (body.length > 0) this.respond({ what: "body", chunk: body, eos: true });
      return;
    }
    const cluster = this.env.clusters.get(action.cluster)!;
    this.clusterName = action.cluster;
    let out = pairs;
    for (const e of m.requestEdits) if (!e.empty) out = e.apply(out, this.context());
    if (action.prefixRewrite !== null && m.route.config.match.prefix !== undefined) {
      const path = getJoined(out, ":path") ?? "/";
      out = set(out, ":path", action.prefixRewrite + path.slice(m.route.config.match.prefix.length));
    }
    out = out.filter(([k]) => k !== "x-envoy-expected-rq-timeout-ms");
    this.forwardedHeaders = out;
    this.upStarted = performance.now();
    this.upstream = cluster.request(out, eos, {
      headers: (resp, respEos) => this.responseHeaders(resp, respEos),
      data: (c) => !this.done && this.respond({ what: "body", chunk: c, eos: false }),
      end: (t) => this.responseEnd(t),
      error: (kind, err) => this.failed(kind, err),
    });
    this.endpoint = this.upstream.endpoint;
    if (eos) this.startTimer(action.timeoutMs);
  }

  private endRequest(trailers: Pair[] | null): void {
    this.upstream!.end(trailers);
    const a = this.match?.route.config.action;
    if (a?.kind === "cluster") this.startTimer(a.timeoutMs);
  }

  /** Envoy's route timeout runs from the end of the request to the end of the response. */
  private startTimer(ms: number): void {
    if (ms <= 0 || this.timer) return;
    this.timer = setTimeout(() => {
      if (this.done) return;
      this.env.logger.proxy(LogLevel.Debug, `upstream request timeout after ${ms}ms (cluster ${this.clusterName})`);
      this.abort();
      this.x.routerReply(504, "upstream request timeout", "upstream_response_timeout", "UT");
    }, ms);
  }

  private responseHeaders(pairs: Pair[], eos: boolean): void {
    if (this.done) return;
    this.responseStarted = true;
    let out = pairs.filter(([k]) => k !== "x-envoy-upstream-service-time");
    out.push(["x-envoy-upstream-service-time", String(Math.round(performance.now() - this.upStarted))]);
    out = this.editResponse(out);
    if (eos) this.finishUp();
    this.respond({ what: "headers", pairs: out, eos });
  }

  private responseEnd(trailers: Pair[] | null): void {
    if (this.done) return;
    this.finishUp();
    this.respond(trailers ? { what: "trailers", pairs: trailers } : { what: "body", chunk: Buffer.alloc(0), eos: true });
  }

  private failed(kind: "connect" | "reset", err: NodeJS.ErrnoException): void {
    if (this.done) return;
    this.finishUp();
    if (this.responseStarted) {
      this.x.routerReply(502, "", "upstream_reset_after_response_started", "UR");
      return;
    }
    const timeout = err.code === "ETIMEDOUT" && kind === "connect";
    const body = timeout
      ? "upstream connect error or disconnect/reset before headers. reset reason: connection timeout"
      : envoyConnectFailure(err);
    this.x.routerReply(
      503,
      body,
      kind === "connect" ? "upstream_reset_before_response_started{connection_failure}" : "upstream_reset_before_response_started",
      kind === "connect" ? "UF" : "UR",
    );
  }

  private finishUp(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Stops the upstream request (a filter replied locally, the client left, a timeout). */
  abort(): void {
    if (this.done && !this.upstream) return;
    this.finishUp();
    const up = this.upstream;
    this.upstream = null;
    up?.abort();
  }
}
