// The guest is untrusted: bad pointers and lengths, malformed or oversized maps, a memory ceiling
// and buffers that would exhaust the host are refused with a status, never a crash.

import { test } from "node:test";
import assert from "node:assert/strict";
import { hostFunctionsFor, Status } from "../../src/abi.js";
import { createHost, LogLevel } from "../../src/host/index.js";
import { RP, RS, watModule } from "../../src/host/wat-builder.js";

const BAD = 0xffffff00;

// ------------------------------------------------------------------ pointers and lengths

/** Pointer-like parameters by name. */
const isPointer = (n: string) =>
  n.endsWith("_data") ||
  n.startsWith("return_") ||
  n === "iovs" ||
  n === "buf" ||
  n === "environ" ||
  n === "environ_buf" ||
  n === "argv" ||
  n === "argv_buf";
const isSize = (n: string) => n.endsWith("_size");
/** Ids that exist in the test module (queue 1, counter 4), so calls get past their lookups. */
const defaultArg = (n: string) => (n === "queue_id" ? "(i32.const 1)" : n === "metric_id" ? "(i32.const 4)" : "(i32.const 0)");

test("every host function checks every pointer: a bad one gives INVALID_MEMORY_ACCESS or another error, never success or a crash", async () => {
  const cases: string[] = [];
  const labels: string[] = [];
  const wasm = await watModule((w) => {
    const valid = w.ptr("x-key:value.with-enough-bytes-for-any-read");
    const okPairs = /i32\.const (\d+)\) \(i32\.const (\d+)/.exec(
      w.pairs([
        [":path", "/"],
        [":method", "GET"],
        [":authority", "a"],
      ]),
    )!;
    const body: string[] = [];
    for (const f of hostFunctionsFor("0.2.1")) {
      const ptrs = f.params.map((p, i) => [p.name, i] as const).filter(([n]) => isPointer(n));
      for (const [badName, badIndex] of ptrs) {
        const args = f.params.map((p, i) => {
          if (p.type === "i64") return "(i64.const 1)";
          if (i === badIndex) return `(i32.const ${BAD})`;
          if (p.name.startsWith("return_")) return `(i32.const ${i % 2 === 0 ? RP : RS})`;
          if (isPointer(p.name)) return /headers|metadata|trailers/.test(p.name) ? `(i32.const ${okPairs[1]})` : `(i32.const ${valid})`;
          if (isSize(p.name)) return /headers|metadata|trailers/.test(p.name) ? `(i32.const ${okPairs[2]})` : "(i32.const 4)";
          return defaultArg(p.name);
        });
        const label = `${f.name}(${badName})=`;
        labels.push(label);
        body.push(w.logNum(label, `(call $${f.name} ${args.join(" ")})`));
      }
      // A valid pointer with a length running past the end of memory.
      for (const [i, p] of f.params.entries()) {
        if (!isSize(p.name) || i === 0 || !isPointer(f.params[i - 1].name)) continue;
        const args = f.params.map((q, j) => {
          if (q.type === "i64") return "(i64.const 1)";
          if (j === i) return "(i32.const -1)";
          if (q.name.startsWith("return_")) return `(i32.const ${j % 2 === 0 ? RP : RS})`;
          if (isPointer(q.name)) return `(i32.const ${valid})`;
          if (isSize(q.name)) return "(i32.const 4)";
          return defaultArg(q.name);
        });
        const label = `${f.name}(${p.name}=max)=`;
        labels.push(label);
        body.push(w.logNum(label, `(call $${f.name} ${args.join(" ")})`));
      }
    }
    cases.push(...body);
    return `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) ${body.join("\n")} (i32.const 0))
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (drop (call $proxy_register_shared_queue (i32.const ${valid}) (i32.const 4) (i32.const ${RP})))
        (drop (call $proxy_define_metric (i32.const 0) (i32.const ${valid}) (i32.const 4) (i32.const ${RP})))
        (drop (call $proxy_enqueue_shared_queue (i32.const 1) (i32.const ${valid}) (i32.const 4)))
        (i32.const 1))`;
  });
  // Everything the calls look up exists ("x-ke" is the 4 bytes at the valid pointer), so each call
  // gets as far as touching the bad pointer.
  const host = await createHost({
    wasm,
    vmId: "x-ke",
    properties: { "x-ke": "property" },
    foreignFunctions: { "x-ke": () => new Uint8Array([1]) },
  });
  host.setSharedData("x-ke", "shared");
  const s = host.httpStream();
  assert.doesNotThrow(() =>
    s.requestHeaders([
      [":path", "/"],
      ["x-ke", "v"],
    ]),
  );
  assert.equal(host.failures.length, 0, JSON.stringify(host.failures));
  const results = new Map<string, number>();
  for (const m of host.logMessages(LogLevel.Info)) {
    const label = labels.find((l) => m.startsWith(l) && /^\d+$/.test(m.slice(l.length)));
    if (label) results.set(label, Number(m.slice(label.length)));
  }
  assert.equal(results.size, labels.length, "every case logged its status");
  const notInvalid = [...results].filter(([, st]) => st !== Status.InvalidMemoryAccess).map(([l, st]) => l + st);
  // Every lookup succeeds, so each call reaches the bad pointer and must report it.
  assert.deepEqual(notInvalid, []);
  assert.equal(s.sentHttpResponse, null, "no local response from a call with a bad pointer");
  assert.ok(cases.length > 60, `${cases.length} cases`);
});

