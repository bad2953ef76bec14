// The bench's deterministic cost measure: the counting copy of a module counts exactly the
// instructions and calls that ran, and the counting build of a filter counts its allocations, frees
// and collections.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { compileWat } from "../../src/host/wat-builder.js";
import {
  CALLS_GLOBAL,
  FUNCTION_CALLS_PREFIX,
  FUNCTION_GLOBAL_PREFIX,
  INSTRUCTIONS_GLOBAL,
  instrumentCounting,
} from "../../bench/lib/instrument.js";
import { buildOurs, compileFixture, floorFile } from "../../bench/lib/filters.js";
import { COST_REQUESTS, measureCost } from "../../bench/lib/cost.js";
import { costTable, costTargets } from "../../bench/lib/cost-report.js";

// $count(n) loops n times; per iteration 4 instructions up to br_if and 5 after it; the exit takes the
// br_if (4), then the result (1). $pick has an if/else: condition and `if` (2), one arm (1).
const COUNTED = `(module
  (func $count (export "count") (param $n i32) (result i32)
    (local $i i32)
    block $done
      loop $top
        local.get $i
        local.get $n
        i32.ge_u
        br_if $done
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $top
      end
    end
    local.get $i)
  (func $pick (export "pick") (param $c i32) (result i32)
    local.get $c
    if (result i32)
      i32.const 10
    else
      i32.const 20
    end)
  (func (export "both") (param $n i32) (result i32)
    local.get $n
    call $count
    local.get $n
    call $pick
    i32.add)
  (func (export "empty")))`;

test("the counting copy counts every executed instruction and function entry, nothing else", async () => {
  const wasm = await instrumentCounting(await compileWat(COUNTED));
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(wasm)));
  const instructions = exports[INSTRUCTIONS_GLOBAL] as WebAssembly.Global;
  const calls = exports[CALLS_GLOBAL] as WebAssembly.Global;
  const run = (name: string, ...args: number[]) => {
    const i0 = instructions.value as bigint;
    const c0 = calls.value as bigint;
    const result = (exports[name] as (...a: number[]) => number)(...args);
    return { result, instructions: Number((instructions.value as bigint) - i0), calls: Number((calls.value as bigint) - c0) };
  };
  assert.deepEqual(run("count", 0), { result: 0, instructions: 5, calls: 1 });
  assert.deepEqual(run("count", 3), { result: 3, instructions: 3 * 9 + 4 + 1, calls: 1 });
  assert.deepEqual(run("pick", 1), { result: 10, instructions: 3, calls: 1 });
  assert.deepEqual(run("pick", 0), { result: 20, instructions: 3, calls: 1 });
  // 5 of its own, count(2) = 23, pick = 3.
  assert.deepEqual(run("both", 2), { result: 12, instructions: 5 + 23 + 3, calls: 3 });
  assert.deepEqual(run("empty"), { result: undefined, instructions: 0, calls: 1 });
});

test("the profiling copy counts each function's own instructions and entries (bench:profile)", async () => {
  const wasm = await instrumentCounting(await compileWat(COUNTED), true);
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(wasm)));
  (exports.both as (n: number) => number)(2);
  const own = (prefix: string) =>
    Object.fromEntries(
      Object.entries(exports)
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, g]) => [k.slice(prefix.length), Number((g as WebAssembly.Global).value as bigint)]),
    );
  const instructions = own(FUNCTION_GLOBAL_PREFIX);
  // The unnamed exports get wabt's generated names; the named ones keep theirs.
  assert.equal(instructions.count, 23);
  assert.equal(instructions.pick, 3);
  assert.equal(
    Object.values(instructions).reduce((a, b) => a + b, 0),
    5 + 23 + 3,
    "the parts add up to the whole",
  );
  assert.equal(Number((exports[INSTRUCTIONS_GLOBAL] as WebAssembly.Global).value as bigint), 31);
  const calls = own(FUNCTION_CALLS_PREFIX);
  assert.equal(calls.count, 1);
  assert.equal(calls.pick, 1);
  assert.equal(
    Object.values(calls).reduce((a, b) => a + b, 0),
    3,
  );
});

