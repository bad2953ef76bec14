#!/usr/bin/env node
// npm test's last step (after `npm run build:ts`): the SDK's type check, the as-pect suite and the
// Node suites, at the same time. Most Node test files wait on sockets, child processes and timers
// more than they compute, so the two cores have room for as-pect and tsc beside them.
//
// The Node suites' output streams as it comes; the other two are printed whole when they finish, each
// between two lines of it. The Node runner's closing lines (`# pass N`, `# fail N`, ... in TAP, the
// reporter when stdout is not a terminal, as with plain `node --test`) are held back and printed last,
// after one line with the three exit codes. The exit code is non-zero when any of the three failed.
//
// TEST_CONCURRENCY=N sets how many Node test files run at once (default 4). Test files run longest
// first (the list below, measured with the whole suite; a file not in it starts after them).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { run } from "node:test";
import * as reporters from "node:test/reporters";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const testsDir = path.join(root, "dist", "tests");

// The slowest files, slowest first: started first, they are not the last ones still running.
const LONGEST = [
  "init.test.js",
  "oci-registry.test.js",
  "package.test.js",
  "build.test.js",
  "bench.test.js",
  "oci-verified-push.test.js",
  "build-asconfig.test.js",
  "envoy-examples.test.js",
  "docs-run.test.js",
  "hostile-run.test.js",
  "config-schema.test.js",
  "bench-cost.test.js",
  "abi-conformance.test.js",
  "oci-image.test.js",
  "envoy-failures.test.js",
];

function testFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

function rank(file) {
  const i = LONGEST.indexOf(path.basename(file));
  return i < 0 ? LONGEST.length : i;
}

// `node tools/test.mjs <file.test.js>...` runs only those Node test files (ASPECT_FILES does the same
// for as-pect, see as-pect.config.js).
const named = process.argv.slice(2).map((f) => path.resolve(f));
const files = (named.length ? named : testFiles(testsDir)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const concurrency = Number(process.env.TEST_CONCURRENCY) || 4;
const tty = process.stdout.isTTY;
/** Runs `args` with node; resolves with its exit code and all its output. */
function node(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const chunks = [];
    child.stdout.on("data", (c) => chunks.push(c));
    child.stderr.on("data", (c) => chunks.push(c));
    const started = Date.now();
    child.on("close", (code, signal) => {
      const output = Buffer.concat(chunks).toString();
      resolve({ code: code ?? (signal ? 1 : 0), output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const summary = [];
const SUMMARY_LINE = /^(# |ℹ )(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /;
function nodeLine(line) {
  // spec colours its lines: the colour codes are stripped before matching
  if (SUMMARY_LINE.test(line.replace(/\x1b\[[0-9;]*m/g, ""))) return summary.push(line);
  // Not the closing block after all: what was held back goes out first, in order.
  for (const held of summary.splice(0)) process.stdout.write(`${held}\n`);
  process.stdout.write(`${line}\n`);
}

// node:test's run() keeps the order of `files` (node --test sorts them by name), each file in a
// process of its own as with node --test.
function nodeTests() {
  return new Promise((resolve) => {
    const started = Date.now();
    const perFile = new Map();
    let failed = false;
    const stream = run({ files, concurrency });
    stream.on("test:fail", (data) => {
      if (!data.todo) failed = true;
    });
    stream.on("test:pass", (data) => {
      if (data.nesting === 0 && data.file) perFile.set(data.file, (perFile.get(data.file) ?? 0) + data.details.duration_ms);
    });
    let partial = "";
    const out = stream.compose(tty ? new reporters.spec() : reporters.tap);
    out.on("data", (chunk) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop();
      for (const line of lines) nodeLine(line);
    });
    out.on("end", () => {
      if (partial) nodeLine(partial);
      const slowest = [...perFile].sort((a, b) => b[1] - a[1]).slice(0, 5);
      const seconds = (Date.now() - started) / 1000;
      resolve({ code: failed ? 1 : 0, seconds, slowest });
    });
  });
}
const nodeRun = nodeTests();

function side(name, args) {
  return node(args).then((r) => {
    process.stdout.write(`\n==== ${name} (exit ${r.code}, ${r.seconds.toFixed(1)} s) ====\n${r.output}`);
    process.stdout.write(`==== end of ${name} ====\n\n`);
    return r;
  });
}

const checkAssembly = side("check:assembly (tsc --noEmit -p assembly)", [
  path.join(root, "node_modules", "typescript", "bin", "tsc"),
  "--noEmit",
  "-p",
  "assembly",
]);
const aspect = side("test:as (as-pect)", [
  path.join(root, "node_modules", "@as-pect", "cli", "bin", "asp.js"),
  "--config",
  "as-pect.config.js",
]);

const results = [
  ["check:assembly", await checkAssembly],
  ["test:as", await aspect],
  ["test:node", await nodeRun],
];
const slowest = results[2][1].slowest.map(([f, ms]) => `${path.basename(f, ".test.js")} ${(ms / 1000).toFixed(0)} s`);
process.stdout.write(`slowest Node test files: ${slowest.join(", ")}\n`);
const failed = results.filter(([, r]) => r.code !== 0).map(([name]) => name);
process.stdout.write(
  `npm test: ${results.map(([name, r]) => `${name} exit ${r.code} (${r.seconds.toFixed(1)} s)`).join(", ")}` +
    (failed.length ? `; FAILED: ${failed.join(", ")}\n` : "\n"),
);
for (const line of summary) process.stdout.write(`${line}\n`);
process.exitCode = failed.length ? 1 : 0;