test("WASI functions check pointers too (EFAULT), and random_get is capped at 64 KiB", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("fd_write=", `(call $fd_write (i32.const 1) (i32.const ${BAD}) (i32.const 1) (i32.const ${RP}))`)}
      (i32.store (i32.const 300) (i32.const ${BAD})) (i32.store (i32.const 304) (i32.const 10))
      ${w.logNum("fd_write_buf=", `(call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const ${RP}))`)}
      ${w.logNum("fd_write_badfd=", `(call $fd_write (i32.const 7) (i32.const 300) (i32.const 1) (i32.const ${RP}))`)}
      ${w.logNum("clock=", `(call $clock_time_get (i32.const 0) (i64.const 0) (i32.const ${BAD}))`)}
      ${w.logNum("clock_id=", `(call $clock_time_get (i32.const 9) (i64.const 0) (i32.const ${RP}))`)}
      ${w.logNum("random=", `(call $random_get (i32.const ${BAD}) (i32.const 16))`)}
      ${w.logNum("random_big=", `(call $random_get (i32.const 1024) (i32.const 65537))`)}
      ${w.logNum("environ=", `(call $environ_get (i32.const ${BAD}) (i32.const 2000))`)}
      ${w.logNum("environ_sizes=", `(call $environ_sizes_get (i32.const ${BAD}) (i32.const ${RS}))`)}
      ${w.logNum("args_sizes=", `(call $args_sizes_get (i32.const ${RP}) (i32.const ${BAD}))`)}
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, env: { A: "1" } });
  host.httpStream().requestHeaders([]);
  assert.deepEqual(host.logMessages(), [
    "fd_write=21",
    "fd_write_buf=21",
    "fd_write_badfd=8",
    "clock=21",
    "clock_id=58",
    "random=21",
    "random_big=28",
    "environ=21",
    "environ_sizes=21",
    "args_sizes=21",
  ]);
  assert.equal(host.failures.length, 0);
});

// ------------------------------------------------------------------ guest-supplied maps

