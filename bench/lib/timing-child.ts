// A timing process (timing-processes.ts starts it): reads a job file, starts every module on its own
// host, times them interleaved and prints the Timings as JSON on stdout. On failure it writes one line,
// "timing: <what failed>", to stderr and exits 1.
import { readFile } from "node:fs/promises";
import { start, timeInterleaved } from "./harness.js";
import type { TimingJob } from "./timing-processes.js";

try {
  const job = JSON.parse(await readFile(process.argv[2], "utf8")) as TimingJob;
  const running = [];
  for (const s of job.subjects) {
    const wasm = new Uint8Array(await readFile(s.wasmFile).catch(() => Promise.reject(new Error(`${s.label}: cannot read ${s.wasmFile}`))));
    running.push(await start({ label: s.label, wasm, pluginConfig: s.pluginConfig, rootId: s.rootId }, s.kind));
  }
  process.stdout.write(JSON.stringify(timeInterleaved(running, job.options)));
} catch (e) {
  process.stderr.write(`timing: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}\n`);
  process.exitCode = 1;
}
