// Throughput and latency through `proxy-wasm-as run` (the local proxy), with the add-header filter
// and with a module that has no callbacks (the same proxy, no filter work), side by side on loopback
// in front of a loopback upstream, loaded with autocannon. Every process listens on 127.0.0.1 only
// and every load run is bounded in time.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { buildOurs, emptyModule, REPO_ROOT } from "./filters.js";
import { percentile } from "./stats.js";

export interface LoadResult {
  label: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Connection errors, timeouts and non-2xx answers. */
  errors: number;
  connections: number;
  seconds: number;
  /** CPU time of the proxy process per request, µs (Linux /proc; null elsewhere). */
  proxyCpuUsPerRequest: number | null;
}

export type ProxyResult =
  | { ran: false; reason: string }
  | {
      ran: true;
      filter: string;
      /** Max throughput: no filter, then with the filter (each the mean of its runs). */
      throughput: { none: LoadResult; filter: LoadResult };
      /** Latency at a moderate fixed rate: no filter, then with the filter. */
      latency: { none: LoadResult; filter: LoadResult; rate: number };
      command: string;
    };

/** The filter measured through the proxy. */
export const PROXY_FILTER = "add-header";
/** Connections for the max-throughput runs. */
export const THROUGHPUT_CONNECTIONS = 16;
/** Connections for the fixed-rate latency runs. */
export const LATENCY_CONNECTIONS = 8;

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
/** What autocannon(opts) returns without a callback: an event emitter that is also a promise. */
type Tracker = Promise<AutocannonResult> & {
  on(event: "response", fn: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): void;
};
type Autocannon = (opts: Record<string, unknown>) => Tracker;

function loadAutocannon(): Autocannon {
  const require = createRequire(import.meta.url);
  return require("autocannon") as Autocannon;
}

/** Spawns a process and resolves with the first stdout line that matches `pattern`. */
function spawnUntil(
  args: string[],
  pattern: RegExp,
  what: string,
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${what} did not start within ${timeoutMs / 1000} s: ${err.trim().split("\n").pop() ?? ""}`));
    }, timeoutMs);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = out.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.length > 100_000) err = err.slice(-50_000);
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready: ${err.trim().split("\n").pop() ?? ""}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners("exit");
    child.on("exit", () => resolve());
    child.stdin?.end();
    child.kill("SIGTERM");
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }, 3000).unref();
  });
}

let clockTicks = 0;
/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; null where there is none. */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (!clockTicks) {
      try {
        clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
      } catch {
        clockTicks = 100;
      }
    }
    // Fields 14 and 15 of stat (utime, stime); the slice starts at field 3.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** `node dist/src/cli.js run ...` as the bench starts it; the module path is a placeholder. */
export function runCommand(wasm: string, upstreamPort: number | string): string[] {
  return [
    "dist/src/cli.js",
    "run",
    wasm,
    "--upstream",
    `http://127.0.0.1:${upstreamPort}`,
    "--listen",
    "127.0.0.1:0",
    "--no-access-log",
    "--log-level",
    "warn",
  ];
}

async function load(
  autocannon: Autocannon,
  label: string,
  url: string,
  seconds: number,
  connections: number,
  proxyPid: number | undefined,
  rate?: number,
): Promise<LoadResult> {
  const cpu0 = processCpuSeconds(proxyPid);
  const tracker = autocannon({
    url,
    connections,
    duration: seconds,
    pipelining: 1,
    ...(rate ? { overallRate: rate } : {}),
  });
  // autocannon's histogram keeps whole milliseconds; the response events carry the exact time.
  const times: number[] = [];
  tracker.on("response", (_client, _status, _bytes, ms) => {
    times.push(ms);
  });
  const r = await tracker;
  const cpu1 = processCpuSeconds(proxyPid);
  return {
    label,
    requestsPerSecond: r.requests.total / r.duration,
    p50Ms: times.length ? percentile(times, 50) : r.latency.p50,
    p99Ms: times.length ? percentile(times, 99) : r.latency.p99,
    requests: r.requests.total,
    errors: r.errors + r.timeouts + r.non2xx,
    connections,
    seconds: r.duration,
    proxyCpuUsPerRequest: cpu0 !== null && cpu1 !== null && r.requests.total > 0 ? ((cpu1 - cpu0) * 1e6) / r.requests.total : null,
  };
}

