// The host's core: lifecycle order, header maps, local responses, logs, bodies and pausing,
// through hand-written WAT modules (so every byte the guest sends is under the test's control).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, Action, LogLevel, MapType, BufferType, Status, type Host } from "../../src/host/index.js";
import { WatBuilder, RP, RS, compileWat } from "../../src/host/wat-builder.js";

/** Logs `msg` at info. */
const log = (w: WatBuilder, msg: string) => w.log(msg);
/** Logs the bytes at (RP, RS) at info. */
const logResult = `(drop (call $proxy_log (i32.const 2) (i32.load (i32.const ${RP})) (i32.load (i32.const ${RS}))))`;
/** Logs prefix + the decimal value of an i32 expression. */
const logStatus = (w: WatBuilder, prefix: string, expr: string) => w.logNum(prefix, expr);

async function hostFor(
  body: (w: WatBuilder) => string,
  opts: Record<string, unknown> = {},
  build: Record<string, unknown> = {},
): Promise<Host> {
  const w = new WatBuilder();
  const wat = w.build({ body: body(w), ...build });
  return createHost({ wasm: await compileWat(wat), ...opts });
}

test("lifecycle: Envoy's order of callbacks (an HTTP stream logs before done/delete), ids of root and stream contexts", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "_initialize") ${log(w, "init")})
  (func (export "proxy_on_context_create") (param $id i32) (param $parent i32)
    (if (i32.eqz (local.get $parent)) (then ${log(w, "create root")}) (else ${log(w, "create stream")})))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) ${log(w, "vm start")} (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) ${log(w, "configure")} (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) ${log(w, "request headers")} (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) ${log(w, "response headers")} (i32.const 0))
  (func (export "proxy_on_done") (param i32) (result i32) ${log(w, "done")} (i32.const 1))
  (func (export "proxy_on_log") (param i32) ${log(w, "log")})
  (func (export "proxy_on_delete") (param i32) ${log(w, "delete")})`,
  );
  assert.equal(host.startVm(), true);
  assert.equal(host.startPlugin(), true);
  const http = host.httpStream();
  assert.equal(http.id, 2);
  assert.equal(host.rootContextId, 1);
  assert.equal(http.requestHeaders([[":path", "/"]], true), Action.Continue);
  assert.equal(http.responseHeaders([[":status", "200"]], true), Action.Continue);
  http.complete();
  assert.deepEqual(host.logMessages(), [
    "init",
    "create root",
    "vm start",
    "configure",
    "create stream",
    "request headers",
    "response headers",
    "log",
    "done",
    "delete",
  ]);
  assert.deepEqual(host.logs[0], { level: LogLevel.Info, message: "init", contextId: 0, vm: 0, source: "filter" });
});

test("header maps: get/add/replace/remove, NOT_FOUND for a missing header, order and lower-casing", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    ${logStatus(w, "missing=", `(call $proxy_get_header_map_value (i32.const 0) ${w.str("x-nope")} (i32.const ${RP}) (i32.const ${RS}))`)}
    (drop (call $proxy_get_header_map_value (i32.const 0) ${w.str("X-Foo")} (i32.const ${RP}) (i32.const ${RS})))
    ${logResult}
    (drop (call $proxy_add_header_map_value (i32.const 0) ${w.str("X-Added")} ${w.str("one")}))
    (drop (call $proxy_add_header_map_value (i32.const 0) ${w.str("x-added")} ${w.str("two")}))
    (drop (call $proxy_replace_header_map_value (i32.const 0) ${w.str("x-foo")} ${w.str("replaced")}))
    (drop (call $proxy_remove_header_map_value (i32.const 0) ${w.str("x-gone")}))
    (drop (call $proxy_add_header_map_value (i32.const 0) ${w.str(":new-pseudo")} ${w.str("p")}))
    (i32.const 0))`,
  );
  const http = host.httpStream();
  http.requestHeaders([
    [":method", "GET"],
    [":path", "/x"],
    ["X-Foo", "bar"],
    ["x-gone", "1"],
    ["x-gone", "2"],
    ["keep", "k"],
  ]);
  assert.deepEqual(host.logMessages(), ["missing=1", "bar"]);
  assert.deepEqual(http.request.headers, [
    [":method", "GET"],
    [":path", "/x"],
    [":new-pseudo", "p"],
    ["keep", "k"],
    ["x-added", "one"],
    ["x-added", "two"],
    ["x-foo", "replaced"],
  ]);
  assert.equal(http.request.header("X-ADDED"), "one");
  assert.deepEqual(http.request.headerValues("x-added"), ["one", "two"]);
});

