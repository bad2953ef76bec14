// `npm run hostile`: tries every hostile filter and hostile input (cases.ts) against
// `proxy-wasm-as run` and the harness and prints the table of what was tried and what happened.
//   --short          fewer requests per case (what CI runs)
//   --write <file>   also replace the table between the hostile-table markers in <file>
import { readFile, writeFile } from "node:fs/promises";
import { CASES, runAll, table } from "./cases.js";

const args = process.argv.slice(2);
const short = args.includes("--short");
const w = args.indexOf("--write");
const target = w >= 0 ? args[w + 1] : undefined;
const n = short ? 2 : 8;

const started = performance.now();
const results = await runAll(CASES, n, (r) =>
  process.stderr.write(`hostile: ${r.name}: ${r.answers}, ${r.peakRssMiB} MiB, exit ${r.exitMs} ms\n`),
);
const text = table(results, n);
process.stdout.write(`${text}\n`);
process.stderr.write(
  `hostile: ${results.length} cases in ${((performance.now() - started) / 1000).toFixed(1)} s (node ${process.version})\n`,
);

if (target) {
  const doc = await readFile(target, "utf8");
  const begin = "<!-- hostile-table:begin -->";
  const end = "<!-- hostile-table:end -->";
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${target} has no ${begin} ... ${end} block to replace`);
  await writeFile(target, `${doc.slice(0, i + begin.length)}\n${text}\n${doc.slice(j)}`);
}

// The done criteria of docs/security.md: an answer to every request, under 1.5 GiB, out within 3 s.
const bad = results.filter((r) => /no answer/.test(r.answers) || r.peakRssMiB > 1536 || !(r.exitMs < 3000));
if (bad.length > 0) {
  process.stderr.write(`hostile: FAILED: ${bad.map((r) => r.name).join(", ")}\n`);
  process.exitCode = 1;
}
