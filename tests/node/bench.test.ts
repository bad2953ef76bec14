// The bench's own logic (bench/): its pieces run on tiny counts so CI knows `npm run bench` still
// works. No timing is asserted: only that the pieces measure, judge and report what they should.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { compileWat } from "../../src/host/wat-builder.js";
import { chartSvg, escapeXml } from "../../bench/lib/chart.js";
import { checkSeedBehaviour } from "../../bench/lib/checks.js";
import {
  buildOurs,
  buildPeer,
  compileFixture,
  emptyModule,
  exampleConfig,
  floorFile,
  listExamples,
  moduleSize,
  SEED_HOST_CALLS,
  SEEDS,
} from "../../bench/lib/filters.js";
import { hostCallsPerRequest, memoryRun, requestKind, start, timeInterleaved, type Timing } from "../../bench/lib/harness.js";
import { mergeTimings, timeInProcesses } from "../../bench/lib/timing-processes.js";
import { consoleReport, extraHostCalls, guestRatio, markdownReport, renderTable, SIZE_LIMIT, targets } from "../../bench/lib/report.js";
import { processCpuSeconds, proxyBench } from "../../bench/lib/proxy.js";
import { median, percentile, ratio } from "../../bench/lib/stats.js";
import { memoryRequestsFor, QUICK, runSuite, type BenchResult, type ModuleResult, type SuiteOptions } from "../../bench/lib/suite.js";

const TINY: SuiteOptions = {
  ...QUICK,
  rounds: 2,
  batchMs: 2,
  warmupMs: 2,
  memoryRequests: 3000,
  memoryWarmup: 500,
  coldBuildRuns: 1,
  proxySeconds: 0,
  peerWithOurFlags: false,
  processes: 2,
};

test("median and ratio", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), /empty/);
  assert.equal(ratio(1, 4), 0.25);
  assert.ok(Number.isNaN(ratio(1, 0)));
  assert.ok(Number.isNaN(ratio(1, -5)));
});

test("renderTable writes a markdown table with right-aligned number columns", () => {
  const t = renderTable({
    headers: ["name", "bytes"],
    rows: [
      ["a", "1"],
      ["long-name", "12,345"],
    ],
  });
  const lines = t.split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[1], /^\| -+ \| -+: \|$/);
  assert.equal(lines[2], "| a         |      1 |");
  assert.equal(new Set(lines.map((l) => l.length)).size, 1, "every line has the same width");
});

test("the WAT floors pass verifyModule, behave like their seed filter and make exactly its host calls", async () => {
  for (const name of SEEDS) {
    const wasm = await compileFixture(floorFile(name));
    const r = await start({ label: `floor ${name}`, wasm });
    checkSeedBehaviour(name, r);
    assert.deepEqual(hostCallsPerRequest(r, 20, 20), SEED_HOST_CALLS[name]);
  }
});

test("the behaviour check rejects a module that does something else", async () => {
  const addHeader = await compileFixture(floorFile("add-header"));
  const r = await start({ label: "add-header floor", wasm: addHeader });
  assert.throws(
    () => checkSeedBehaviour("x-service-name", r),
    /add-header floor does not behave like the x-service-name filter: no local response/,
  );
  const empty = await start({ label: "empty", wasm: await emptyModule() });
  assert.throws(
    () => checkSeedBehaviour("add-header", empty),
    /empty does not behave like the add-header filter: response x-service-name \[\]/,
  );
});

