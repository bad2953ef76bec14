// The SDK against the ABI table (src/abi.ts): its @external declarations, its exports, and whether
// its public API reaches every host function of ABI 0.2.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { WASI_ENOSYS, HOST_FUNCTIONS, MODULE_EXPORTS, findHostFunction, findExport, hostFunctionsFor, signatureOf, type WasmType } from "../../src/abi.js";
import { parseModule } from "../../src/wasm/binary.js";
import { verifyModule } from "../../src/verify.js";
import { createHost } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

// AssemblyScript parameter types as Wasm types (wasm32).
const AS_TO_WASM: Record<string, WasmType> = { u32: "i32", i32: "i32", usize: "i32", bool: "i32", u64: "i64", i64: "i64", f32: "f32", f64: "f64" };

function parseExternals(source: string): Array<{ module: string; name: string; params: WasmType[]; result: WasmType | null }> {
  const out = [];
  const re = /@external\("([^"]+)",\s*"([^"]+)"\)\s*export declare function (\w+)\(([^)]*)\):\s*(\w+);/g;
  for (const m of source.matchAll(re)) {
    const params = m[4]
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => {
        const t = p.split(":")[1].trim();
        assert.ok(AS_TO_WASM[t], `unknown AS type ${t} in ${m[2]}`);
        return AS_TO_WASM[t];
      });
    assert.equal(m[3], m[2], "declaration named like its import");
    out.push({ module: m[1], name: m[2], params, result: m[5] === "void" ? null : AS_TO_WASM[m[5]] });
  }
  return out;
}

test("every @external declaration of the SDK matches the ABI table", () => {
  const source = readFileSync(path.join(repoRoot, "assembly", "imports.ts"), "utf8");
  const externals = parseExternals(source);
  const declaredCount = (source.match(/@external\(/g) ?? []).length;
  assert.equal(externals.length, declaredCount, "every @external line was parsed");
  for (const e of externals) {
    const row = findHostFunction(e.name);
    assert.ok(row, `${e.name} is not in the ABI table`);
    assert.equal(e.module, row.module);
    const sig = `(${e.params.join(", ")}) -> ${e.result ?? "nil"}`;
    assert.equal(sig, signatureOf(row), `${e.name} signature`);
  }
  // And the SDK declares every 0.2.1 host function (none missing, none from 0.1.0 only).
  const declared = new Set(externals.map((e) => e.name));
  for (const f of hostFunctionsFor("0.2.1")) assert.ok(declared.has(f.name), `SDK does not declare ${f.name}`);
  for (const f of HOST_FUNCTIONS.filter((f) => f.until === "0.1.0")) assert.ok(!declared.has(f.name), `SDK declares 0.1.0-only ${f.name}`);
});

test("every proxy_on_* export of the SDK is spelled and typed as the ABI table says", () => {
  const source = readFileSync(path.join(repoRoot, "assembly", "exports.ts"), "utf8");
  const names = [...source.matchAll(/export function (\w+)\(/g)].map((m) => m[1]);
  const callbacks = MODULE_EXPORTS.filter((f) => f.name.startsWith("proxy_on_") && !f.doc.startsWith("Envoy extension"));
  for (const cb of callbacks) assert.ok(names.includes(cb.name), `SDK does not export ${cb.name}`);
  for (const n of names) assert.ok(findExport(n, "0.2.1") || n.startsWith("proxy_abi_version_"), `${n} is not an ABI export`);
});

test("the public API reaches every ABI 0.2.1 host function (a filter using it imports them all)", async () => {
  const { wasm } = await built("tests/fixtures/filters/sdk-surface.ts");
  const m = parseModule(wasm);
  const imported = new Map(m.imports.filter((i) => i.kind === "function").map((i) => [i.name, i] as const));
  const missing = hostFunctionsFor("0.2.1").filter((f) => !imported.has(f.name)).map((f) => f.name);
  assert.deepEqual(missing, [], "no public SDK method reaches these host functions");
  for (const [name, imp] of imported) {
    assert.equal(imp.module, "env", `${name} comes from env`);
    const row = findHostFunction(name)!;
    assert.equal(`(${imp.params!.join(", ")}) -> ${imp.results!.length ? imp.results!.join(", ") : "nil"}`, signatureOf(row), name);
  }
});

test("modules importing Envoy's WASI stubs and env shims pass verify and load in the host (ENOSYS)", async () => {
  const wabt = await (await import("wabt")).default();
  const wat = `(module
    (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
    (import "env" "pthread_equal" (func $pthread_equal (param i32 i32) (result i32)))
    (import "env" "emscripten_notify_memory_growth" (func $grow (param i32)))
    (memory (export "memory") 1)
    (global $status (mut i32) (i32.const 0))
    (func (export "proxy_abi_version_0_2_1"))
    (func (export "malloc") (param i32) (result i32) (i32.const 1024))
    (func (export "proxy_on_context_create") (param i32 i32))
    (func (export "proxy_on_configure") (param i32 i32) (result i32)
      (global.set $status (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 16)))
      (call $grow (i32.const 0))
      ;; accept only if path_open answered ENOSYS and pthread_equal(7, 7) is 1
      (i32.and (i32.eq (global.get $status) (i32.const ${WASI_ENOSYS})) (call $pthread_equal (i32.const 7) (i32.const 7)))))`;
  const wasm = new Uint8Array(wabt.parseWat("stubs.wat", wat).toBinary({}).buffer);
  const v = verifyModule(wasm);
  assert.equal(v.ok, true, JSON.stringify(v.problems));
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
});