test("malformed or oversized maps from the guest are rejected with BAD_ARGUMENT and change nothing", async () => {
  const mk = (parts: number[]) => {
    const b = new Uint8Array(parts.length * 4);
    const dv = new DataView(b.buffer);
    parts.forEach((x, i) => dv.setUint32(i * 4, x, true));
    return b;
  };
  const enc = new TextEncoder();
  const join = (...a: Uint8Array[]) => {
    const out = new Uint8Array(a.reduce((n, x) => n + x.length, 0));
    let p = 0;
    for (const x of a) out.set(x, p), (p += x.length);
    return out;
  };
  const cases: Array<[string, Uint8Array]> = [
    ["too-many-pairs", join(mk([1025]), new Uint8Array(1025 * 8 + 2050))],
    ["truncated-sizes", mk([2, 1, 1])],
    ["no-nul", join(mk([1, 1, 1]), enc.encode("abcd"))],
    ["trailing", join(mk([1, 1, 1]), enc.encode("a\0b\0zz"))],
    ["overrun", join(mk([1, 100, 1]), enc.encode("a\0b\0"))],
  ];
  const wasm = await watModule((w) => {
    const calls = cases
      .map(([name, bytes]) => w.logNum(`${name}=`, `(call $proxy_set_header_map_pairs (i32.const 0) ${w.str(bytes)})`))
      .join("\n");
    // Over 1 MiB: point at 1 MiB + 1 bytes of zeroed memory (grown below).
    return `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${calls}
      (drop (memory.grow (i32.const 17)))
      ${w.logNum("huge=", `(call $proxy_set_header_map_pairs (i32.const 0) (i32.const 131072) (i32.const 1048577))`)}
      ${w.logNum("local=", `(call $proxy_send_local_response (i32.const 500) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) ${w.str(cases[2][1])} (i32.const -1))`)}
      ${w.logNum("http_call=", `(call $proxy_http_call ${w.str("c")} ${w.str(cases[3][1])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 10) (i32.const ${RP}))`)}
      ${w.logNum("empty_ok=", `(call $proxy_set_header_map_pairs (i32.const 1) (i32.const 0) (i32.const 0))`)}
      (i32.const 0))`;
  });
  const host = await createHost({ wasm });
  const s = host.httpStream();
  s.requestHeaders([["keep", "me"]]);
  const info = host.logMessages(LogLevel.Info);
  assert.deepEqual(info, [
    ...cases.map(([n]) => `${n}=${Status.BadArgument}`),
    `huge=${Status.BadArgument}`,
    `local=${Status.BadArgument}`,
    `http_call=${Status.BadArgument}`,
    `empty_ok=${Status.BadArgument}`, // request trailers are not available in request headers
  ]);
  assert.deepEqual(s.request.headers, [["keep", "me"]]);
  assert.equal(s.sentHttpResponse, null);
  assert.equal(host.httpCalls.length, 0);
  assert.ok(host.logMessages(LogLevel.Warn).some((m) => m.includes("1025 pairs")));
});

// ------------------------------------------------------------------ memory ceiling

test("memoryLimitPages caps memory.grow inside the guest; the host's copies then fail cleanly", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("grow=", `(i32.add (memory.grow (i32.const 100)) (i32.const 1))`)}
      ${w.logNum("grow1=", `(memory.grow (i32.const 1))`)}
      (global.set $heap (i32.mul (memory.size) (i32.const 65536)))
      ${w.logNum("pairs=", `(call $proxy_get_header_map_pairs (i32.const 0) (i32.const ${RP}) (i32.const ${RS}))`)}
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, memoryLimitPages: 3 });
  host.httpStream().requestHeaders([["a", "b"]]);
  // grow(100) fails (-1 + 1 = 0); grow(1) succeeds from 2 pages; the allocator cannot grow past 3.
  assert.deepEqual(host.logMessages(), ["grow=0", "grow1=2", `pairs=${Status.InvalidMemoryAccess}`]);
  assert.equal(host.memoryBytes, 3 * 65536);
  await assert.rejects(createHost({ wasm, memoryLimitPages: 1 }), /initial memory is 2 pages, over memoryLimitPages 1/);
});

test("a module cannot exhaust the host: buffers stop at 64 MiB, header maps at 8 MiB (BAD_ARGUMENT and a warning)", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
      (local $i i32) (local $ok i32)
      (loop $l
        (if (i32.eqz (call $proxy_set_buffer_bytes (i32.const 0) (i32.const -1) (i32.const 0) (i32.const 65536) (i32.const 1048576)))
          (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 70))))
      ${w.logNum("appended=", "(local.get $ok)")}
      (i32.const 0))
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (local $i i32) (local $ok i32)
      (loop $l
        (if (i32.eqz (call $proxy_add_header_map_value (i32.const 0) ${w.str("x-big")} (i32.const 65536) (i32.const 1048576)))
          (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))
      ${w.logNum("added=", "(local.get $ok)")}
      (i32.const 0))`,
    { pages: 20 },
  );
  const host = await createHost({ wasm });
  const s = host.httpStream();
  s.requestHeaders([[":path", "/"]]);
  s.requestBody("x", true);
  assert.deepEqual(host.logMessages(LogLevel.Info), ["added=7", "appended=63"]);
  assert.equal(s.request.body.length, 1 + 63 * 1048576);
  assert.ok(host.logMessages(LogLevel.Warn).some((m) => m.includes("refused to grow a buffer")));
  assert.equal(host.failures.length, 0);
});
