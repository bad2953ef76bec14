// The targets the bench prints next to its numbers (never asserted): each with its goal, the measured
// value and whether it was met.
import { PEER_SDK } from "./filters.js";
import type { BenchResult, ExampleResult, ModuleResult } from "./suite.js";
import { bytes, fixed, int, median, ns, ratio, times } from "./stats.js";
import { costTargets } from "./cost-report.js";

/** Raw size limit for a seed filter (6 KiB, as in tests/node/sdk-size.test.ts). */
export const SIZE_LIMIT = 6144;

export interface Target {
  what: string;
  goal: string;
  measured: string;
  /**
   * null: not measured in this run; "reported": a number the issue asks to report, with no goal;
   * "not judged": measured too briefly to judge (a quick run's times).
   */
  met: boolean | null | "reported" | "not judged";
}

export function mark(met: Target["met"]): string {
  return typeof met === "string" ? met : met === null ? "not measured" : met ? "met" : "MISSED";
}

export const ourName = "proxy-wasm-as";

function seedResults(r: BenchResult): ExampleResult[] {
  return r.examples.filter((e) => e.seed && e.ours);
}

function callsEqual(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a).filter((k) => a[k] > 0);
  const kb = Object.keys(b).filter((k) => b[k] > 0);
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

/** Host calls beyond the expected ones, per request (0 when none). */
export function extraHostCalls(actual: Record<string, number>, expected: Record<string, number>): number {
  let extra = 0;
  for (const [k, v] of Object.entries(actual)) extra += Math.max(0, v - (expected[k] ?? 0));
  return extra;
}

/** The guest ratio a/b in each timing process on its own (empty when there was one process). */
function processRatios(a: ModuleResult, b: ModuleResult): number[] {
  const pa = a.timing.processMedians ?? [];
  const pb = b.timing.processMedians ?? [];
  const pe = a.empty.processMedians ?? [];
  if (pa.length < 2 || pb.length !== pa.length || pe.length !== pa.length) return [];
  // No time above the empty module (machine noise on a tiny guest) gives no ratio: "n/a", never met.
  return pa.map((x, i) => (x - pe[i] > 0 ? ratio(x - pe[i], pb[i] - pe[i]) : NaN));
}

/**
 * The guest-time ratio a/b a target judges, as text and value. With several timing processes it is
 * the median of the processes' own ratios: each process times a, b and the empty module interleaved
 * under the same conditions, and the median sets aside a process the machine disturbed. With one
 * process, the ratio of the medians.
 */
export function guestRatio(a: ModuleResult, b: ModuleResult): { value: number; measured: string } {
  const each = processRatios(a, b);
  const ns2 = `${ns(a.guestNs)} vs ${ns(b.guestNs)} ns`;
  if (each.length < 2) {
    const value = a.guestNs > 0 ? ratio(a.guestNs, b.guestNs) : NaN;
    return { value, measured: `${times(value)} (${ns2})` };
  }
  const value = median(each.map((x) => (Number.isNaN(x) ? Infinity : x)));
  return {
    value,
    measured: `${times(value)}, median of ${each.length} processes: ${each.map((x) => times(x)).join(", ")} (pooled: ${ns2})`,
  };
}

/** Every target with the measured value and whether it was met. */
export function targets(r: BenchResult): Target[] {
  const out: Target[] = [];
  for (const e of seedResults(r)) {
    const o = e.ours!;
    out.push({
      what: `${e.name}: module size`,
      goal: `≤ ${int(SIZE_LIMIT)} B`,
      measured: bytes(o.size.raw),
      met: o.size.raw <= SIZE_LIMIT,
    });
    if (e.peer) {
      const f = ratio(e.peer.size.raw, o.size.raw);
      out.push({
        what: `${e.name}: smaller than ${PEER_SDK}`,
        goal: "≥ 3× smaller",
        measured: `${times(f, 1)} smaller (${bytes(e.peer.size.raw)})`,
        met: f >= 3,
      });
      const g = guestRatio(o, e.peer);
      out.push({
        what: `${e.name}: guest cost vs ${PEER_SDK}`,
        goal: "≤ 1/5 (0.20×)",
        measured: g.measured,
        met: r.quick ? "not judged" : g.value <= 0.2,
      });
    }
    if (e.floor) {
      const g = guestRatio(o, e.floor);
      out.push({
        what: `${e.name}: guest time vs WAT floor (V8)`,
        goal: "≤ 1.3×",
        measured: g.measured,
        met: r.quick ? "not judged" : g.value <= 1.3,
      });
    }
    if (e.expectedHostCalls) {
      const extra = extraHostCalls(o.hostCalls, e.expectedHostCalls);
      out.push({
        what: `${e.name}: host calls beyond the filter's code`,
        goal: "0",
        measured: fixed(extra, extra % 1 ? 2 : 0),
        met: extra === 0 && callsEqual(o.hostCalls, e.expectedHostCalls),
      });
    }
    if (o.memory) {
      const grew = o.memory.pagesAtEnd - o.memory.pagesAfterWarmup;
      out.push({
        what: `${e.name}: guest memory growth after warm-up`,
        goal: "0 pages",
        measured: `${grew} pages over ${int(o.memory.requests)} requests`,
        met: grew === 0,
      });
    }
  }
  out.push(...costTargets(r));
  const builds = r.examples.filter((e) => e.coldBuild);
  if (builds.length > 0) {
    const worst = builds.reduce((a, b) => (b.coldBuild!.medianMs > a.coldBuild!.medianMs ? b : a));
    out.push({
      what: "`build`, cold (slowest example)",
      goal: "< 3 s",
      measured: `${fixed(worst.coldBuild!.medianMs / 1000)} s (${worst.name})`,
      met: worst.coldBuild!.medianMs < 3000,
    });
  }
  const p = r.proxy;
  if (p.ran) {
    const share = ratio(p.throughput.filter.requestsPerSecond, p.throughput.none.requestsPerSecond);
    const none = p.throughput.none.proxyCpuUsPerRequest;
    const withFilter = p.throughput.filter.proxyCpuUsPerRequest;
    const cpuShare = none !== null && withFilter !== null ? ratio(none, withFilter) : NaN;
    const cpuNote = Number.isFinite(cpuShare) ? ` (by the proxy's CPU per request: ${fixed(cpuShare * 100, 0)}%)` : "";
    out.push({
      what: `\`run\` throughput with ${p.filter} vs no filter`,
      goal: "≥ 60%",
      measured: `${fixed(share * 100, 0)}%${cpuNote}`,
      met: share >= 0.6,
    });
    const added = p.latency.filter.p99Ms - p.latency.none.p99Ms;
    out.push({
      what: `\`run\` added p99 latency at ${int(p.latency.rate)} req/s`,
      goal: "< 1 ms",
      measured: `${fixed(added)} ms`,
      met: added < 1,
    });
  } else {
    out.push({ what: "`run` throughput and added p99", goal: "≥ 60%, < 1 ms", measured: p.reason, met: null });
  }
  return out;
}
