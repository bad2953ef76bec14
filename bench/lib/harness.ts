// Drives requests through the Envoy-like host the way Envoy does, and measures: time per request
// (several modules interleaved, median of rounds), host calls per request, and guest memory over a
// long run.
import { createHost, type Host } from "../../src/host/index.js";
import { median } from "./stats.js";

/** Request headers of every benchmark request (what Envoy hands a filter for `GET /hello?x=1`). */
export const REQUEST_HEADERS: Array<[string, string]> = [
  [":authority", "example.com"],
  [":path", "/hello?x=1"],
  [":method", "GET"],
  [":scheme", "http"],
];
export const RESPONSE_HEADERS: Array<[string, string]> = [
  [":status", "200"],
  ["content-type", "text/plain"],
];

export type RequestKind = "http" | "tcp";

/** An HTTP filter gets HTTP requests; a module with only network-filter callbacks gets TCP connections. */
export function requestKind(wasm: Uint8Array): RequestKind {
  const names = WebAssembly.Module.exports(new WebAssembly.Module(new Uint8Array(wasm))).map((e) => e.name);
  const http = names.some((n) => /^proxy_on_(request|response)_/.test(n));
  const tcp = names.some((n) => /^proxy_on_(new_connection|downstream_|upstream_)/.test(n));
  return tcp && !http ? "tcp" : "http";
}

/** Answers the callouts the filter made (HTTP: 200, empty body; gRPC: closed with OK). */
function answerCallouts(host: Host): void {
  if (host.httpCalls.length > 0) for (const c of [...host.httpCalls]) if (c.pending) c.respond({ headers: [[":status", "200"]] });
  if (host.grpcCalls.length > 0) for (const c of [...host.grpcCalls]) c.close(0);
}

/**
 * One request as Envoy drives it: context create, request headers (end of stream), response headers
 * unless the filter answered locally (then Envoy already ran the local reply through the response
 * callbacks), then done, log, delete. Callouts the filter makes are answered at once (HTTP 200, gRPC
 * OK). For a TCP filter: a connection with one chunk each way.
 */
export function driver(host: Host, kind: RequestKind): () => void {
  if (kind === "tcp") {
    return () => {
      const c = host.tcpConnection();
      c.downstreamData("ping\n", false);
      answerCallouts(host);
      c.upstreamData("pong\n", false);
      c.complete();
    };
  }
  return () => {
    const s = host.httpStream();
    s.requestHeaders(REQUEST_HEADERS, true);
    answerCallouts(host);
    if (!s.sentHttpResponse) s.responseHeaders(RESPONSE_HEADERS, true);
    s.complete();
  };
}

export interface Subject {
  label: string;
  wasm: Uint8Array;
  pluginConfig?: string;
  rootId?: string;
}

export interface Running {
  label: string;
  host: Host;
  request: () => void;
}

/** A started host for a module; throws when the plugin does not start. */
export async function start(subject: Subject, kind = requestKind(subject.wasm)): Promise<Running> {
  const host = await createHost({
    wasm: subject.wasm,
    pluginConfig: subject.pluginConfig,
    rootId: subject.rootId,
    pluginName: subject.rootId,
  });
  if (!host.startPlugin()) {
    const f = host.failures[0];
    throw new Error(`${subject.label}: the plugin did not start${f ? `: ${f.callback}: ${f.message}` : ""}`);
  }
  return { label: subject.label, host, request: driver(host, kind) };
}

/** Runs `n` requests; clears the host's log list as it goes so it never grows without bound. */
export function runRequests(r: Running, n: number): void {
  const chunk = 10_000;
  for (let done = 0; done < n; ) {
    const m = Math.min(chunk, n - done);
    for (let i = 0; i < m; i++) r.request();
    r.host.clearLogs();
    done += m;
  }
  if (r.host.failures.length > 0) {
    const f = r.host.failures[0];
    throw new Error(`${r.label} failed in the host: ${f.callback}: ${f.message}`);
  }
}

export interface TimingOptions {
  /** Interleaved rounds; the median is reported. */
  rounds: number;
  /** Target duration of one module's batch in a round, in ms. */
  batchMs: number;
  /** Warm-up per module before timing (V8 tiers hot Wasm and JS up), in ms. */
  warmupMs: number;
}

