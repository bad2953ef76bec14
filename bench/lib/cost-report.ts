// The deterministic cost table (cost.ts) and its targets, relative to the numbers measured before
// the hot-path work (BASELINE).
import { PEER_SDK } from "./filters.js";
import type { Table } from "./report.js";
import type { Target } from "./targets.js";
import type { BenchResult, ModuleResult } from "./suite.js";
import { fixed, int, ratio, times } from "./stats.js";

/**
 * What the bench measured on main before the hot-path work of issue 15 (commit d10635b), with this
 * same counting: the cost targets are fractions of these, and sizes may not grow past them.
 */
export const BASELINE = {
  commit: "d10635b",
  instructions: { "add-header": 3416, "x-service-name": 14666 } as Record<string, number>,
  /** Raw release sizes, bytes. */
  sizes: {
    "add-header": 4042,
    "auth-callout": 17973,
    "body-rewrite": 14599,
    "config-headers": 13127,
    "foreign-function": 18358,
    "grpc-callout": 18510,
    metrics: 7440,
    properties: 13449,
    "rate-limit": 16099,
    "shared-queue": 20940,
    "tcp-logger": 14666,
    "x-service-name": 6075,
  } as Record<string, number>,
};

/** Executed instructions per request may be at most this fraction of the baseline. */
export const INSTRUCTION_TARGETS: Record<string, number> = { "add-header": 1 / 5, "x-service-name": 1 / 3 };

function label(m: ModuleResult): string {
  return m.role === "ours" ? "proxy-wasm-as" : m.role === "peer" ? PEER_SDK : "WAT floor";
}

const num = (n: number | null, digits = 1) => (n === null ? "n/a" : Number.isInteger(n) ? int(n) : fixed(n, digits));

export function costTable(r: BenchResult): Table {
  const rows: string[][] = [];
  for (const e of r.examples) {
    for (const m of [e.ours, e.peer, e.floor]) {
      if (!m?.cost) continue;
      const c = m.cost;
      const base = m.role === "ours" ? BASELINE.instructions[e.name] : undefined;
      rows.push([
        `${e.name}: ${label(m)}`,
        int(c.instructions),
        m.role === "ours" && e.floor?.cost ? times(ratio(c.instructions, e.floor.cost.instructions), 1) : "",
        base ? times(ratio(c.instructions, base)) : "",
        num(c.calls),
        num(c.allocations),
        num(c.frees),
        num(c.gcPer1000),
      ]);
    }
  }
  return {
    headers: [
      "module",
      "instructions/request",
      "ours/floor",
      `ours/before (${BASELINE.commit})`,
      "guest calls/request",
      "allocations/request",
      "frees/request",
      "GC cycles/1,000 requests",
    ],
    rows,
  };
}

/** Instruction-count and size targets (the seeds not larger than before; the other examples' change reported). */
export function costTargets(r: BenchResult): Target[] {
  const out: Target[] = [];
  for (const e of r.examples) {
    const o = e.ours;
    if (!o) continue;
    const fraction = INSTRUCTION_TARGETS[e.name];
    const base = BASELINE.instructions[e.name];
    if (fraction && base && o.cost) {
      const goal = Math.floor(base * fraction);
      out.push({
        what: `${e.name}: executed instructions per request`,
        goal: `≤ 1/${Math.round(1 / fraction)} of ${int(base)} (${int(goal)})`,
        measured: `${int(o.cost.instructions)} (${times(ratio(o.cost.instructions, base))})`,
        met: o.cost.instructions <= goal,
      });
    }
  }
  // Issue 15's size rule: the seed filters may not grow past their sizes when it was filed; every
  // other example's change is reported (the size table has each one).
  const seeds = r.examples.filter((e) => e.seed && e.ours && BASELINE.sizes[e.name] !== undefined);
  if (seeds.length > 0) {
    out.push({
      what: "seed module sizes not larger than before",
      goal: seeds.map((e) => `${e.name} ≤ ${int(BASELINE.sizes[e.name])} B`).join(", "),
      measured: seeds.map((e) => `${int(e.ours!.size.raw)} B`).join(", "),
      met: seeds.every((e) => e.ours!.size.raw <= BASELINE.sizes[e.name]),
    });
  }
  const others = r.examples.filter((e) => !e.seed && e.ours && BASELINE.sizes[e.name] !== undefined);
  if (others.length > 0) {
    const grown = others.filter((e) => e.ours!.size.raw > BASELINE.sizes[e.name]);
    out.push({
      what: `other examples' size change since ${BASELINE.commit}`,
      goal: "reported",
      measured: `${others.length - grown.length} of ${others.length} not larger${grown.length ? `; larger: ${grown.map((e) => `${e.name} ${sizeChange(e.name, e.ours!.size.raw)} B`).join(", ")}` : ""}`,
      met: "reported",
    });
  }
  return out;
}

/** Size change of each example against the baseline, for the size table. */
export function sizeChange(name: string, raw: number): string {
  const before = BASELINE.sizes[name];
  if (before === undefined) return "—";
  const d = raw - before;
  return d === 0 ? "0" : `${d > 0 ? "+" : "−"}${int(Math.abs(d))}`;
}