test("header maps: pairs round-trip exact bytes (invalid UTF-8), empty map gives pointer 0 and size 0", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $proxy_get_header_map_pairs (i32.const 0) (i32.const ${RP}) (i32.const ${RS})))
    ;; write the same bytes back as the response-to-be trailers? no: set them as the request map again
    (drop (call $proxy_set_header_map_pairs (i32.const 0) (i32.load (i32.const ${RP})) (i32.load (i32.const ${RS}))))
    (i32.store (i32.const ${RP}) (i32.const 77))
    (i32.store (i32.const ${RS}) (i32.const 77))
    ;; request trailers are not available now: pairs read as empty
    ${logStatus(w, "st=", `(call $proxy_get_header_map_pairs (i32.const 1) (i32.const ${RP}) (i32.const ${RS}))`)}
    (if (i32.and (i32.eqz (i32.load (i32.const ${RP}))) (i32.eqz (i32.load (i32.const ${RS})))) (then ${log(w, "empty=0,0")}))
    (i32.const 0))`,
  );
  const http = host.httpStream();
  const bad = Uint8Array.from([0xff, 0xfe, 0x41]);
  http.requestHeaders([
    ["x-bin", bad],
    ["x-text", "héllo"],
  ]);
  assert.deepEqual([...http.request.headerBytes("x-bin")!], [0xff, 0xfe, 0x41]);
  assert.equal(http.request.header("x-text"), "héllo");
  assert.deepEqual(host.logMessages(), ["st=0", "empty=0,0"]);
});

test("local response: sent from request headers, ends the iteration, passes through the response callbacks", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $proxy_send_local_response (i32.const 403) ${w.str("access denied")} ${w.str("nope")} ${w.pairs([["X-Why", "policy"]])} (i32.const -1)))
    (i32.const 0)) ;; returns CONTINUE, but the local response forces a stop
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32) ${log(w, "request body?!")} (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) ${log(w, "response headers")}
    (drop (call $proxy_add_header_map_value (i32.const 2) ${w.str("x-seen")} ${w.str("yes")}))
    (i32.const 0))`,
  );
  const http = host.httpStream();
  assert.equal(http.requestHeaders([[":path", "/"]]), Action.Pause);
  assert.equal(http.requestBody("data", true), Action.Pause);
  assert.deepEqual(
    http.sentHttpResponse && {
      status: http.sentHttpResponse.status,
      headers: http.sentHttpResponse.headers,
      body: http.sentHttpResponse.body.toString(),
      details: http.sentHttpResponse.details,
      grpcStatus: http.sentHttpResponse.grpcStatus,
    },
    { status: 403, headers: [["x-why", "policy"]], body: "nope", details: "access_denied", grpcStatus: -1 },
  );
  assert.equal(http.response.header(":status"), "403");
  assert.equal(http.response.header("x-seen"), "yes");
  assert.equal(http.response.body.toString(), "nope");
  assert.deepEqual(host.logMessages(), ["response headers"]);
  http.complete();
});

