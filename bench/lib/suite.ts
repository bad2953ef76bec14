// The whole benchmark as one function: builds every module, checks the seeds behave alike, then
// measures sizes, time per request, host calls, memory over a long run, cold build time and (when
// `proxy-wasm-as run` exists) proxy throughput. bench/run.ts prints and writes what this returns.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  buildOurs,
  buildPeer,
  compileFixture,
  emptyModule,
  exampleConfig,
  floorFile,
  isSeed,
  listExamples,
  moduleSize,
  PEER_SDK,
  REPO_ROOT,
  SEED_HOST_CALLS,
  type ExampleConfig,
  type ModuleSize,
  type SeedName,
} from "./filters.js";
import {
  hostCallsPerRequest,
  memoryRun,
  requestKind,
  start,
  type MemoryRun,
  type RequestKind,
  type Running,
  type Timing,
} from "./harness.js";
import { checkSeedBehaviour } from "./checks.js";
import { coldBuild, type ColdBuild } from "./coldbuild.js";
import { machineInfo, type MachineInfo } from "./machine.js";
import { proxyBench, type ProxyResult } from "./proxy.js";
import { measureCost, type Cost } from "./cost.js";
import { mergeTimings, timeInProcesses, type TimedSubject } from "./timing-processes.js";

export interface SuiteOptions {
  /** Examples to measure (default: every examples/<name>/index.ts). */
  only?: string[];
  rounds: number;
  batchMs: number;
  warmupMs: number;
  /** Fresh Node processes that time the modules, one after another (their rounds are pooled). */
  processes: number;
  /** Requests in the memory run, and how many of them are warm-up. */
  memoryRequests: number;
  memoryWarmup: number;
  /** Examples other than the seeds get at most about this many seconds of memory run (0 = no cap). */
  otherMemorySeconds: number;
  /** Fresh-process builds per seed filter (0 = skip all cold builds). */
  coldBuildRuns: number;
  /** Fresh-process builds per other example (the bench keeps its time as examples are added). */
  otherColdBuildRuns: number;
  /** Seconds of load per proxy configuration (0 = skip). */
  proxySeconds: number;
  /** Also build the peer filters with our release flags (size only). */
  peerWithOurFlags: boolean;
}

export const FULL: SuiteOptions = {
  rounds: 15,
  processes: 5,
  batchMs: 25,
  warmupMs: 150,
  memoryRequests: 1_000_000,
  memoryWarmup: 10_000,
  otherMemorySeconds: 1.5,
  coldBuildRuns: 3,
  otherColdBuildRuns: 1,
  proxySeconds: 4,
  peerWithOurFlags: true,
};

export const QUICK: SuiteOptions = {
  rounds: 3,
  processes: 1,
  batchMs: 15,
  // A fresh timing process spends its first ~100 ms compiling on V8's background threads.
  warmupMs: 150,
  memoryRequests: 20_000,
  memoryWarmup: 2_000,
  otherMemorySeconds: 0,
  // Cold builds and the proxy take most of a quick run's time; the full run measures them.
  coldBuildRuns: 0,
  otherColdBuildRuns: 0,
  proxySeconds: 0,
  peerWithOurFlags: false,
};

export type Role = "ours" | "peer" | "floor";

export interface ModuleResult {
  label: string;
  role: Role;
  size: ModuleSize;
  timing: Timing;
  /** Time per request above the empty module's (the guest's share), ns. */
  guestNs: number;
  /** The empty module timed in the same processes (guestNs is above it). */
  empty: Timing;
  hostCalls: Record<string, number>;
  /** The deterministic cost per request (cost.ts). */
  cost: Cost | null;
  memory: MemoryRun | null;
}

export interface ExampleResult {
  name: string;
  kind: RequestKind;
  seed: boolean;
  ours: ModuleResult | null;
  peer: ModuleResult | null;
  /** The peer build with our release flags (size only). */
  peerOurFlagsSize: ModuleSize | null;
  floor: ModuleResult | null;
  /** The host calls the filter's code asks for (seeds only). */
  expectedHostCalls: Record<string, number> | null;
  coldBuild: ColdBuild | null;
  error: string | null;
}

export interface BenchResult {
  date: string;
  command: string;
  quick: boolean;
  machine: MachineInfo;
  versions: Record<string, string>;
  options: SuiteOptions;
  examples: ExampleResult[];
  /** The empty module's timing per request kind (the host's own cost): every example's processes pooled. */
  baseline: Partial<Record<RequestKind, Timing>>;
  proxy: ProxyResult;
  errors: string[];
  durationSeconds: number;
}

async function packageVersion(name: string): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "not installed";
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Requests in a module's memory run: the full count for the seed filters; for the other examples, as
 * many as fit in `otherMemorySeconds` at the measured speed (at least 10× the warm-up), so the bench
 * stays within its time as examples are added.
 */
