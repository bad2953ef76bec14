// The guest is untrusted: a trap, proc_exit or stack overflow in any callback must never throw out
// of the host or crash Node, and a failing VM must only affect its own streams (fail-closed 503 or
// fail-open bypass, then a fresh VM).

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, Action, LogLevel, type Host } from "../../src/host/index.js";
import { RP, watModule } from "../../src/host/wat-builder.js";
import { findExport } from "../../src/abi.js";

// ------------------------------------------------------------------ traps in every callback

/** Every callback a module can export (its signature comes from the ABI table), with what makes the host call it. */
const CALLBACKS: Array<{ name: string; ret?: string; drive: (h: Host) => void; stream?: boolean }> = [
  { name: "_initialize", drive: (h) => h.startVm() },
  { name: "proxy_on_vm_start", ret: "(i32.const 1)", drive: (h) => h.startVm() },
  { name: "proxy_on_configure", ret: "(i32.const 1)", drive: (h) => h.startPlugin() },
  { name: "proxy_on_context_create", drive: (h) => h.startVm() },
  {
    name: "proxy_on_request_headers",
    ret: "(i32.const 0)",
    drive: (h) => void h.httpStream().requestHeaders([[":path", "/"]]),
    stream: true,
  },
  {
    name: "proxy_on_request_body",
    ret: "(i32.const 0)",
    stream: true,
    drive: (h) => {
      const s = h.httpStream();
      s.requestHeaders([[":path", "/"]]);
      s.requestBody("x", true);
    },
  },
  {
    name: "proxy_on_request_trailers",
    ret: "(i32.const 0)",
    stream: true,
    drive: (h) => {
      const s = h.httpStream();
      s.requestHeaders([[":path", "/"]]);
      s.requestTrailers([["t", "1"]]);
    },
  },
  {
    name: "proxy_on_response_headers",
    ret: "(i32.const 0)",
    stream: true,
    drive: (h) => {
      const s = h.httpStream();
      s.requestHeaders([[":path", "/"]], true);
      s.responseHeaders([[":status", "200"]]);
    },
  },
  {
    name: "proxy_on_response_body",
    ret: "(i32.const 0)",
    stream: true,
    drive: (h) => {
      const s = h.httpStream();
      s.requestHeaders([], true);
      s.responseHeaders([[":status", "200"]]);
      s.responseBody("b", true);
    },
  },
  {
    name: "proxy_on_response_trailers",
    ret: "(i32.const 0)",
    stream: true,
    drive: (h) => {
      const s = h.httpStream();
      s.requestHeaders([], true);
      s.responseHeaders([[":status", "200"]]);
      s.responseTrailers([["t", "1"]]);
    },
  },
  { name: "proxy_on_done", ret: "(i32.const 1)", drive: (h) => h.httpStream().complete() },
  { name: "proxy_on_log", drive: (h) => h.httpStream().complete() },
  { name: "proxy_on_delete", drive: (h) => h.httpStream().complete() },
  {
    name: "proxy_on_tick",
    drive: (h) => {
      h.startPlugin();
      h.tick();
    },
  },
  {
    name: "proxy_on_http_call_response",
    drive: (h) => {
      h.httpStream().requestHeaders([[":path", "/"]]);
      h.httpCalls[0].respond({ body: "ok" });
    },
  },
  {
    name: "proxy_on_queue_ready",
    drive: (h) => {
      h.startPlugin();
      h.enqueueSharedQueue("q", "msg");
    },
  },
  {
    name: "proxy_on_foreign_function",
    drive: (h) => {
      h.startPlugin();
      h.callForeignFunction(7, "args");
    },
  },
  {
    name: "proxy_on_grpc_receive",
    drive: (h) => {
      h.httpStream().requestHeaders([[":path", "/"]]);
      h.grpcCalls[0].respond("m");
    },
  },
  {
    name: "proxy_on_grpc_close",
    drive: (h) => {
      h.httpStream().requestHeaders([[":path", "/"]]);
      h.grpcCalls[0].close(14, "unavailable");
    },
  },
  { name: "proxy_on_new_connection", ret: "(i32.const 0)", drive: (h) => void h.tcpConnection() },
  {
    name: "proxy_on_downstream_data",
    ret: "(i32.const 0)",
    drive: (h) => void h.tcpConnection().downstreamData("x"),
  },
  {
    name: "proxy_on_upstream_data",
    ret: "(i32.const 0)",
    drive: (h) => void h.tcpConnection().upstreamData("x"),
  },
  { name: "proxy_on_downstream_connection_close", drive: (h) => h.tcpConnection().closeDownstream() },
  {
    name: "proxy_on_upstream_connection_close",
    drive: (h) => {
      const c = h.tcpConnection();
      c.closeUpstream();
    },
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
        body += `(drop (call $proxy_http_call ${w.str("cluster")} ${w.pairs([
          [":path", "/"],
          [":method", "GET"],
          [":authority", "a"],
        ])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 100) (i32.const ${RP})))
          (drop (call $proxy_grpc_call ${w.str("grpc")} ${w.str("svc")} ${w.str("M")} (i32.const 0) (i32.const 0) ${w.str("req")} (i32.const 100) (i32.const ${RP})))`;
      }
      if (c.name === trapIn) {
        body += w.log(`boom in ${c.name}`, LogLevel.Critical);
        body +=
          how === "unreachable"
            ? "(unreachable)"
            : how === "proc_exit"
              ? "(call $proc_exit (i32.const 3))"
              : "(call $recurse (i32.const 0))";
      }
      const abi = findExport(c.name);
      if (!abi) throw new Error(`${c.name} is not in the ABI table`);
      const params = abi.params.length ? `(param ${abi.params.map((p) => p.type).join(" ")})` : "";
      const result = abi.results.length ? `(result ${abi.results.join(" ")})` : "";
      return `(func (export "${c.name}") ${params} ${result} ${body} ${c.ret ?? ""})`;
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
  assert.equal(s.sentHttpResponse?.status, 503);
  assert.equal(s.sentHttpResponse?.details, "wasm_fail_stream");
  assert.equal(s.sentHttpResponse?.grpcStatus, 14);
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
  assert.equal(
    s.responseHeaders([
      [":status", "200"],
      ["x-up", "1"],
    ]),
    Action.Pause,
  );
  assert.deepEqual(s.response.headers, [[":status", "503"]]);
  assert.equal(s.sentHttpResponse?.details, "wasm_fail_stream");
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
    wasm: await watModule(
      (w) => `
  (global $stream (mut i32) (i32.const 0))
  (func (export "proxy_on_response_headers") (param $id i32) (param i32 i32) (result i32) (global.set $stream (local.get $id)) (i32.const 1))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32) ${w.log("boom", 4)} (unreachable))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32) ${w.log("trailers")} (i32.const 0))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 1))) (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $proxy_set_effective_context (global.get $stream)))
    (drop (call $proxy_continue_stream (i32.const 1))))`,
    ),
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
  assert.equal(s.sentHttpResponse?.status, 503);
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
  assert.equal(s.sentHttpResponse?.status, 503);
  assert.equal(s.responseBody("y", true), Action.Pause);
  s.complete();
});

test("fail-open: the failing filter is bypassed for that stream", async () => {
  const host = await createHost({ wasm: await everyCallback("proxy_on_request_body"), failurePolicy: "fail-open" });
  const s = host.httpStream();
  assert.equal(s.requestHeaders([[":path", "/"]]), Action.Continue);
  assert.equal(s.requestBody("abc", true), Action.Continue);
  assert.equal(s.sentHttpResponse, null);
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
  assert.equal(s.sentHttpResponse?.status, 503);
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
  assert.equal(b.sentHttpResponse?.status, 503);
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
  assert.equal(s.sentHttpResponse?.status, 503);
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
  const wasm = (fn: string) => watModule(() => `(func (export "${fn}") (param i32 i32) (result i32) (i32.const 0))`);
  const a = await createHost({ wasm: await wasm("proxy_on_vm_start") });
  assert.equal(a.startVm(), false);
  assert.equal(a.failures[0].kind, "start_failed");
  const b = await createHost({ wasm: await wasm("proxy_on_configure") });
  assert.equal(b.startVm(), true);
  assert.equal(b.startPlugin(), false);
  assert.equal(b.failures[0].kind, "configure_failed");
});
