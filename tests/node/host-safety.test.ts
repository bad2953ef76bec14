// The guest is untrusted: bad pointers, malformed maps, traps, proc_exit, memory growth and
// calls during VM start must never throw out of the host or crash Node, and a failing VM must
// only affect its own streams (fail-closed 503 or fail-open bypass, then a fresh VM).
import { test } from "node:test";
import assert from "node:assert/strict";
import { HOST_FUNCTIONS, hostFunctionsFor, Status } from "../../src/abi.js";
import { createHost, Action, LogLevel, type Host } from "../../src/host/index.js";
import { RP, RS, WatBuilder, compileWat, watModule } from "../../src/host/wat-builder.js";

const BAD = 0xffffff00;

// ------------------------------------------------------------------ traps in every callback

/** Every callback a module can export, with what to do to make the host call it. */
const CALLBACKS: Array<{ name: string; sig: string; ret?: string; drive: (h: Host) => void; stream?: boolean }> = [
  { name: "_initialize", sig: "", drive: (h) => h.startVm() },
  { name: "proxy_on_vm_start", sig: "(param i32 i32)", ret: "(i32.const 1)", drive: (h) => h.startVm() },
  { name: "proxy_on_configure", sig: "(param i32 i32)", ret: "(i32.const 1)", drive: (h) => h.startPlugin() },
  { name: "proxy_on_context_create", sig: "(param i32 i32)", drive: (h) => h.startVm() },
  { name: "proxy_on_request_headers", sig: "(param i32 i32 i32)", ret: "(i32.const 0)", drive: (h) => void h.httpStream().requestHeaders([[":path", "/"]]), stream: true },
  {
    name: "proxy_on_request_body", sig: "(param i32 i32 i32)", ret: "(i32.const 0)", stream: true,
    drive: (h) => { const s = h.httpStream(); s.requestHeaders([[":path", "/"]]); s.requestBody("x", true); },
  },
  {
    name: "proxy_on_request_trailers", sig: "(param i32 i32)", ret: "(i32.const 0)", stream: true,
    drive: (h) => { const s = h.httpStream(); s.requestHeaders([[":path", "/"]]); s.requestTrailers([["t", "1"]]); },
  },
  {
    name: "proxy_on_response_headers", sig: "(param i32 i32 i32)", ret: "(i32.const 0)", stream: true,
    drive: (h) => { const s = h.httpStream(); s.requestHeaders([[":path", "/"]], true); s.responseHeaders([[":status", "200"]]); },
  },
  {
    name: "proxy_on_response_body", sig: "(param i32 i32 i32)", ret: "(i32.const 0)", stream: true,
    drive: (h) => { const s = h.httpStream(); s.requestHeaders([], true); s.responseHeaders([[":status", "200"]]); s.responseBody("b", true); },
  },
  {
    name: "proxy_on_response_trailers", sig: "(param i32 i32)", ret: "(i32.const 0)", stream: true,
    drive: (h) => { const s = h.httpStream(); s.requestHeaders([], true); s.responseHeaders([[":status", "200"]]); s.responseTrailers([["t", "1"]]); },
  },
  { name: "proxy_on_done", sig: "(param i32)", ret: "(i32.const 1)", drive: (h) => h.httpStream().complete() },
  { name: "proxy_on_log", sig: "(param i32)", drive: (h) => h.httpStream().complete() },
  { name: "proxy_on_delete", sig: "(param i32)", drive: (h) => h.httpStream().complete() },
  { name: "proxy_on_tick", sig: "(param i32)", drive: (h) => { h.startPlugin(); h.tick(); } },
  {
    name: "proxy_on_http_call_response", sig: "(param i32 i32 i32 i32 i32)",
    drive: (h) => { h.httpStream().requestHeaders([[":path", "/"]]); h.httpCalls[0].respond({ body: "ok" }); },
  },
  { name: "proxy_on_queue_ready", sig: "(param i32 i32)", drive: (h) => { h.startPlugin(); h.enqueue("q", "msg"); } },
  { name: "proxy_on_foreign_function", sig: "(param i32 i32 i32)", drive: (h) => { h.startPlugin(); h.callForeignFunction(7, "args"); } },
  {
    name: "proxy_on_grpc_receive", sig: "(param i32 i32 i32)",
    drive: (h) => { h.httpStream().requestHeaders([[":path", "/"]]); h.grpcCalls[0].respond("m"); },
  },
  {
    name: "proxy_on_grpc_close", sig: "(param i32 i32 i32)",
    drive: (h) => { h.httpStream().requestHeaders([[":path", "/"]]); h.grpcCalls[0].close(14, "unavailable"); },
  },
  { name: "proxy_on_new_connection", sig: "(param i32)", ret: "(i32.const 0)", drive: (h) => void h.tcpConnection() },
  { name: "proxy_on_downstream_data", sig: "(param i32 i32 i32)", ret: "(i32.const 0)", drive: (h) => void h.tcpConnection().downstreamData("x") },
  { name: "proxy_on_upstream_data", sig: "(param i32 i32 i32)", ret: "(i32.const 0)", drive: (h) => void h.tcpConnection().upstreamData("x") },
  { name: "proxy_on_downstream_connection_close", sig: "(param i32 i32)", drive: (h) => h.tcpConnection().closeDownstream() },
  {
    name: "proxy_on_upstream_connection_close", sig: "(param i32 i32)",
    drive: (h) => { const c = h.tcpConnection(); c.closeUpstream(); },
  },
];