function mean(runs: LoadResult[]): LoadResult {
  const n = runs.length;
  const sum = (f: (l: LoadResult) => number) => runs.reduce((a, l) => a + f(l), 0);
  return {
    label: runs[0].label,
    requestsPerSecond: sum((l) => l.requests) / sum((l) => l.seconds),
    p50Ms: sum((l) => l.p50Ms) / n,
    p99Ms: sum((l) => l.p99Ms) / n,
    requests: sum((l) => l.requests),
    errors: sum((l) => l.errors),
    connections: runs[0].connections,
    seconds: sum((l) => l.seconds),
    proxyCpuUsPerRequest: runs.every((l) => l.proxyCpuUsPerRequest !== null)
      ? sum((l) => l.proxyCpuUsPerRequest! * l.requests) / sum((l) => l.requests)
      : null,
  };
}

/**
 * Two proxies (add-header, and the empty module) in front of one upstream. Max throughput: the two
 * alternate, `seconds` each, twice. Latency: each at a fixed rate of a third of the no-filter
 * throughput (at most 2,000 req/s), `seconds` each.
 */
export async function proxyBench(seconds: number, tmp: string, log: (line: string) => void): Promise<ProxyResult> {
  if (seconds <= 0) return { ran: false, reason: "skipped (--skip-proxy)" };
  if (!existsSync(path.join(REPO_ROOT, "dist", "src", "commands", "run.js"))) {
    return { ran: false, reason: "`proxy-wasm-as run` is not in this tree yet" };
  }
  const autocannon = loadAutocannon();
  const filterWasm = path.join(tmp, `proxy-${PROXY_FILTER}.wasm`);
  const emptyWasm = path.join(tmp, "proxy-empty.wasm");
  await writeFile(filterWasm, (await buildOurs(PROXY_FILTER, tmp)).wasm);
  await writeFile(emptyWasm, await emptyModule());

  const children: ChildProcess[] = [];
  try {
    const up = await spawnUntil([path.join(REPO_ROOT, "dist", "bench", "lib", "upstream.js")], /^(\d+)\n/m, "the upstream");
    children.push(up.child);
    const port = up.match[1];
    const serving = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/;
    const withFilter = await spawnUntil(runCommand(filterWasm, port), serving, `proxy-wasm-as run (${PROXY_FILTER})`);
    children.push(withFilter.child);
    const none = await spawnUntil(runCommand(emptyWasm, port), serving, "proxy-wasm-as run (no filter)");
    children.push(none.child);
    const urlFilter = withFilter.match[1] + "/hello";
    const urlNone = none.match[1] + "/hello";

    log(`proxy: warm-up`);
    const warm = Math.min(1, seconds);
    const pidNone = none.child.pid;
    const pidFilter = withFilter.child.pid;
    await load(autocannon, "warm-up", urlNone, warm, THROUGHPUT_CONNECTIONS, pidNone);
    await load(autocannon, "warm-up", urlFilter, warm, THROUGHPUT_CONNECTIONS, pidFilter);

    log(`proxy: max throughput, ${seconds} s × 2 each`);
    const noneRuns: LoadResult[] = [];
    const filterRuns: LoadResult[] = [];
    for (let i = 0; i < 2; i++) {
      noneRuns.push(await load(autocannon, "no filter", urlNone, seconds, THROUGHPUT_CONNECTIONS, pidNone));
      filterRuns.push(await load(autocannon, PROXY_FILTER, urlFilter, seconds, THROUGHPUT_CONNECTIONS, pidFilter));
    }
    const tNone = mean(noneRuns);
    const tFilter = mean(filterRuns);

    const rate = Math.max(100, Math.min(2000, Math.round(tNone.requestsPerSecond / 3 / 100) * 100));
    log(`proxy: latency at ${rate} req/s, ${seconds} s each`);
    const lNone = await load(autocannon, "no filter", urlNone, seconds, LATENCY_CONNECTIONS, pidNone, rate);
    const lFilter = await load(autocannon, PROXY_FILTER, urlFilter, seconds, LATENCY_CONNECTIONS, pidFilter, rate);

    for (const r of [tNone, tFilter, lNone, lFilter]) {
      if (r.errors > 0) throw new Error(`${r.errors} failed requests through the proxy (${r.label}): the numbers would not mean anything`);
      if (r.requests === 0) throw new Error(`no request went through the proxy (${r.label})`);
    }
    return {
      ran: true,
      filter: PROXY_FILTER,
      throughput: { none: tNone, filter: tFilter },
      latency: { none: lNone, filter: lFilter, rate },
      command: `node ${runCommand(`build/${PROXY_FILTER}.wasm`, "<upstream port>").join(" ")}`,
    };
  } finally {
    await Promise.all(children.map(stop));
  }
}
