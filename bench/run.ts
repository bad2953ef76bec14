// `npm run bench`: measures every example against the peer SDK and the WAT floors, prints the tables
// and writes docs/benchmarks.md and docs/benchmarks.svg. Exits non-zero only on errors (a build that
// fails, a module that misbehaves), never because a target was missed.
//
//   npm run bench                       full run (about 3 minutes on 2 cores), writes docs/
//   npm run bench -- --quick            counted cost of everything, time and memory on small counts,
//                                       no cold builds or proxy (under a minute); prints only
//   npm run bench -- --only add-header  some examples (comma-separated)
//   npm run bench -- --no-write         full run without touching docs/
//   npm run bench -- --out <dir>        write benchmarks.md/.svg/.json to <dir> instead of docs/
//   npm run bench -- --skip-proxy --skip-cold-build
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { chartSvg } from "./lib/chart.js";
import { REPO_ROOT } from "./lib/filters.js";
import { consoleReport, markdownReport } from "./lib/report.js";
import { type BenchResult, FULL, QUICK, runSuite, type SuiteOptions } from "./lib/suite.js";

const USAGE = "usage: npm run bench -- [--quick] [--only a,b] [--no-write] [--out <dir>] [--skip-proxy] [--skip-cold-build]";

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      "no-write": { type: "boolean", default: false },
      out: { type: "string" },
      "skip-proxy": { type: "boolean", default: false },
      "skip-cold-build": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
}

async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseOptions>["values"];
  try {
    ({ values } = parseOptions(argv));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const opts: SuiteOptions = { ...(values.quick ? QUICK : FULL) };
  if (values.only)
    opts.only = values.only
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  if (values["skip-proxy"]) opts.proxySeconds = 0;
  if (values["skip-cold-build"]) opts.coldBuildRuns = 0;

  const command = ["npm run bench", ...(argv.length ? ["--", ...argv] : [])].join(" ");
  const t0 = Date.now();
  const log = (line: string) => process.stderr.write(`bench: [${((Date.now() - t0) / 1000).toFixed(0)} s] ${line}\n`);
  let result: BenchResult;
  try {
    result = await runSuite(opts, { command, quick: values.quick }, log);
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(consoleReport(result) + "\n");

  // Quick and partial runs print only, unless --out says where to write.
  const partial = values.quick || !!opts.only || opts.proxySeconds === 0 || opts.coldBuildRuns === 0;
  const outDir = values.out ? path.resolve(values.out) : !values["no-write"] && !partial ? path.join(REPO_ROOT, "docs") : null;
  if (result.errors.length > 0) {
    process.stderr.write(`bench: ${result.errors.length} error(s); nothing written\n`);
    return 1;
  }
  if (outDir) {
    await mkdir(outDir, { recursive: true });
    const svg = chartSvg(result);
    if (svg) await writeFile(path.join(outDir, "benchmarks.svg"), svg);
    await writeFile(path.join(outDir, "benchmarks.md"), markdownReport(result, svg ? "benchmarks.svg" : null));
    if (values.out) await writeFile(path.join(outDir, "benchmarks.json"), JSON.stringify(result, null, 2) + "\n");
    process.stderr.write(
      `bench: wrote ${path.relative(process.cwd(), path.join(outDir, "benchmarks.md")) || "benchmarks.md"}${svg ? " and benchmarks.svg" : ""}\n`,
    );
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
