// Times modules in fresh Node processes, one after another, and pools their rounds.
//
// Why processes: the same modules timed in two processes differ by several percent (V8 compiles the
// host's JavaScript and lays out its heap differently each time), more than rounds within one process
// differ. Pooling the rounds of a few processes and taking the median steadies the numbers.
// Why --no-liftoff: that is how Envoy runs V8 (proxy-wasm-cpp-host's v8.cc turns Liftoff off), so
// every Wasm function is compiled by TurboFan from the start and no timing depends on when tier-up
// happened.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { RequestKind, Timing, TimingOptions } from "./harness.js";
import { median } from "./stats.js";

/** V8 flags of the timing processes: Envoy's V8 configuration. */
export const TIMING_NODE_FLAGS = ["--no-liftoff"];

/** What a timing process needs to start one module. */
export interface TimedSubject {
  label: string;
  wasmFile: string;
  kind: RequestKind;
  pluginConfig?: string;
  rootId?: string;
}

/** The job file a timing process reads (timing-child.ts). */
export interface TimingJob {
  subjects: TimedSubject[];
  options: TimingOptions;
}

const CHILD = fileURLToPath(new URL("./timing-child.js", import.meta.url));
/** A timing process takes seconds; one that takes this long is stuck (a filter that loops). */
const CHILD_TIMEOUT_MS = 300_000;

/**
 * Runs `processes` timing processes in turn, each timing every subject interleaved, and pools the
 * results (mergeTimings). `dir` holds the job file.
 */
export async function timeInProcesses(subjects: TimedSubject[], options: TimingOptions, processes: number, dir: string): Promise<Timing[]> {
  const job = path.join(dir, "timing-job.json");
  await writeFile(job, JSON.stringify({ subjects, options } satisfies TimingJob));
  const runs: Timing[][] = [];
  for (let i = 0; i < processes; i++) {
    const { stdout } = await promisify(execFile)(process.execPath, [...TIMING_NODE_FLAGS, CHILD, job], {
      maxBuffer: 64 << 20,
      timeout: CHILD_TIMEOUT_MS,
    }).catch((e: Error & { stderr?: string; killed?: boolean }) => {
      const said = (e.stderr ?? "").split("\n").find((l) => l.startsWith("timing: "));
      const why = said ? said.slice("timing: ".length) : e.killed ? `no answer in ${CHILD_TIMEOUT_MS / 1000} s` : e.message.split("\n")[0];
      throw new Error(`timing process ${i + 1} of ${processes} failed: ${why}`);
    });
    runs.push(JSON.parse(stdout) as Timing[]);
  }
  return mergeTimings(runs);
}

/**
 * One Timing per module from several processes' Timings (same modules, same order): every round of
 * every process pooled, the median of the pool reported, and each process's own median kept.
 */
export function mergeTimings(runs: Timing[][]): Timing[] {
  if (runs.length === 0) throw new Error("no timing runs to merge");
  return runs[0].map((first, i) => {
    const mine = runs.map((r) => r[i]);
    if (mine.some((t) => t.label !== first.label)) throw new Error(`timing runs disagree on module ${i + 1} (${first.label})`);
    const rounds = mine.flatMap((t) => t.rounds);
    const wallRounds = mine.flatMap((t) => t.wallRounds);
    const nsPerRequest = median(rounds);
    return {
      label: first.label,
      nsPerRequest,
      requestsPerSecond: 1e9 / nsPerRequest,
      wallNsPerRequest: median(wallRounds),
      rounds,
      wallRounds,
      requestsPerBatch: first.requestsPerBatch,
      processMedians: mine.map((t) => t.nsPerRequest),
    };
  });
}