test("our add-header build and the peer SDK's behave alike; ours makes only the filter's host call", async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "bench-test-"));
  try {
    const ours = await buildOurs("add-header", tmp);
    const peer = await buildPeer("add-header", tmp);
    assert.ok(peer.byteLength > 0 && ours.wasm.byteLength > 0);
    const o = await start({ label: "ours", wasm: ours.wasm });
    const p = await start({ label: "peer", wasm: peer });
    checkSeedBehaviour("add-header", o);
    checkSeedBehaviour("add-header", p);
    assert.deepEqual(hostCallsPerRequest(o, 10, 10), SEED_HOST_CALLS["add-header"]);
    const sz = moduleSize(ours.wasm);
    assert.equal(sz.raw, ours.wasm.byteLength);
    assert.ok(sz.gzip > 0 && sz.gzip < sz.raw);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("timeInterleaved reports a median per module from every round", async () => {
  const a = await start({ label: "floor", wasm: await compileFixture(floorFile("add-header")) });
  const b = await start({ label: "empty", wasm: await emptyModule() });
  const t = timeInterleaved([a, b], { rounds: 3, batchMs: 1, warmupMs: 1 });
  assert.deepEqual(
    t.map((x) => x.label),
    ["floor", "empty"],
  );
  for (const x of t) {
    assert.equal(x.rounds.length, 3);
    assert.equal(x.wallRounds.length, 3);
    assert.equal(x.nsPerRequest, median(x.rounds));
    assert.equal(x.wallNsPerRequest, median(x.wallRounds));
    assert.ok(x.nsPerRequest > 0 && x.requestsPerBatch >= 50);
    assert.ok(Math.abs(x.requestsPerSecond - 1e9 / x.nsPerRequest) < 1e-6);
  }
});

test("mergeTimings pools every process's rounds, reports their median and keeps each process's own", () => {
  const t = (label: string, rounds: number[]): Timing => ({
    label,
    nsPerRequest: median(rounds),
    requestsPerSecond: 1e9 / median(rounds),
    wallNsPerRequest: median(rounds) + 1,
    rounds,
    wallRounds: rounds.map((r) => r + 1),
    requestsPerBatch: 100,
  });
  const [a, b] = mergeTimings([
    [t("a", [10, 12, 50]), t("b", [5, 5, 5])],
    [t("a", [11, 13, 14]), t("b", [6, 7, 8])],
  ]);
  assert.deepEqual(a.rounds, [10, 12, 50, 11, 13, 14]);
  assert.equal(a.nsPerRequest, 12.5, "the median of the pool, not of the two medians (12 and 13)");
  assert.deepEqual(a.processMedians, [12, 13]);
  assert.equal(a.wallNsPerRequest, 13.5);
  assert.equal(b.nsPerRequest, 5.5);
  assert.throws(() => mergeTimings([[t("a", [1])], [t("b", [1])]]), /disagree on module 1 \(a\)/);
});

test("guestRatio judges the median of the processes' own ratios, and lists each", () => {
  const timing = (processMedians: number[]) => ({ nsPerRequest: median(processMedians), processMedians }) as Timing;
  const empty = timing([100, 100, 100]);
  const mod = (medians: number[]) => ({ timing: timing(medians), empty, guestNs: median(medians) - 100 }) as ModuleResult;
  const g = guestRatio(mod([300, 500, 310]), mod([200, 200, 200]));
  assert.equal(g.value, 2.1, "ratios 2, 4 and 2.1: the process the machine disturbed is set aside");
  assert.equal(g.measured, "2.10×, median of 3 processes: 2.00×, 4.00×, 2.10× (pooled: 210 vs 100 ns)");
  const one = guestRatio(
    { ...mod([300]), timing: { nsPerRequest: 300 } as Timing, guestNs: 200 },
    { ...mod([200]), timing: { nsPerRequest: 200 } as Timing, guestNs: 100 },
  );
  assert.deepEqual(one, { value: 2, measured: "2.00× (200 vs 100 ns)" }, "one process: the ratio of the medians");
});

test("a timing process that fails says why in one line, and the bench goes on without that example", async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "pwa-timing-"));
  try {
    const opts = { rounds: 1, batchMs: 1, warmupMs: 1 };
    await assert.rejects(timeInProcesses([{ label: "gone", wasmFile: path.join(tmp, "gone.wasm"), kind: "http" }], opts, 1, tmp), {
      message: `timing process 1 of 1 failed: gone: cannot read ${path.join(tmp, "gone.wasm")}`,
    });
    await writeFile(path.join(tmp, "bad.wasm"), "not wasm");
    await assert.rejects(
      timeInProcesses([{ label: "bad", wasmFile: path.join(tmp, "bad.wasm"), kind: "http" }], opts, 1, tmp),
      (e: Error) => {
        assert.match(e.message, /^timing process 1 of 1 failed: .*\S/);
        assert.doesNotMatch(e.message, /Node\.js v\d/, "the reason, not Node's version banner");
        return true;
      },
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("memoryRun counts pages before and after warm-up and notices growth", async () => {
  const flat = await memoryRun({ label: "floor", wasm: await compileFixture(floorFile("x-service-name")) }, 2000, 200);
  assert.equal(flat.requests, 2000);
  assert.equal(flat.pagesAtStart, 1);
  assert.equal(flat.pagesAtEnd, 1);
  assert.equal(flat.flat, true);
  assert.ok(flat.requestsPerSecond > 0 && flat.requestsPerCpuSecond > 0);
  // A module that leaks: its allocator never frees, so every request's header values pile up.
  const leaky = await compileWat(`(module
    (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (data (i32.const 16) ":path")
    (func (export "proxy_abi_version_0_2_1"))
    (func (export "_initialize"))
    (func (export "proxy_on_memory_allocate") (param $n i32) (result i32) (local $p i32)
      (local.set $p (global.get $heap))
      (global.set $heap (i32.add (global.get $heap) (i32.const 4096)))
      (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
        (then (drop (memory.grow (i32.const 1)))))
      (local.get $p))
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (drop (call $get (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 4)))
      (i32.const 0)))`);
  const grows = await memoryRun({ label: "leaky", wasm: leaky }, 200, 50);
  assert.equal(grows.flat, false);
  assert.ok(grows.pagesAtEnd > grows.pagesAfterWarmup);
});

test("requestKind: network filters get TCP connections, HTTP filters get requests", async () => {
  const tcp = await compileWat(`(module (memory (export "memory") 1)
    (func (export "proxy_abi_version_0_2_1"))
    (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
    (func (export "proxy_on_downstream_data") (param i32 i32 i32) (result i32) (i32.const 0)))`);
  assert.equal(requestKind(tcp), "tcp");
  assert.equal(requestKind(await compileFixture(floorFile("add-header"))), "http");
  const r = await start({ label: "tcp", wasm: tcp });
  assert.deepEqual(hostCallsPerRequest(r, 5, 5), {});
});

test("examples are listed from the folder and configured from their WasmPlugin", async () => {
  const names = await listExamples();
  for (const s of SEEDS) assert.ok(names.includes(s), `${s} is listed`);
  assert.deepEqual([...names].sort(), names);
  const root = await mkdtemp(path.join(os.tmpdir(), "bench-examples-"));
  try {
    await mkdir(path.join(root, "examples", "a"), { recursive: true });
    await mkdir(path.join(root, "examples", "no-entry"), { recursive: true });
    await writeFile(path.join(root, "examples", "a", "index.ts"), "");
    await writeFile(
      path.join(root, "examples", "a", "wasmplugin.yaml"),
      "kind: Secret\n---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nspec:\n  pluginName: a-root\n  pluginConfig:\n    limit: 3\n    names: [x]\n",
    );
    assert.deepEqual(await listExamples(root), ["a"]);
    assert.deepEqual(await exampleConfig("a", root), { pluginConfig: '{"limit":3,"names":["x"]}', rootId: "a-root" });
    assert.deepEqual(await exampleConfig("no-entry", root), {});
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("memory runs: the seeds get the full count, other examples what fits in their time", () => {
  const opts = { ...QUICK, memoryRequests: 1_000_000, memoryWarmup: 10_000, otherMemorySeconds: 5 };
  assert.equal(memoryRequestsFor({ seed: true }, 50_000, opts), 1_000_000);
  assert.equal(memoryRequestsFor({ seed: false }, 2_000, opts), 1_000_000);
  assert.equal(memoryRequestsFor({ seed: false }, 20_000, opts), 250_000);
  assert.equal(memoryRequestsFor({ seed: false }, 10_000_000, opts), 100_000, "never fewer than 10× the warm-up");
  assert.equal(memoryRequestsFor({ seed: false }, 20_000, { ...opts, otherMemorySeconds: 0 }), 1_000_000);
});

test("extraHostCalls counts only calls beyond what the filter's code asks for", () => {
  assert.equal(extraHostCalls({ a: 2, b: 1 }, { a: 2, b: 1 }), 0);
  assert.equal(extraHostCalls({ a: 2, b: 1, c: 3 }, { a: 2, b: 1 }), 3);
  assert.equal(extraHostCalls({ a: 2.5 }, { a: 2 }), 0.5);
  assert.equal(extraHostCalls({ a: 1 }, { a: 2 }), 0);
});

test("the whole suite on tiny counts: one seed, every piece, then the tables, targets, markdown and chart", async () => {
  const result: BenchResult = await runSuite({ ...TINY, only: ["add-header"] }, { command: "test", quick: true });
  assert.deepEqual(result.errors, []);
  const [ex] = result.examples;
  assert.equal(ex.name, "add-header");
  for (const m of [ex.ours!, ex.peer!, ex.floor!]) {
    assert.ok(m.size.raw > 0);
    assert.ok(m.timing.nsPerRequest > 0);
    assert.equal(m.guestNs, m.timing.nsPerRequest - m.empty.nsPerRequest, "guest time is above the empty module timed with it");
    assert.equal(m.timing.rounds.length, 4, "two processes of two rounds, pooled");
    assert.equal(m.timing.processMedians?.length, 2);
  }
  assert.equal(result.baseline.http!.nsPerRequest, ex.ours!.empty.nsPerRequest, "one example: the host-only row is its empty module");
  assert.deepEqual(ex.ours!.hostCalls, SEED_HOST_CALLS["add-header"]);
  for (const m of [ex.ours!, ex.peer!]) assert.ok(m.cost!.instructions > ex.floor!.cost!.instructions);
  assert.ok(ex.peer!.cost!.allocations! > 0);
  assert.equal(ex.ours!.cost!.allocations, 0, "one context shared by every stream: nothing allocated per request");
  assert.equal(ex.floor!.cost!.instructions, 8);
  assert.equal(ex.ours!.memory!.requests, 3000);
  assert.equal(ex.peer!.memory!.requests, 3000);
  assert.equal(ex.floor!.memory, null);
  assert.equal(ex.coldBuild!.runsMs.length, 1);
  assert.equal(ex.coldBuild!.cpuRunsMs.length, 1, "the child reported its CPU time");
  assert.ok(ex.coldBuild!.medianCpuMs > 0);
  assert.equal(result.proxy.ran, false);

  const t = targets(result);
  const size = t.find((x) => x.what === "add-header: module size")!;
  assert.equal(size.met, ex.ours!.size.raw <= SIZE_LIMIT);
  const smaller = t.find((x) => x.what.startsWith("add-header: smaller than"))!;
  assert.equal(smaller.met, ex.peer!.size.raw / ex.ours!.size.raw >= 3);
  assert.equal(t.find((x) => x.what.includes("host calls beyond"))!.met, true);
  assert.equal(t.find((x) => x.what.startsWith("`run`"))!.met, null);
  const floor = t.find((x) => x.what === "add-header: guest time vs WAT floor (V8)")!;
  assert.match(
    floor.measured,
    /^(\d+\.\d\d×|n\/a), median of 2 processes: (\d+\.\d\d×|n\/a), (\d+\.\d\d×|n\/a) \(pooled: -?[\d,]+ vs -?[\d,]+ ns\)$/,
    "each process's own ratio (n/a when a tiny run shows no guest time)",
  );
  assert.equal(floor.met, "not judged", "a quick run's time ratios are printed, not judged");

  const text = consoleReport(result);
  for (const heading of [
    "Module size",
    "Cost per request, counted",
    "Time per request",
    "Host calls per request",
    "Guest memory",
    "Cold `build`",
    "Targets",
  ]) {
    assert.ok(text.includes(heading), `console report has "${heading}"`);
  }
  const md = markdownReport(result, "benchmarks.svg");
  assert.match(md, /^# Benchmarks\n/);
  assert.ok(md.includes("![Module size and guest cost per request of the seed filters](benchmarks.svg)"));
  assert.ok(md.includes(`| add-header     |`) || md.includes("| add-header |"));
  assert.ok(!md.includes("/work/"), "no machine paths in the report");
  const svg = chartSvg(result);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.equal((svg.match(/<rect /g) ?? []).length, 1 + 3 + 2 * 3, "background, legend, and 3 bars per panel");
  assert.equal(escapeXml(`a<b & "c"`), "a&lt;b &amp; &quot;c&quot;");
});

test("the proxy piece: add-header and a no-callback module through `proxy-wasm-as run`, loaded briefly", async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "bench-proxy-"));
  try {
    const r = await proxyBench(0.3, tmp, () => {});
    if (!r.ran) {
      // Only acceptable when the run command is not built in this tree.
      assert.match(r.reason, /not in this tree/);
      return;
    }
    assert.equal(r.filter, "add-header");
    for (const l of [r.throughput.none, r.throughput.filter, r.latency.none, r.latency.filter]) {
      assert.ok(l.requests > 0, `${l.label}: requests went through`);
      assert.equal(l.errors, 0);
      assert.ok(l.p99Ms >= l.p50Ms && l.p50Ms > 0);
      if (process.platform === "linux") assert.ok(l.proxyCpuUsPerRequest !== null && l.proxyCpuUsPerRequest >= 0);
    }
    assert.ok(r.latency.rate >= 100 && r.latency.rate <= 2000);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("processCpuSeconds reads this process's CPU time on Linux", () => {
  const t = processCpuSeconds(process.pid);
  if (process.platform !== "linux") return assert.equal(t, null);
  assert.ok(t !== null && t > 0);
  assert.equal(processCpuSeconds(2 ** 30), null, "no such process");
});

test("percentile by nearest rank", () => {
  assert.equal(percentile([3, 1, 2, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
  assert.equal(percentile([5], 99), 5);
  assert.ok(Number.isNaN(percentile([], 50)));
});
