// Fault sweep: replays a test's traffic once per host call that can fail, with that call failed
// (each status Envoy can answer it with, at each of its first occurrences), and reports every run in
// which the filter trapped, with the filter's TypeScript line when the host has the source map.
// A filter should answer every recoverable status (NotFound, Empty, CasMismatch, a callout that
// cannot be made) without trapping.
import type { Failure } from "./types.js";
import type { Host } from "./host.js";
import { FAULTABLE_CALLS } from "./faults.js";
import { Status } from "../abi.js";

/** One injected fault: the `nth` call (1-based) of `call` answered `status`. */
export interface SweepFault {
  call: string;
  status: number;
  nth: number;
}

export interface SweepRun extends SweepFault {
  /** The traps of this run (with `at` and `stack` given a source map). A plugin that refuses its configuration is not one. */
  failures: Failure[];
  /** What the scenario threw, if it did (a scenario that asserts may throw under a fault). */
  error: string | null;
}

export interface SweepReport {
  /** Every run made with a fault. */
  runs: SweepRun[];
  /** The runs in which the filter trapped. */
  traps: SweepRun[];
  /** One line per trap: `proxy_get_shared_data -> NotFound (call 1): divide by zero at assembly/index.ts:6:10`. */
  summary: string[];
}

/**
 * The calls the sweep fails: those Envoy answers with a failure in normal operation (a missing
 * header, property, key or queue, a CAS race, an empty queue, a callout it cannot make). Buffer
 * reads inside their own callback and metric definitions do not fail there; failNext still can.
 */
export const SWEEP_CALLS: readonly string[] = [
  "proxy_get_header_map_value",
  "proxy_get_property",
  "proxy_get_shared_data",
  "proxy_set_shared_data",
  "proxy_resolve_shared_queue",
  "proxy_enqueue_shared_queue",
  "proxy_dequeue_shared_queue",
  "proxy_http_call",
  "proxy_grpc_call",
  "proxy_grpc_stream",
  "proxy_call_foreign_function",
];

const STATUS_NAMES = new Map<number, string>(Object.entries(Status).map(([k, v]) => [v, k]));

/**
 * Runs `scenario` on a host from `makeHost` once without faults (to see which faultable calls it
 * makes, and how often), then once per call, status and occurrence (the first `maxPerCall`, default
 * 3) with that one call failed. The scenario drives traffic; it should not depend on a fault-free run.
 */
export async function faultSweep(
  makeHost: () => Promise<Host>,
  scenario: (host: Host) => void | Promise<void>,
  options: { maxPerCall?: number } = {},
): Promise<SweepReport> {
  const maxPerCall = options.maxPerCall ?? 3;
  const clean = await makeHost();
  await scenario(clean);
  const made = clean.hostCalls();
  const runs: SweepRun[] = [];
  for (const call of SWEEP_CALLS) {
    const statuses = FAULTABLE_CALLS[call];
    const count = Math.min(made[call] ?? 0, maxPerCall);
    for (const status of statuses) {
      for (let nth = 1; nth <= count; nth++) {
        const host = await makeHost();
        host.failNext(call, status, { skip: nth - 1 });
        let error: string | null = null;
        try {
          await scenario(host);
        } catch (e) {
          error = (e as Error).message ?? String(e);
        }
        runs.push({ call, status, nth, failures: host.failures.filter((f) => f.kind === "trap"), error });
      }
    }
  }
  const traps = runs.filter((r) => r.failures.length > 0);
  const summary = traps.map((r) => {
    const f = r.failures[0];
    return `${r.call} -> ${STATUS_NAMES.get(r.status) ?? r.status} (call ${r.nth}): ${f.message}${f.at ? ` at ${f.at}` : ""}`;
  });
  return { runs, traps, summary };
}