test("bodies: PAUSE buffers, the next callback sees everything; prepend/append/replace semantics", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_request_body") (param $id i32) (param $len i32) (param $eos i32) (result i32)
    (if (i32.eqz (local.get $eos)) (then (return (i32.const 1))))
    (drop (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 0) (local.get $len) (i32.const ${RP}) (i32.const ${RS})))
    ${logResult}
    (drop (call $proxy_set_buffer_bytes (i32.const 0) (i32.const 0) (i32.const 0) ${w.str("<")}))
    (drop (call $proxy_set_buffer_bytes (i32.const 0) (i32.const 1000) (i32.const 0) ${w.str(">")}))
    ${logStatus(w, "mid=", `(call $proxy_set_buffer_bytes (i32.const 0) (i32.const 2) (i32.const 1) ${w.str("!")})`)}
    (i32.const 0))
  (func (export "proxy_on_response_body") (param $id i32) (param $len i32) (param $eos i32) (result i32)
    (drop (call $proxy_set_buffer_bytes (i32.const 1) (i32.const 0) (i32.const -1) ${w.str("replaced")}))
    (i32.const 0))`,
  );
  const http = host.httpStream();
  http.requestHeaders([[":path", "/"]]);
  assert.equal(http.requestBody("hel", false), Action.Pause);
  assert.equal(http.request.paused, true);
  assert.equal(http.requestBody("lo", true), Action.Continue);
  assert.equal(http.request.body.toString(), "<hello>");
  assert.deepEqual(host.logMessages(), ["hello", `mid=${Status.BadArgument}`]);
  http.responseHeaders([[":status", "200"]]);
  http.responseBody("original", true);
  assert.equal(http.response.body.toString(), "replaced");
});

test("PAUSE in request headers holds body and trailers until proxy_continue_stream", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_body") (param $id i32) (param $len i32) (param $eos i32) (result i32)
    (drop (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 0) (local.get $len) (i32.const ${RP}) (i32.const ${RS})))
    ${logResult} (i32.const 0))
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32) ${log(w, "trailers")} (i32.const 0))
  (func (export "proxy_on_tick") (param i32)
    ${log(w, "tick")}
    (drop (call $proxy_set_effective_context (i32.const 2)))
    (drop (call $proxy_continue_stream (i32.const 0))))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 100))) (i32.const 1))`,
  );
  const http = host.httpStream();
  assert.equal(http.requestHeaders([[":path", "/"]]), Action.Pause);
  assert.equal(http.requestBody("a", false), Action.Pause);
  assert.equal(http.requestBody("b", false), Action.Pause);
  assert.equal(http.requestTrailers([["t", "1"]]), Action.Pause);
  assert.deepEqual(host.logMessages(), []);
  assert.equal(host.tickPeriod, 100);
  assert.equal(host.tick(), true);
  assert.deepEqual(host.logMessages(), ["tick", "ab", "trailers"]);
  assert.equal(http.request.paused, false);
  assert.equal(http.request.body.toString(), "ab");
});