test("the cost of a seed filter, its counting build and its WAT floor", async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "bench-cost-"));
  try {
    const ours = await buildOurs("x-service-name", tmp);
    const counting = await buildOurs("x-service-name", tmp, true);
    assert.ok(counting.wasm.byteLength > ours.wasm.byteLength, "the counting build carries its counters");
    const cost = await measureCost({ label: "x-service-name", wasm: ours.wasm }, "http", counting.wasm);
    // x-service-name: it makes a context per stream and allocates (add-header, with one shared
    // context, allocates nothing per request).
    assert.ok(cost.instructions > 145, "more than the floor's work");
    assert.ok(cost.calls >= 5, "at least the exported callbacks of a request");
    // Every allocation of a request is freed again in the long run.
    assert.ok(cost.allocations !== null && cost.frees !== null && cost.gcPer1000 !== null);
    // The collections run every 1000 / gcPer1000 requests: a window of COST_REQUESTS may catch the
    // frees of the blocks one period made before it, or miss those of its last period.
    const perPeriod = cost.allocations * (1000 / cost.gcPer1000);
    assert.ok(
      Math.abs(cost.allocations - cost.frees) * COST_REQUESTS <= perPeriod + 1,
      `${cost.allocations} allocations, ${cost.frees} frees per request, ${cost.gcPer1000} collections per 1,000`,
    );
    const again = await measureCost({ label: "x-service-name", wasm: ours.wasm }, "http", counting.wasm);
    assert.deepEqual(again, cost, "the same numbers every run");

    // The floor: its host calls' worth of code; its bump allocator takes the host's three header values.
    const floor = await measureCost({ label: "floor", wasm: await compileFixture(floorFile("x-service-name")) }, "http", null);
    assert.deepEqual(floor, { instructions: 145, calls: 4, allocations: 3, frees: 0, gcPer1000: 0 });

    const r = {
      examples: [
        {
          name: "x-service-name",
          seed: true,
          ours: { role: "ours", cost, size: { raw: ours.wasm.byteLength } },
          peer: null,
          floor: { role: "floor", cost: floor },
        },
      ],
    } as never;
    const table = costTable(r);
    assert.equal(table.rows.length, 2);
    assert.equal(table.rows[1][1], "145");
    const target = costTargets(r).find((t) => t.what === "x-service-name: executed instructions per request")!;
    assert.equal(target.met, cost.instructions <= Math.floor(14666 / 3));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("size targets: the seed filters may not grow past their sizes before issue 15; other examples' changes are reported", () => {
  const example = (name: string, seed: boolean, raw: number) => ({
    name,
    seed,
    ours: { role: "ours", cost: null, size: { raw } },
    peer: null,
    floor: null,
  });
  const targets = (xsn: number, bodyRewrite: number) =>
    costTargets({
      examples: [example("x-service-name", true, xsn), example("body-rewrite", false, bodyRewrite), example("metrics", false, 7000)],
    } as never);
  const seeds = targets(6075, 14_599).find((t) => t.what === "seed module sizes not larger than before")!;
  assert.deepEqual([seeds.goal, seeds.measured, seeds.met], ["x-service-name ≤ 6,075 B", "6,075 B", true]);
  assert.equal(targets(6076, 14_599).find((t) => t.what === "seed module sizes not larger than before")!.met, false);
  const others = targets(6000, 14_700).find((t) => t.what === "other examples' size change since d10635b")!;
  assert.equal(others.met, "reported");
  assert.equal(others.measured, "1 of 2 not larger; larger: body-rewrite +101 B");
  assert.equal(targets(6000, 14_000).find((t) => t.what.startsWith("other examples"))!.measured, "2 of 2 not larger");
});
