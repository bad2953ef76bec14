// The stuck-guest time limit at the Wasm level: the load-time instrumentation (instrument.ts) and
// the clock the guest consults (time-limit.ts), without the host around them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { FUEL_GLOBAL_EXPORT, FUEL_TABLE_EXPORT, instrumentFuel } from "../../src/host/instrument.js";
import { GuestClock } from "../../src/host/time-limit.js";
import { compileWat } from "../../src/host/wat-builder.js";
import { built, repoRoot } from "./helpers.js";

const WAT = `(module (memory (export "memory") 1)
  (table 2 funcref)
  (global $g (mut i32) (i32.const 5))
  (func $spin (export "spin") (loop $l (br $l)))
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i))
  (func (export "boom") (param i32) (loop $l (br_if $l (i32.eqz (local.get 0)))) unreachable)
  (func (export "g") (result i32) (global.get $g)))`;

function instantiate(bytes: Uint8Array, limitMs: number): { exports: WebAssembly.Exports; clock: GuestClock } {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
  const clock = new GuestClock(limitMs);
  clock.attach(instance.exports, FUEL_TABLE_EXPORT, FUEL_GLOBAL_EXPORT);
  return { exports: instance.exports, clock };
}

test("a guest spinning in a loop traps with unreachable once its call passes the limit", async () => {
  const { bytes } = instrumentFuel(await compileWat(WAT));
  const { exports, clock } = instantiate(bytes, 100);
  clock.seq++;
  const t = performance.now();
  assert.throws(
    () => (exports.spin as () => void)(),
    (e: unknown) => e instanceof WebAssembly.RuntimeError && /unreachable/.test(e.message),
  );
  const ms = performance.now() - t;
  assert.ok(ms >= 100 && ms < 2000, `cut after ${ms} ms`);
  assert.equal(clock.expired, true);
});

test("work under the limit is untouched: results, the module's own table and globals", async () => {
  const { bytes, loops, functions } = instrumentFuel(await compileWat(WAT));
  assert.equal(loops, 3);
  assert.equal(functions, 4);
  const { exports, clock } = instantiate(bytes, 60_000);
  // Many calls, each short, each a new call for the clock: none is cut, however many there are.
  for (let i = 0; i < 50; i++) {
    clock.seq++;
    assert.equal((exports.count as (n: number) => number)(3_000_000), 3_000_000);
  }
  assert.equal(clock.expired, false);
  assert.equal((exports.g as () => number)(), 5);
});

test("a trap's offset in the instrumented module maps back to the same instruction in the original", async () => {
  const original = await compileWat(WAT);
  const { bytes, originalOffset } = instrumentFuel(original);
  const offsetOf = (exports: WebAssembly.Exports): number => {
    try {
      (exports.boom as (x: number) => void)(1);
    } catch (e) {
      const m = /wasm-function\[\d+\]:0x([0-9a-f]+)/.exec((e as Error).stack ?? "");
      return parseInt(m![1], 16);
    }
    throw new Error("boom did not trap");
  };
  const plain = new WebAssembly.Instance(new WebAssembly.Module(original as Uint8Array<ArrayBuffer>), {}).exports;
  const before = offsetOf(plain);
  const after = offsetOf(instantiate(bytes, 60_000).exports);
  assert.notEqual(after, before);
  assert.equal(originalOffset(after), before);
});

test("every example filter instruments into a valid module", async () => {
  const examples = readdirSync(path.join(repoRoot, "examples")).filter((d) => !d.startsWith("."));
  assert.ok(examples.length >= 10);
  for (const name of examples) {
    const { wasm } = await built(`examples/${name}/index.ts`);
    const r = instrumentFuel(wasm);
    assert.ok(WebAssembly.validate(r.bytes as Uint8Array<ArrayBuffer>), `${name}: instrumented module does not validate`);
    assert.ok(r.functions > 0, name);
  }
});

test("bytes that are not a module are refused with one line", () => {
  assert.throws(() => instrumentFuel(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])), /not a WebAssembly binary/);
});