test("trailers held while the headers were paused reach the filter after proxy_continue_stream, even when the body callback buffers", async () => {
  // Envoy's commonContinue: the held body goes to the filter (which may buffer it with
  // StopIterationAndBuffer), then the held trailers go to the filter anyway; their CONTINUE ends
  // the stream and lets the buffered body through.
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_body") (param $id i32) (param $len i32) (param $eos i32) (result i32)
    ${w.logNum("request body len=", "(local.get $len)")} ${w.logNum("request body eos=", "(local.get $eos)")} (i32.const 1))
  (func (export "proxy_on_response_body") (param $id i32) (param $len i32) (param $eos i32) (result i32)
    ${w.logNum("response body len=", "(local.get $len)")} ${w.logNum("response body eos=", "(local.get $eos)")} (i32.const 1))
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32)
    (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.HttpRequestBody}) (i32.const 0) (i32.const 100) (i32.const ${RP}) (i32.const ${RS})))
    ${logResult} ${log(w, "request trailers")} (i32.const 0))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32) ${log(w, "response trailers")} (i32.const 0))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $proxy_set_effective_context (i32.const 2)))
    (drop (call $proxy_continue_stream (i32.const 0)))
    (drop (call $proxy_continue_stream (i32.const 1))))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 100))) (i32.const 1))`,
  );
  const http = host.httpStream();
  assert.equal(http.id, 2);
  const passed: string[] = [];
  http.onPass = (dir, what, chunk) => passed.push(`${dir ? "response" : "request"} ${what}${chunk ? ` ${chunk}` : ""}`);
  for (const dir of ["request", "response"] as const) {
    host.clearLogs();
    if (dir === "request") {
      assert.equal(http.requestHeaders([[":path", "/"]]), Action.Pause);
      assert.equal(http.requestBody("a", false), Action.Pause);
      assert.equal(http.requestBody("b", false), Action.Pause);
      assert.equal(http.requestTrailers([["t", "1"]]), Action.Pause);
    } else {
      assert.equal(http.responseHeaders([[":status", "200"]]), Action.Pause);
      assert.equal(http.responseBody("c", false), Action.Pause);
      assert.equal(http.responseBody("d", false), Action.Pause);
      assert.equal(http.responseTrailers([["rt", "1"]]), Action.Pause);
    }
    const view = dir === "request" ? http.request : http.response;
    assert.equal(view.paused, true);
    assert.equal(host.tick(), true);
    // The held body arrives as one call without end of stream (trailers follow), the filter
    // buffers it, and the trailers are delivered all the same; the buffered body is readable
    // from the trailers callback (Envoy's buffering_request_body_).
    assert.deepEqual(host.logMessages(), [
      `${dir} body len=2`,
      `${dir} body eos=0`,
      ...(dir === "request" ? ["ab"] : []),
      `${dir} trailers`,
    ]);
    assert.equal(view.paused, false, `the ${dir} is no longer stopped`);
    assert.equal(view.forwardedBody.toString(), dir === "request" ? "ab" : "cd", "the trailers' CONTINUE let the buffered body through");
  }
  assert.deepEqual(passed, [
    "request headers",
    "request body ab",
    "request trailers",
    "request end",
    "response headers",
    "response body cd",
    "response trailers",
    "response end",
  ]);
  assert.equal(http.request.trailer("t"), "1");
  assert.equal(http.response.trailer("rt"), "1");
  http.complete();
  assert.deepEqual(host.failures, []);
});

test("strict lifetimes: request headers unavailable in the body and response phases, readable in proxy_on_log", async () => {
  const body = (w: WatBuilder) => `
  (func $probe
    ${logStatus(w, "get=", `(call $proxy_get_header_map_value (i32.const 0) ${w.str(":path")} (i32.const ${RP}) (i32.const ${RS}))`)})
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32) (call $probe) (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (call $probe) (i32.const 0))
  (func (export "proxy_on_log") (param i32) (call $probe))`;
  const strict = await hostFor(body);
  let http = strict.httpStream();
  http.requestHeaders([[":path", "/p"]]);
  http.requestBody("x", true);
  http.responseHeaders([[":status", "200"]], true);
  http.complete();
  assert.deepEqual(strict.logMessages(), [`get=${Status.BadArgument}`, `get=${Status.BadArgument}`, "get=0"]);
  const relaxed = await hostFor(body, { strictLifetimes: false });
  http = relaxed.httpStream();
  http.requestHeaders([[":path", "/p"]]);
  http.requestBody("x", true);
  http.responseHeaders([[":status", "200"]], true);
  http.complete();
  assert.deepEqual(relaxed.logMessages(), ["get=0", "get=0", "get=0"]);
});

test("configuration buffers: plugin config only during proxy_on_configure, VM config always", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_vm_start") (param i32) (param $n i32) (result i32)
    (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.VmConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
    ${logResult} (i32.const 1))
  (func (export "proxy_on_configure") (param i32) (param $n i32) (result i32)
    (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
    ${logResult} (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    ${logStatus(w, "plugin-config-now=", `(call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (i32.const 10) (i32.const ${RP}) (i32.const ${RS}))`)}
    (i32.const 0))`,
    { pluginConfig: '{"a":1}', vmConfig: "vm-conf" },
  );
  assert.equal(host.startPlugin(), true);
  host.httpStream().requestHeaders([]);
  assert.deepEqual(host.logMessages(), ["vm-conf", '{"a":1}', `plugin-config-now=${Status.NotFound}`]);
  assert.equal(MapType.HttpRequestHeaders, 0);
});