/** A module exporting every callback; `trapIn` logs "boom in <name>" at CRITICAL then traps. */
async function everyCallback(trapIn: string, how: "unreachable" | "proc_exit" | "recursion" = "unreachable"): Promise<Uint8Array> {
  return watModule((w) => {
    const fns = CALLBACKS.map((c) => {
      let body = "";
      if (c.name === "proxy_on_vm_start") {
        body += `(drop (call $proxy_set_tick_period_milliseconds (i32.const 10)))
          (drop (call $proxy_register_shared_queue ${w.str("q")} (i32.const ${RP})))`;
      }
      if (c.name === "proxy_on_request_headers") {
        body += `(drop (call $proxy_http_call ${w.str("cluster")} ${w.pairs([[":path", "/"], [":method", "GET"], [":authority", "a"]])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 100) (i32.const ${RP})))
          (drop (call $proxy_grpc_call ${w.str("grpc")} ${w.str("svc")} ${w.str("M")} (i32.const 0) (i32.const 0) ${w.str("req")} (i32.const 100) (i32.const ${RP})))`;
      }
      if (c.name === trapIn) {
        body += w.log(`boom in ${c.name}`, LogLevel.Critical);
        body += how === "unreachable" ? "(unreachable)" : how === "proc_exit" ? "(call $proc_exit (i32.const 3))" : "(call $recurse (i32.const 0))";
      }
      const result = c.ret ? "(result i32)" : "";
      return `(func (export "${c.name}") ${c.sig} ${result} ${body} ${c.ret ?? ""})`;
    });
    return `(func $recurse (param i32) (call $recurse (i32.add (local.get 0) (i32.const 1))))\n` + fns.join("\n");
  });
}

for (const cb of CALLBACKS) {
  test(`a trap in ${cb.name} fails the VM, is reported with the callback and the module's message`, async () => {
    const host = await createHost({ wasm: await everyCallback(cb.name) });
    assert.doesNotThrow(() => cb.drive(host));
    assert.equal(host.failures.length, 1, JSON.stringify(host.failures));
    const f = host.failures[0];
    assert.equal(f.callback, cb.name);
    assert.equal(f.kind, "trap");
    assert.match(f.message, /unreachable/);
    assert.equal(f.abortMessage, `boom in ${cb.name}`);
    assert.equal(host.failed, true);
    // The next stream gets a fresh VM that works (Envoy's FAIL_RELOAD) unless start itself fails.
    if (!["_initialize", "proxy_on_vm_start", "proxy_on_configure", "proxy_on_context_create"].includes(cb.name)) {
      const next = host.httpStream();
      assert.equal(host.vmCount, 2);
      assert.equal(host.failed, false);
      if (cb.name !== "proxy_on_request_headers") assert.equal(next.requestHeaders([[":path", "/"]]), Action.Continue);
    }
  });
}

test("fail-closed: the stream that hit the trap gets a 503 local reply, later callbacks are not run", async () => {
  const host = await createHost({ wasm: await everyCallback("proxy_on_request_headers") });
  const s = host.httpStream();
  assert.equal(s.requestHeaders([[":path", "/"]]), Action.Pause);
  assert.equal(s.localResponse?.status, 503);
  assert.equal(s.localResponse?.details, "wasm_fail_stream");
  assert.equal(s.localResponse?.grpcStatus, 14);
  assert.equal(s.requestBody("x", true), Action.Pause);
  s.complete(); // log/done/delete are skipped on a failed VM, and nothing throws
  assert.equal(host.logs.filter((l) => l.level === LogLevel.Critical).length, 2); // module's message + the host's
});

