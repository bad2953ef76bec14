// The bench's deterministic cost measure: executed guest instructions, guest function calls, memory
// blocks allocated and freed per request, and garbage collection cycles per 1,000 requests. The
// counts come from counting copies of the modules (instrument.ts: instructions and calls on the real
// release binary; alloc-counters.ts: allocations, frees and GC cycles on a build with the same flags
// plus counters in the runtime), run through the same requests as the timing. They do not move with
// the machine's load: steer with them, confirm with time.
import { ALLOCS_GLOBAL, FREES_GLOBAL, GC_GLOBAL } from "./alloc-counters.js";
import { start, runRequests, type RequestKind, type Subject } from "./harness.js";
import {
  CALLS_GLOBAL,
  FUNCTION_CALLS_PREFIX,
  FUNCTION_GLOBAL_PREFIX,
  HOST_ALLOCS_GLOBAL,
  INSTRUCTIONS_GLOBAL,
  instrumentCounting,
} from "./instrument.js";

/** Requests counted (after COST_WARMUP requests), the same in quick and full runs. */
export const COST_REQUESTS = 2_000;
export const COST_WARMUP = 200;

export interface Cost {
  /** Executed guest wasm instructions per request. */
  instructions: number;
  /** Guest function entries per request (host functions not included). */
  calls: number;
  /** Memory blocks allocated per request; null when the module has no runtime the bench knows. */
  allocations: number | null;
  frees: number | null;
  /** Garbage collection cycles per 1,000 requests; null as above. */
  gcPer1000: number | null;
}

/**
 * Starts `subject` and returns its running host with the instances made while it started (the bench
 * needs the exported counters, which the host keeps to itself): WebAssembly.Instance is wrapped while
 * the host starts. Besides the module's own instance the host may make helper instances (its time
 * limit's); those export no counters.
 */
async function startCounting(subject: Subject, kind: RequestKind) {
  const Original = WebAssembly.Instance;
  const made: WebAssembly.Instance[] = [];
  const Capturing = function (this: unknown, module: WebAssembly.Module, imports?: WebAssembly.Imports) {
    const instance = new Original(module, imports);
    made.push(instance);
    return instance;
  } as unknown as typeof WebAssembly.Instance;
  Capturing.prototype = Original.prototype;
  (WebAssembly as { Instance: typeof WebAssembly.Instance }).Instance = Capturing;
  try {
    return { running: await start(subject, kind), instances: made };
  } finally {
    (WebAssembly as { Instance: typeof WebAssembly.Instance }).Instance = Original;
  }
}

/** Counter deltas over COST_REQUESTS requests after COST_WARMUP, per request (null: not exported). */
async function countPerRequest(subject: Subject, kind: RequestKind, globals: string[]): Promise<Record<string, number | null>> {
  const { running, instances } = await startCounting(subject, kind);
  const read = () =>
    globals.map((g) => {
      let sum: number | null = null;
      for (const instance of instances) {
        const v = instance.exports[g];
        if (v instanceof WebAssembly.Global) sum = (sum ?? 0) + Number(v.value as bigint);
      }
      return sum;
    });
  runRequests(running, COST_WARMUP);
  const vms = running.host.vmCount;
  const before = read();
  runRequests(running, COST_REQUESTS);
  const after = read();
  if (running.host.vmCount !== vms) throw new Error(`${subject.label}: the VM was reloaded while counting`);
  const out: Record<string, number | null> = {};
  globals.forEach((g, i) => {
    const a = after[i];
    const b = before[i];
    out[g] = a === null || b === null ? null : (a - b) / COST_REQUESTS;
  });
  return out;
}

/**
 * The cost of `subject` per request. `countingBuild` is the same source built with the allocation
 * counters (alloc-counters.ts); without one (a WAT module), allocations are the calls of the exported
 * allocator and there is no collector.
 */
export async function measureCost(subject: Subject, kind: RequestKind, countingBuild: Uint8Array | null): Promise<Cost> {
  const counted = await countPerRequest({ ...subject, wasm: await instrumentCounting(subject.wasm) }, kind, [
    INSTRUCTIONS_GLOBAL,
    CALLS_GLOBAL,
    HOST_ALLOCS_GLOBAL,
  ]);
  const cost: Cost = {
    instructions: counted[INSTRUCTIONS_GLOBAL]!,
    calls: counted[CALLS_GLOBAL]!,
    allocations: countingBuild ? null : counted[HOST_ALLOCS_GLOBAL],
    frees: countingBuild ? null : 0,
    gcPer1000: countingBuild ? null : 0,
  };
  if (countingBuild) {
    const a = await countPerRequest({ ...subject, wasm: countingBuild }, kind, [ALLOCS_GLOBAL, FREES_GLOBAL, GC_GLOBAL]);
    cost.allocations = a[ALLOCS_GLOBAL];
    cost.frees = a[FREES_GLOBAL];
    cost.gcPer1000 = a[GC_GLOBAL] === null ? null : a[GC_GLOBAL] * 1000;
  }
  return cost;
}

/** One function's share of the guest's work per request (`npm run bench:profile`). */
export interface FunctionCost {
  name: string;
  instructions: number;
  calls: number;
}

/** Executed instructions per request by function, most first; functions that ran none are left out. */
export async function profileFunctions(subject: Subject, kind: RequestKind): Promise<FunctionCost[]> {
  const wasm = await instrumentCounting(subject.wasm, true);
  const globals = WebAssembly.Module.exports(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>))
    .map((e) => e.name)
    .filter((n) => n.startsWith(FUNCTION_GLOBAL_PREFIX));
  const names = globals.map((g) => g.slice(FUNCTION_GLOBAL_PREFIX.length));
  const counted = await countPerRequest({ ...subject, wasm }, kind, [...globals, ...names.map((n) => FUNCTION_CALLS_PREFIX + n)]);
  return names
    .map((name) => ({
      name,
      instructions: counted[FUNCTION_GLOBAL_PREFIX + name] ?? 0,
      calls: counted[FUNCTION_CALLS_PREFIX + name] ?? 0,
    }))
    .filter((f) => f.instructions > 0)
    .sort((a, b) => b.instructions - a.instructions);
}