test("local response from the response path: replaces a response whose headers are held, resets one already sent", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (if (i32.eqz (call $proxy_get_header_map_value (i32.const 2) ${w.str("x-deny")} (i32.const ${RP}) (i32.const ${RS})))
      (then (drop (call $proxy_send_local_response (i32.const 502) ${w.str("upstream denied")} ${w.str("blocked")} (i32.const 0) (i32.const 0) (i32.const -1)))))
    (i32.const 0))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32)
    (drop (call $proxy_send_local_response (i32.const 500) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1)))
    (i32.const 0))`,
  );
  const a = host.httpStream();
  a.requestHeaders([[":path", "/"]], true);
  assert.equal(
    a.responseHeaders([
      [":status", "200"],
      ["x-deny", "1"],
    ]),
    Action.Pause,
  );
  assert.equal(a.sentHttpResponse?.status, 502);
  assert.equal(a.sentHttpResponse?.details, "upstream_denied");
  assert.deepEqual(a.response.headers, [
    [":status", "502"],
    ["content-length", "7"],
    ["content-type", "text/plain"],
  ]);
  assert.equal(a.response.body.toString(), "blocked");
  assert.equal(a.resetReason, null);
  assert.equal(a.responseBody("ignored", true), Action.Pause);
  const b = host.httpStream();
  b.requestHeaders([[":path", "/"]], true);
  assert.equal(b.responseHeaders([[":status", "200"]]), Action.Continue);
  assert.equal(b.responseBody("data", true), Action.Pause);
  assert.equal(b.resetReason, "local response after response headers were sent");
});

test("trailers: a plugin can add trailers from the last body callback; request trailers unreadable in proxy_on_log", async () => {
  const host = await hostFor(
    (w) => `
  (func (export "proxy_on_response_body") (param i32 i32) (param $eos i32) (result i32)
    (if (local.get $eos) (then
      ${logStatus(w, "add=", `(call $proxy_add_header_map_value (i32.const ${MapType.HttpResponseTrailers}) ${w.str("x-checksum")} ${w.str("abc")})`)}))
    (i32.const 0))
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32)
    (drop (call $proxy_replace_header_map_value (i32.const ${MapType.HttpRequestTrailers}) ${w.str("t")} ${w.str("2")}))
    (i32.const 0))
  (func (export "proxy_on_log") (param i32)
    ${logStatus(w, "log-req-trailer=", `(call $proxy_get_header_map_value (i32.const ${MapType.HttpRequestTrailers}) ${w.str("t")} (i32.const ${RP}) (i32.const ${RS}))`)}
    ${logStatus(w, "log-resp-trailer=", `(call $proxy_get_header_map_value (i32.const ${MapType.HttpResponseTrailers}) ${w.str("x-checksum")} (i32.const ${RP}) (i32.const ${RS}))`)}
    ${logStatus(w, "log-set=", `(call $proxy_add_header_map_value (i32.const ${MapType.HttpResponseHeaders}) ${w.str("late")} ${w.str("1")})`)})`,
  );
  const http = host.httpStream();
  http.requestHeaders([[":path", "/"]]);
  http.requestBody("x", false);
  http.requestTrailers([["t", "1"]]);
  assert.deepEqual(http.request.trailers, [["t", "2"]]);
  http.responseHeaders([[":status", "200"]]);
  http.responseBody("payload", true);
  assert.equal(http.response.trailer("x-checksum"), "abc");
  http.complete();
  assert.deepEqual(host.logMessages(), [
    "add=0",
    `log-req-trailer=${Status.NotFound}`,
    "log-resp-trailer=0",
    `log-set=${Status.BadArgument}`,
  ]);
});

test("a body held on PAUSE is released by proxy_continue_stream from another callback", async () => {
  const host = await hostFor(
    (w) => `
  (global $stream (mut i32) (i32.const 0))
  (func (export "proxy_on_request_body") (param $id i32) (param i32 i32) (result i32) (global.set $stream (local.get $id)) (i32.const 1))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 1))) (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $proxy_set_effective_context (global.get $stream)))
    (drop (call $proxy_continue_stream (i32.const 0))))`,
  );
  const http = host.httpStream();
  http.requestHeaders([[":path", "/"]]);
  http.requestBody("part1-", false);
  http.requestBody("part2", true);
  assert.equal(http.request.forwardedBody.length, 0);
  assert.equal(http.request.body.toString(), "part1-part2");
  host.tick();
  assert.equal(http.request.paused, false);
  assert.equal(http.request.forwardedBody.toString(), "part1-part2");
});

test("harness misuse is a clear error: events after complete(), body after end of stream, headers twice", async () => {
  const host = await hostFor(() => "");
  const http = host.httpStream();
  http.requestHeaders([[":path", "/"]], true);
  assert.throws(() => http.requestBody("x", true), /body after end of stream/);
  assert.throws(() => http.requestHeaders([]), /headers were already sent/);
  http.complete();
  assert.throws(() => http.responseHeaders([]), /after complete\(\)/);
});