test("fail-closed in the response path is Envoy's sendLocalReply: the 503 replaces a response whose headers are held, a sent one is reset", async () => {
  // Response headers not gone downstream yet (the trap is in their own callback): the client gets
  // the 503 instead of the upstream's response, with nothing of it left.
  let host = await createHost({ wasm: await everyCallback("proxy_on_response_headers") });
  let s = host.httpStream();
  assert.equal(s.requestHeaders([[":path", "/"]], true), Action.Continue);
  assert.equal(s.responseHeaders([[":status", "200"], ["x-up", "1"]]), Action.Pause);
  assert.deepEqual(s.response.headers, [[":status", "503"]]);
  assert.equal(s.localResponse?.details, "wasm_fail_stream");
  assert.equal(s.resetReason, null);
  assert.equal(s.responseBody("upstream body", false), Action.Pause);
  assert.equal(s.responseTrailers([["t", "1"]]), Action.Pause);
  assert.equal(s.response.body.length, 0);
  assert.deepEqual(s.response.trailers, []);
  s.complete();

  // Headers paused by the filter, body and trailers held; a trap on resume, in the body callback.
  // Envoy's commonContinue sends the headers on before it delivers the held body, so they are
  // downstream by then: the stream is reset, and the held trailers never reach the failed filter.
  host = await createHost({
    wasm: await watModule((w) => `
  (global $stream (mut i32) (i32.const 0))
  (func (export "proxy_on_response_headers") (param $id i32) (param i32 i32) (result i32) (global.set $stream (local.get $id)) (i32.const 1))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32) ${w.log("boom", 4)} (unreachable))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32) ${w.log("trailers")} (i32.const 0))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 1))) (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $proxy_set_effective_context (global.get $stream)))
    (drop (call $proxy_continue_stream (i32.const 1))))`),
  });
  s = host.httpStream();
  s.requestHeaders([[":path", "/"]], true);
  assert.equal(s.responseHeaders([[":status", "200"]]), Action.Pause);
  assert.equal(s.responseBody("held", false), Action.Pause);
  assert.equal(s.responseTrailers([["t", "1"]]), Action.Pause);
  host.tick();
  assert.equal(host.failures[0]?.callback, "proxy_on_response_body");
  assert.equal(s.response.header(":status"), "200");
  assert.equal(s.resetReason, "wasm_fail_stream");
  assert.equal(s.localResponse?.status, 503);
  assert.deepEqual(host.logMessages(LogLevel.Info), [], "the trailers callback is not run on the failed VM");
  s.complete();

  // Response headers already went downstream: the stream is reset, the 200 stays what was sent.
  host = await createHost({ wasm: await everyCallback("proxy_on_response_body") });
  s = host.httpStream();
  s.requestHeaders([[":path", "/"]], true);
  assert.equal(s.responseHeaders([[":status", "200"]]), Action.Continue);
  assert.equal(s.responseBody("x", false), Action.Pause);
  assert.equal(s.response.header(":status"), "200");
  assert.equal(s.resetReason, "wasm_fail_stream");
  assert.equal(s.localResponse?.status, 503);
  assert.equal(s.responseBody("y", true), Action.Pause);
  s.complete();
});

test("fail-open: the failing filter is bypassed for that stream", async () => {
  const host = await createHost({ wasm: await everyCallback("proxy_on_request_body"), failurePolicy: "fail-open" });
  const s = host.httpStream();
  assert.equal(s.requestHeaders([[":path", "/"]]), Action.Continue);
  assert.equal(s.requestBody("abc", true), Action.Continue);
  assert.equal(s.localResponse, null);
  assert.equal(s.bypassed, true);
  assert.equal(s.request.body.toString(), "abc");
  assert.equal(s.responseHeaders([[":status", "200"]], true), Action.Continue);
});

test("reloadOnFailure false keeps the failed VM: later streams get 503 (Envoy FAIL_CLOSED)", async () => {
  const host = await createHost({ wasm: await everyCallback("proxy_on_request_headers"), reloadOnFailure: false });
  host.httpStream().requestHeaders([[":path", "/"]]);
  const s = host.httpStream();
  assert.equal(host.vmCount, 1);
  assert.equal(s.requestHeaders([[":path", "/"]]), Action.Pause);
  assert.equal(s.localResponse?.status, 503);
});

