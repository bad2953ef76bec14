// Throughput and latency through `proxy-wasm-as run` (the local proxy), with and without a filter.
import { existsSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./filters.js";

export interface LoadResult {
  label: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  connections: number;
  seconds: number;
}

export type ProxyResult =
  | { ran: false; reason: string }
  | {
      ran: true;
      filter: string;
      /** Max throughput: no filter, then with the filter. */
      throughput: { none: LoadResult; filter: LoadResult };
      /** Latency at a moderate fixed rate: no filter, then with the filter. */
      latency: { none: LoadResult; filter: LoadResult; rate: number };
      command: string;
    };

export async function proxyBench(seconds: number, _tmp: string, _log: (line: string) => void): Promise<ProxyResult> {
  if (seconds <= 0) return { ran: false, reason: "skipped (--skip-proxy)" };
  if (!existsSync(path.join(REPO_ROOT, "dist", "src", "commands", "run.js"))) {
    return { ran: false, reason: "`proxy-wasm-as run` is not in this tree yet" };
  }
  return { ran: false, reason: "`proxy-wasm-as run` exists but the bench does not drive it yet" };
}
