// Cold `build` time: `node dist/src/cli.js build <example>` in a fresh Node process each time, measured
// from spawn to exit (process start, compiler load, compile, optimize, verify, write).
import { spawn } from "node:child_process";
import path from "node:path";
import { firstError, REPO_ROOT } from "./filters.js";
import { median } from "./stats.js";

export interface ColdBuild {
  name: string;
  /** Wall time of each run, ms. */
  runsMs: number[];
  medianMs: number;
  /** CPU time (user + system, all threads) of each run's process, ms; empty when not reported. */
  cpuRunsMs: number[];
  medianCpuMs: number;
}

const CPU_MARK = "__proxy_wasm_as_bench_cpu_us";
/**
 * Loaded with --import before the CLI: reports the process's own CPU time on stderr as it exits
 * (other work on the machine stretches the wall time, much less the CPU time).
 */
const CPU_REPORTER = `data:text/javascript,process.on("exit",()=>{const c=process.cpuUsage();process.stderr.write("\\n${CPU_MARK} "+(c.user+c.system)+"\\n")})`;

/** The command line a user types, relative to the repository root. */
export function coldBuildCommand(name: string, outFile: string): string[] {
  return ["dist/src/cli.js", "build", path.join("examples", name, "index.ts"), "-o", outFile];
}

function once(args: string[]): Promise<{ wallMs: number; cpuMs: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ["--import", CPU_REPORTER, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const m = new RegExp(`${CPU_MARK} (\\d+)`).exec(stderr);
      stderr = stderr.replace(new RegExp(`\\n?${CPU_MARK} \\d+\\n?`), "");
      if (code === 0) resolve({ wallMs: ms, cpuMs: m ? Number(m[1]) / 1000 : null });
      else
        reject(
          new Error(`\`node ${args.join(" ")}\` exited with ${code}: ${firstError(stderr) || (stderr.trim().split("\n").pop() ?? "")}`),
        );
    });
  });
}

export async function coldBuild(name: string, outFile: string, runs: number): Promise<ColdBuild> {
  const runsMs: number[] = [];
  const cpuRunsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(coldBuildCommand(name, outFile));
    runsMs.push(r.wallMs);
    if (r.cpuMs !== null) cpuRunsMs.push(r.cpuMs);
  }
  return { name, runsMs, medianMs: median(runsMs), cpuRunsMs, medianCpuMs: cpuRunsMs.length ? median(cpuRunsMs) : NaN };
}