export interface Timing {
  label: string;
  /**
   * Median CPU time of this process per request, ns (user + system, all threads: the host, the guest
   * and the garbage collector). Other processes on the machine barely move it, unlike wall time.
   */
  nsPerRequest: number;
  /** Requests per second one core sustains: 1e9 / nsPerRequest. */
  requestsPerSecond: number;
  /** Median wall-clock time per request, ns (grows when other processes compete for the cores). */
  wallNsPerRequest: number;
  /** Each round's CPU ns per request. */
  rounds: number[];
  /** Each round's wall ns per request. */
  wallRounds: number[];
  requestsPerBatch: number;
  /** With several timing processes (timing-processes.ts): each process's median CPU ns per request. */
  processMedians?: number[];
}

interface BatchTime {
  wall: number;
  cpu: number;
}

function timeBatch(r: Running, n: number): BatchTime {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  runRequests(r, n);
  const wall = Number(process.hrtime.bigint() - t0) / n;
  const c = process.cpuUsage(c0);
  return { wall, cpu: ((c.user + c.system) * 1000) / n };
}

/** Requests that take about `ms` of wall time for this module (at least 50). */
function calibrate(r: Running, ms: number): number {
  let n = 50;
  for (;;) {
    const per = timeBatch(r, n).wall;
    const elapsedMs = (per * n) / 1e6;
    if (elapsedMs >= 5 || n >= 1_000_000) return Math.max(50, Math.round((ms * 1e6) / per));
    n *= 4;
  }
}

/**
 * Times the modules interleaved: each round runs every module's batch in turn (A, B, C, A, B, C...),
 * so drift in the machine (frequency, other load) hits all of them alike. Reports the medians.
 */
export function timeInterleaved(modules: Running[], opts: TimingOptions): Timing[] {
  const counts = modules.map((m) => {
    runRequests(m, calibrate(m, opts.warmupMs));
    return calibrate(m, opts.batchMs);
  });
  const cpu: number[][] = modules.map(() => []);
  const wall: number[][] = modules.map(() => []);
  for (let round = 0; round < opts.rounds; round++) {
    // Rotate the starting module every round, so none always runs first.
    for (let k = 0; k < modules.length; k++) {
      const i = (k + round) % modules.length;
      const t = timeBatch(modules[i], counts[i]);
      cpu[i].push(t.cpu);
      wall[i].push(t.wall);
    }
  }
  return modules.map((m, i) => {
    const nsPerRequest = median(cpu[i]);
    return {
      label: m.label,
      nsPerRequest,
      requestsPerSecond: 1e9 / nsPerRequest,
      wallNsPerRequest: median(wall[i]),
      rounds: cpu[i],
      wallRounds: wall[i],
      requestsPerBatch: counts[i],
    };
  });
}

/** Host calls per request by function, averaged over `n` requests after `warmup` requests. */
export function hostCallsPerRequest(r: Running, n = 100, warmup = 200): Record<string, number> {
  runRequests(r, warmup);
  r.host.resetHostCalls();
  runRequests(r, n);
  const out: Record<string, number> = {};
  for (const [name, count] of Object.entries(r.host.hostCalls()).sort(([a], [b]) => a.localeCompare(b))) out[name] = count / n;
  return out;
}

export interface MemoryRun {
  label: string;
  requests: number;
  warmupRequests: number;
  pagesAtStart: number;
  pagesAfterWarmup: number;
  pagesAtEnd: number;
  /** No page added after the warm-up. */
  flat: boolean;
  /** Throughput of the whole run, requests per wall-clock second. */
  requestsPerSecond: number;
  /** Requests per second of this process's CPU time (what one core sustains). */
  requestsPerCpuSecond: number;
  seconds: number;
}

/** Runs `requests` requests on a fresh host and reports the guest's memory pages along the way. */
export async function memoryRun(subject: Subject, requests: number, warmupRequests: number): Promise<MemoryRun> {
  const r = await start(subject);
  const pages = () => r.host.memoryBytes / 65536;
  const pagesAtStart = pages();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const warm = Math.min(warmupRequests, requests);
  runRequests(r, warm);
  const pagesAfterWarmup = pages();
  runRequests(r, requests - warm);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const pagesAtEnd = pages();
  return {
    label: subject.label,
    requests,
    warmupRequests: warm,
    pagesAtStart,
    pagesAfterWarmup,
    pagesAtEnd,
    flat: pagesAtEnd === pagesAfterWarmup,
    requestsPerSecond: requests / seconds,
    requestsPerCpuSecond: requests / ((c.user + c.system) / 1e6),
    seconds,
  };
}
