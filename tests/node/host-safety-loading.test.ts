// Loading and starting an untrusted module: one-line load errors, the start-up restriction,
// allocators that fail, and embedder callbacks that throw.

import { test } from "node:test";
import assert from "node:assert/strict";
import { HOST_FUNCTIONS, Status } from "../../src/abi.js";
import { createHost, Action, LogLevel } from "../../src/host/index.js";
import { RP, RS, watModule } from "../../src/host/wat-builder.js";

// ------------------------------------------------------------------ start-up restrictions

test("host calls during _initialize other than logging/WASI basics trap the VM (V8 in Envoy: restricted_callback)", async () => {
  const wasm = await watModule(
    (w) => `(func (export "_initialize")
      ${w.log("logging is fine")}
      (drop (call $environ_sizes_get (i32.const ${RP}) (i32.const ${RS})))
      (drop (call $proxy_get_property ${w.str("plugin_name")} (i32.const ${RP}) (i32.const ${RS}))))`,
  );
  const host = await createHost({ wasm });
  assert.equal(host.startVm(), false);
  assert.equal(host.failures[0].callback, "_initialize");
  assert.match(host.failures[0].message, /restricted_callback: proxy_get_property/);
  assert.ok(host.logMessages().includes("logging is fine"));
  assert.ok(host.logMessages(LogLevel.Error).some((m) => m.includes("restricted")));
});

test("_initialize then main(0, 0) run before the root context; _start only without _initialize", async () => {
  const wasm = await watModule(
    (w) => `(func (export "_initialize") ${w.log("init")})
      (func (export "main") (param i32 i32) (result i32) ${w.log("main")} (i32.const 0))
      (func (export "_start") ${w.log("start?!")})
      (func (export "proxy_on_context_create") (param i32 i32) ${w.log("root")})`,
  );
  const host = await createHost({ wasm });
  host.startVm();
  assert.deepEqual(host.logMessages(), ["init", "main", "root"]);
  const cmd = await watModule((w) => `(func (export "_start") ${w.log("start")})`);
  const h2 = await createHost({ wasm: cmd });
  h2.startVm();
  assert.deepEqual(h2.logMessages(), ["start"]);
});

// ------------------------------------------------------------------ loading

test("load errors are one clear line: missing marker, 0.1.0, imports the version lacks, env.abort, no allocator", async () => {
  const noMarker = await watModule(() => "", { version: "none" });
  await assert.rejects(createHost({ wasm: noMarker }), /Missing or unknown Proxy-Wasm ABI version/);
  const old = await watModule(() => "", { version: "0.1.0", importAll: false });
  await assert.rejects(createHost({ wasm: old }), /ABI 0\.1\.0/);
  const v020 = await watModule(() => "", { version: "0.2.0", forceImports: ["proxy_get_log_level"] });
  await assert.rejects(createHost({ wasm: v020 }), /missing import: env\.proxy_get_log_level \(ABI 0\.2\.0 does not have it/);
  const legacy = await watModule(() => "", { forceImports: ["proxy_get_configuration"] });
  await assert.rejects(createHost({ wasm: legacy }), /env\.proxy_get_configuration/);
  const abort = await watModule(() => "", { extraImports: ['(import "env" "abort" (func (param i32 i32 i32 i32)))'] });
  await assert.rejects(createHost({ wasm: abort }), /env\.abort \(AssemblyScript's default abort handler/);
  const noMalloc = await watModule(() => "", { noMalloc: true });
  const h = await createHost({ wasm: noMalloc });
  assert.equal(h.startVm(), false);
  assert.match(h.failures[0].message, /neither malloc nor proxy_on_memory_allocate/);
  await assert.rejects(createHost({ wasm: new Uint8Array([1, 2, 3]) }), /not a valid WebAssembly module/);
  await assert.rejects(createHost({ wasm: "/nonexistent/x.wasm" }), /cannot read the module \/nonexistent\/x\.wasm: ENOENT/);
  const message = await createHost({ wasm: noMarker }).then(
    () => "",
    (e: Error) => e.message,
  );
  assert.ok(message.length > 0 && !message.includes("\n"), "one line");
});

test("a 0.2.0 module (Go SDK style) runs; proxy_on_memory_allocate is used when malloc is absent", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_get_header_map_value (i32.const 0) ${w.str("a")} (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      ${w.logNum("continue=", "(call $proxy_continue_stream (i32.const 0))")}
      (i32.const 1))`,
    { version: "0.2.0", allocatorName: "proxy_on_memory_allocate" },
  );
  const host = await createHost({ wasm });
  assert.equal(host.abiVersion, "0.2.0");
  const s = host.httpStream();
  assert.equal(s.requestHeaders([["a", "value-a"]]), Action.Pause);
  assert.equal(s.request.paused, false); // resumed by proxy_continue_stream
  assert.deepEqual(host.logMessages(), ["value-a", "continue=0"]);
});

test("the allocator returning 0 or an out-of-bounds pointer is an error status, not a host crash", async () => {
  const wasm = await watModule(
    (w) => `(global $mode (mut i32) (i32.const 0))
      (func (export "malloc") (param i32) (result i32) (if (result i32) (global.get $mode) (then (i32.const -16)) (else (i32.const 0))))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        ${w.logNum("zero=", `(call $proxy_get_header_map_pairs (i32.const 0) (i32.const ${RP}) (i32.const ${RS}))`)}
        (global.set $mode (i32.const 1))
        ${w.logNum("oob=", `(call $proxy_get_header_map_value (i32.const 0) ${w.str("a")} (i32.const ${RP}) (i32.const ${RS}))`)}
        (i32.const 0))`,
    { noMalloc: true },
  );
  const host = await createHost({ wasm });
  host.httpStream().requestHeaders([["a", "b"]]);
  assert.deepEqual(host.logMessages(), [`zero=${Status.InvalidMemoryAccess}`, `oob=${Status.InvalidMemoryAccess}`]);
});

test("all ABI host functions are provided to a 0.2.1 module", async () => {
  // A module importing every 0.2.1 host function loads (the import object comes from src/abi.ts).
  const wasm = await watModule(() => "");
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
  assert.ok(HOST_FUNCTIONS.length > 30);
});

test("an exception from an embedder callback (a foreign function) fails that VM as a host error, not the test process", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_call_foreign_function ${w.str("boom")} (i32.const 0) (i32.const 0) (i32.const ${RP}) (i32.const ${RS})))
      (i32.const 0))`,
  );
  const host = await createHost({
    wasm,
    foreignFunctions: {
      boom: () => {
        throw new Error("embedder bug");
      },
    },
  });
  const s = host.httpStream();
  assert.equal(s.requestHeaders([]), Action.Pause);
  assert.equal(host.failures[0].kind, "host_error");
  assert.match(host.failures[0].message, /embedder bug/);
  assert.equal(s.sentHttpResponse?.status, 503);
});