export function memoryRequestsFor(ex: { seed: boolean }, nsPerRequest: number, opts: SuiteOptions): number {
  if (ex.seed || opts.otherMemorySeconds <= 0 || !(nsPerRequest > 0)) return opts.memoryRequests;
  const fit = Math.floor((opts.otherMemorySeconds * 1e9) / nsPerRequest / 10_000) * 10_000;
  return Math.min(opts.memoryRequests, Math.max(opts.memoryWarmup * 10, fit));
}

interface Pending {
  config: ExampleConfig;
  example: ExampleResult;
  role: Role;
  wasm: Uint8Array;
  /** The same source built with allocation counters (null for WAT floors). */
  countingWasm: Uint8Array | null;
  running: Running;
}

/** Runs the suite; `log` gets progress lines. Errors are collected in `errors`, not thrown. */
export async function runSuite(
  opts: SuiteOptions,
  context: { command: string; quick: boolean },
  log: (line: string) => void = () => {},
): Promise<BenchResult> {
  const t0 = Date.now();
  const machine = machineInfo();
  const errors: string[] = [];
  const tmp = await mkdtemp(path.join(os.tmpdir(), "proxy-wasm-as-bench-"));
  try {
    const all = await listExamples();
    const names = opts.only?.length ? opts.only : all;
    for (const n of names)
      if (!all.includes(n)) throw new Error(`no example named ${n} (examples/${n}/index.ts): choose from ${all.join(", ")}`);

    const examples: ExampleResult[] = [];
    const pending: Pending[] = [];
    const peerFlagSizes = new Map<string, ModuleSize>();
    const emptyWasm = await emptyModule();
    const kindsUsed = new Set<RequestKind>();

    // 1. Build everything and check the seeds behave alike.
    for (const name of names) {
      const ex: ExampleResult = {
        name,
        kind: "http",
        seed: isSeed(name),
        ours: null,
        peer: null,
        peerOurFlagsSize: null,
        floor: null,
        expectedHostCalls: isSeed(name) ? SEED_HOST_CALLS[name] : null,
        coldBuild: null,
        error: null,
      };
      examples.push(ex);
      try {
        log(`build ${name} (ours)`);
        const ours = await buildOurs(name, tmp);
        const oursCounting = (await buildOurs(name, tmp, true)).wasm;
        // The seeds run with no configuration, like their peer builds and floors.
        const config = isSeed(name) ? {} : await exampleConfig(name);
        ex.kind = requestKind(ours.wasm);
        kindsUsed.add(ex.kind);
        const variants: Array<{ role: Role; wasm: Uint8Array; countingWasm: Uint8Array | null }> = [
          { role: "ours", wasm: ours.wasm, countingWasm: oursCounting },
        ];
        if (isSeed(name)) {
          log(`build ${name} (${PEER_SDK})`);
          variants.push({ role: "peer", wasm: await buildPeer(name, tmp), countingWasm: await buildPeer(name, tmp, false, true) });
          if (opts.peerWithOurFlags) {
            log(`build ${name} (${PEER_SDK}, our release flags)`);
            peerFlagSizes.set(name, moduleSize(await buildPeer(name, tmp, true)));
          }
          variants.push({ role: "floor", wasm: await compileFixture(floorFile(name)), countingWasm: null });
        }
        for (const v of variants) {
          const label = `${name} (${v.role === "ours" ? "proxy-wasm-as" : v.role === "peer" ? PEER_SDK : "WAT floor"})`;
          const running = await start({ label, wasm: v.wasm, ...config }, ex.kind);
          if (isSeed(name)) checkSeedBehaviour(name as SeedName, running);
          pending.push({ config, example: ex, role: v.role, wasm: v.wasm, countingWasm: v.countingWasm, running });
        }
        ex.peerOurFlagsSize = peerFlagSizes.get(name) ?? null;
      } catch (e) {
        ex.error = message(e);
        errors.push(`${name}: ${ex.error}`);
        log(`error: ${name}: ${ex.error}`);
        for (let i = pending.length - 1; i >= 0; i--) if (pending[i].example === ex) pending.splice(i, 1);
      }
    }

    // 2. The deterministic cost of every module (counting copies on fresh hosts).
    const costs: Array<Cost | null> = [];
    for (const p of pending) {
      try {
        costs.push(
          await measureCost(
            { label: p.running.label, wasm: p.wasm, pluginConfig: p.config.pluginConfig, rootId: p.config.rootId },
            p.example.kind,
            p.countingWasm,
          ),
        );
      } catch (e) {
        costs.push(null);
        errors.push(`cost of ${p.running.label}: ${message(e)}`);
      }
    }
    log(`counted the cost of ${pending.length} modules`);

    // 3. Time each example's modules interleaved with the empty module, in fresh processes per example.
    const emptyFile = path.join(tmp, "timed-empty.wasm");
    await writeFile(emptyFile, emptyWasm);
    const timed = new Map<Pending, { timing: Timing; empty: Timing }>();
    const emptyRuns: Partial<Record<RequestKind, Timing[]>> = {};
    for (const ex of examples) {
      const group = pending.filter((p) => p.example === ex);
      if (group.length === 0) continue;
      const subjects: TimedSubject[] = [];
      for (const p of group) {
        const wasmFile = path.join(tmp, `timed-${ex.name}-${p.role}.wasm`);
        await writeFile(wasmFile, p.wasm);
        subjects.push({ label: p.running.label, wasmFile, kind: ex.kind, pluginConfig: p.config.pluginConfig, rootId: p.config.rootId });
      }
      subjects.push({ label: `empty module (${ex.kind})`, wasmFile: emptyFile, kind: ex.kind });
      log(`time ${ex.name}: ${subjects.length} modules interleaved, ${opts.rounds} rounds in each of ${opts.processes} processes`);
      try {
        const t = await timeInProcesses(subjects, opts, opts.processes, tmp);
        const empty = t[t.length - 1];
        group.forEach((p, j) => timed.set(p, { timing: t[j], empty }));
        (emptyRuns[ex.kind] ??= []).push(empty);
      } catch (e) {
        ex.error = message(e);
        errors.push(`${ex.name}: ${ex.error}`);
        log(`error: ${ex.name}: ${ex.error}`);
      }
    }
    // The host-only rows: every example's empty-module rounds pooled.
    const baseline: Partial<Record<RequestKind, Timing>> = {};
    for (const [kind, runs] of Object.entries(emptyRuns)) baseline[kind as RequestKind] = mergeTimings(runs.map((t) => [t]))[0];

    // 4. Host calls per request, then the long memory runs (fresh hosts).
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i];
      const t = timed.get(p);
      if (!t) continue;
      const result: ModuleResult = {
        label: p.running.label,
        role: p.role,
        size: moduleSize(p.wasm),
        timing: t.timing,
        guestNs: t.timing.nsPerRequest - t.empty.nsPerRequest,
        empty: t.empty,
        hostCalls: hostCallsPerRequest(p.running),
        cost: costs[i],
        memory: null,
      };
      p.example[p.role] = result;
    }
    for (const p of pending) {
      if (p.role === "floor" || !p.example[p.role]) continue;
      const requests = memoryRequestsFor(p.example, p.example[p.role]!.timing.nsPerRequest, opts);
      log(`memory: ${p.running.label}, ${requests.toLocaleString("en-US")} requests`);
      try {
        p.example[p.role]!.memory = await memoryRun(
          { label: p.running.label, wasm: p.wasm, pluginConfig: p.config.pluginConfig, rootId: p.config.rootId },
          requests,
          opts.memoryWarmup,
        );
      } catch (e) {
        errors.push(`memory run of ${p.running.label}: ${message(e)}`);
      }
    }

    // 5. Cold builds in fresh processes.
    if (opts.coldBuildRuns > 0) {
      for (const ex of examples) {
        if (ex.error) continue;
        const runs = ex.seed ? opts.coldBuildRuns : Math.max(1, opts.otherColdBuildRuns);
        log(`cold build ${ex.name} ×${runs}`);
        try {
          ex.coldBuild = await coldBuild(ex.name, path.join(tmp, `cold-${ex.name}.wasm`), runs);
        } catch (e) {
          errors.push(`cold build of ${ex.name}: ${message(e)}`);
        }
      }
    }

    // 6. The local proxy.
    let proxy: ProxyResult;
    try {
      proxy = await proxyBench(opts.proxySeconds, tmp, log);
    } catch (e) {
      errors.push(`proxy: ${message(e)}`);
      proxy = { ran: false, reason: `failed: ${message(e)}` };
    }

    const versions: Record<string, string> = {
      "proxy-wasm-as": await packageVersionAt(REPO_ROOT),
      assemblyscript: await packageVersion("assemblyscript"),
      [PEER_SDK]: await packageVersion(PEER_SDK),
      "@assemblyscript/wasi-shim": await packageVersion("@assemblyscript/wasi-shim"),
      wabt: await packageVersion("wabt"),
      autocannon: await packageVersion("autocannon"),
    };
    return {
      date: new Date().toISOString(),
      command: context.command,
      quick: context.quick,
      machine,
      versions,
      options: opts,
      examples,
      baseline,
      proxy,
      errors,
      durationSeconds: (Date.now() - t0) / 1000,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function packageVersionAt(dir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { version: string };
  return pkg.version;
}
