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
}

/** The command line a user types, relative to the repository root. */
export function coldBuildCommand(name: string, outFile: string): string[] {
  return ["dist/src/cli.js", "build", path.join("examples", name, "index.ts"), "-o", outFile];
}

function once(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`\`node ${args.join(" ")}\` exited with ${code}: ${firstError(stderr) || (stderr.trim().split("\n").pop() ?? "")}`));
    });
  });
}

export async function coldBuild(name: string, outFile: string, runs: number): Promise<ColdBuild> {
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) runsMs.push(await once(coldBuildCommand(name, outFile)));
  return { name, runsMs, medianMs: median(runsMs) };
}