test("a stream on the failed VM keeps failing while a new stream runs on a fresh VM", async () => {
  const host = await createHost({ wasm: await everyCallback("proxy_on_response_headers") });
  const a = host.httpStream();
  const b = host.httpStream();
  a.requestHeaders([], true);
  b.requestHeaders([], true);
  a.responseHeaders([[":status", "200"]]);
  assert.equal(host.failed, true);
  assert.equal(b.responseHeaders([[":status", "200"]]), Action.Pause); // same VM: fail-closed
  assert.equal(b.localResponse?.status, 503);
  const c = host.httpStream();
  c.requestHeaders([], true);
  assert.equal(c.responseHeaders([[":status", "500"]]), Action.Pause); // a fresh VM, same bug
  assert.equal(host.vmCount, 2);
  assert.equal(host.failures.length, 2);
});

test("proc_exit fails the VM like a trap, with its exit code", async () => {
  const host = await createHost({ wasm: await everyCallback("proxy_on_request_headers", "proc_exit") });
  const s = host.httpStream();
  assert.equal(s.requestHeaders([]), Action.Pause);
  assert.equal(host.failures[0].kind, "proc_exit");
  assert.equal(host.failures[0].message, "proc_exit(3)");
  assert.equal(s.localResponse?.status, 503);
});

test("unbounded recursion (stack overflow) is a trap, not a crash", async () => {
  const host = await createHost({ wasm: await everyCallback("proxy_on_request_headers", "recursion") });
  host.httpStream().requestHeaders([]);
  assert.equal(host.failures[0].kind, "trap");
  assert.equal(host.failures[0].callback, "proxy_on_request_headers");
});

test("one plugin's failure does not leak into another host's state", async () => {
  const bad = await createHost({ wasm: await everyCallback("proxy_on_request_headers") });
  const good = await createHost({ wasm: await everyCallback("none") });
  bad.httpStream().requestHeaders([]);
  const s = good.httpStream();
  assert.equal(s.requestHeaders([[":path", "/"]]), Action.Continue);
  assert.equal(good.failures.length, 0);
  assert.equal(bad.failures.length, 1);
});

test("proxy_on_vm_start or proxy_on_configure returning false fails start-up", async () => {
  const wasm = (fn: string) =>
    watModule(() => `(func (export "${fn}") (param i32 i32) (result i32) (i32.const 0))`);
  const a = await createHost({ wasm: await wasm("proxy_on_vm_start") });
  assert.equal(a.startVm(), false);
  assert.equal(a.failures[0].kind, "start_failed");
  const b = await createHost({ wasm: await wasm("proxy_on_configure") });
  assert.equal(b.startVm(), true);
  assert.equal(b.startPlugin(), false);
  assert.equal(b.failures[0].kind, "configure_failed");
});

// ------------------------------------------------------------------ pointers and lengths

/** Pointer-like parameters by name. */
const isPointer = (n: string) => n.endsWith("_data") || n.startsWith("return_") || n === "iovs" || n === "buf" || n === "environ" || n === "environ_buf" || n === "argv" || n === "argv_buf";
const isSize = (n: string) => n.endsWith("_size");
/** Ids that exist in the test module (queue 1, counter 4), so calls get past their lookups. */
const defaultArg = (n: string) => (n === "queue_id" ? "(i32.const 1)" : n === "metric_id" ? "(i32.const 4)" : "(i32.const 0)");

test("every host function checks every pointer: a bad one gives INVALID_MEMORY_ACCESS or another error, never success or a crash", async () => {
  const cases: string[] = [];
  const labels: string[] = [];
  const wasm = await watModule((w) => {
    const valid = w.ptr("x-key:value.with-enough-bytes-for-any-read");
    const okPairs = /i32\.const (\d+)\) \(i32\.const (\d+)/.exec(w.pairs([[":path", "/"], [":method", "GET"], [":authority", "a"]]))!;
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
  assert.doesNotThrow(() => s.requestHeaders([[":path", "/"], ["x-ke", "v"]]));
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
  assert.equal(s.localResponse, null, "no local response from a call with a bad pointer");
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
    const calls = cases.map(([name, bytes]) => w.logNum(`${name}=`, `(call $proxy_set_header_map_pairs (i32.const 0) ${w.str(bytes)})`)).join("\n");
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
  assert.equal(s.localResponse, null);
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
  assert.equal(s.localResponse?.status, 503);
});
