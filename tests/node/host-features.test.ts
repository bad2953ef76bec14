// Callouts, shared state, metrics, timers, foreign functions, properties, WASI and the rest of
// the host functions, each through a real module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Status } from "../../src/abi.js";
import { createHost, Action, LogLevel, MapType, BufferType, SharedState } from "../../src/host/index.js";
import { RP, RS, R2, watModule } from "../../src/host/wat-builder.js";

const u64 = (b: Buffer | undefined) => (b ? b.readBigUInt64LE(0) : undefined);

test("http call: dispatched on the root, answered on the root id; response maps and body only during the callback", async () => {
  const wasm = await watModule(
    (w) => `
    (global $stream (mut i32) (i32.const 0))
    (func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32)
      (global.set $stream (local.get $id))
      ${w.logNum("missing-path=", `(call $proxy_http_call ${w.str("auth")} ${w.pairs([[":method", "GET"], [":authority", "a"]])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 500) (i32.const ${RP}))`)}
      ${w.logNum("negative-timeout=", `(call $proxy_http_call ${w.str("auth")} ${w.pairs([[":method", "GET"], [":path", "/"], [":authority", "a"]])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1) (i32.const ${RP}))`)}
      ${w.logNum("call=", `(call $proxy_http_call ${w.str("auth")} ${w.pairs([[":method", "POST"], [":path", "/check"], [":authority", "auth.local"], ["x-a", "1"]])} ${w.str("payload")} ${w.pairs([["t", "v"]])} (i32.const 1500) (i32.const ${RP}))`)}
      ${w.logNum("token=", `(i32.load (i32.const ${RP}))`)}
      (i32.const 1))
    (func (export "proxy_on_http_call_response") (param $ctx i32) (param $token i32) (param $nh i32) (param $bs i32) (param $nt i32)
      ${w.logNum("ctx=", "(local.get $ctx)")}
      ${w.logNum("nh=", "(local.get $nh)")}
      (if (i32.eqz (local.get $nh)) (then
        (drop (call $proxy_get_status (i32.const ${R2}) (i32.const ${RP}) (i32.const ${RS})))
        ${w.logNum("status=", `(i32.load (i32.const ${R2}))`)}
        ${w.logResult()}
        (return)))
      (drop (call $proxy_get_header_map_value (i32.const ${MapType.HttpCallResponseHeaders}) ${w.str(":status")} (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.HttpCallResponseBody}) (i32.const 0) (local.get $bs) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (drop (call $proxy_get_header_map_value (i32.const ${MapType.HttpCallResponseTrailers}) ${w.str("grpc-x")} (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      ${w.logNum("immutable=", `(call $proxy_set_buffer_bytes (i32.const ${BufferType.HttpCallResponseBody}) (i32.const 0) (i32.const 0) ${w.str("x")})`)}
      ;; resume the stream that made the call
      ${w.logNum("effective=", "(call $proxy_set_effective_context (global.get $stream))")}
      (drop (call $proxy_add_header_map_value (i32.const 0) ${w.str("x-auth")} ${w.str("ok")}))
      (drop (call $proxy_continue_stream (i32.const 0))))
    (func (export "proxy_on_tick") (param i32)
      ${w.logNum("after=", `(call $proxy_get_header_map_value (i32.const ${MapType.HttpCallResponseHeaders}) ${w.str(":status")} (i32.const ${RP}) (i32.const ${RS}))`)})
    (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 1))) (i32.const 1))`,
  );
  const host = await createHost({ wasm, upstreams: ["auth"] });
  const s = host.httpStream();
  assert.equal(s.requestHeaders([[":path", "/"]]), Action.Pause);
  assert.equal(host.httpCalls.length, 1);
  const call = host.httpCalls[0];
  assert.equal(call.upstream, "auth");
  assert.deepEqual(call.headers, [[":method", "POST"], [":path", "/check"], [":authority", "auth.local"], ["x-a", "1"]]);
  assert.equal(call.header(":authority"), "auth.local");
  assert.equal(call.body.toString(), "payload");
  assert.deepEqual(call.trailers, [["t", "v"]]);
  assert.equal(call.timeoutMs, 1500);
  assert.equal(call.contextId, host.rootContextId);
  assert.equal(call.callerContextId, s.id);
  host.clearLogs();
  call.respond({ headers: [[":status", "200"]], body: "allowed", trailers: [["grpc-x", "tv"]] });
  assert.deepEqual(host.logMessages(), ["ctx=1", "nh=1", "200", "allowed", "tv", `immutable=${Status.BadArgument}`, "effective=0"]);
  assert.equal(s.request.paused, false);
  assert.equal(s.request.header("x-auth"), "ok");
  assert.throws(() => call.respond(), /already answered/);
  host.clearLogs();
  host.tick();
  assert.deepEqual(host.logMessages(), [`after=${Status.BadArgument}`]);
  // A failed call: 0 headers, and proxy_get_status says BrokenConnection "reset".
  const s2 = host.httpStream();
  s2.requestHeaders([]);
  host.clearLogs();
  host.httpCalls[0].fail();
  assert.deepEqual(host.logMessages(), ["ctx=1", "nh=0", "status=11", "reset"]);
  assert.equal(host.httpCallHistory.length, 2);
  // Unknown cluster (not in `upstreams`) is BAD_ARGUMENT, like Envoy.
  assert.ok(host.logMessages().length > 0);
});

test("http call to an unknown cluster is BAD_ARGUMENT when upstreams are listed", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("call=", `(call $proxy_http_call ${w.str("nope")} ${w.pairs([[":method", "GET"], [":path", "/"], [":authority", "a"]])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 5) (i32.const ${RP}))`)}
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, upstreams: ["other"] });
  host.httpStream().requestHeaders([]);
  assert.deepEqual(host.logMessages(), [`call=${Status.BadArgument}`]);
});

test("gRPC: unary call and stream, metadata and messages delivered on the root id, status via proxy_get_status", async () => {
  const wasm = await watModule(
    (w) => `
    (global $stream (mut i32) (i32.const 0))
    (func (export "proxy_on_configure") (param i32 i32) (result i32)
      (drop (call $proxy_grpc_call ${w.str("cluster")} ${w.str("pkg.Svc")} ${w.str("Check")} ${w.pairs([["md", "1"]])} ${w.str("req")} (i32.const 250) (i32.const ${RP})))
      ${w.logNum("call-token=", `(i32.load (i32.const ${RP}))`)}
      (drop (call $proxy_grpc_stream ${w.str("cluster")} ${w.str("pkg.Svc")} ${w.str("Watch")} (i32.const 0) (i32.const 0) (i32.const ${RP})))
      (global.set $stream (i32.load (i32.const ${RP})))
      ${w.logNum("stream-token=", "(global.get $stream)")}
      ${w.logNum("send=", `(call $proxy_grpc_send (global.get $stream) ${w.str("m1")} (i32.const 0))`)}
      ${w.logNum("send-bad=", `(call $proxy_grpc_send (i32.const 999) ${w.str("m1")} (i32.const 0))`)}
      (i32.const 1))
    (func (export "proxy_on_grpc_receive_initial_metadata") (param $c i32) (param $t i32) (param $n i32)
      ${w.logNum("initial n=", "(local.get $n)")}
      (drop (call $proxy_get_header_map_value (i32.const ${MapType.GrpcReceiveInitialMetadata}) ${w.str("k")} (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()})
    (func (export "proxy_on_grpc_receive") (param $c i32) (param $t i32) (param $n i32)
      ${w.logNum("receive token=", "(local.get $t)")}
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.GrpcReceiveBuffer}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (drop (call $proxy_grpc_send (global.get $stream) ${w.str("last")} (i32.const 1))))
    (func (export "proxy_on_grpc_receive_trailing_metadata") (param $c i32) (param $t i32) (param $n i32)
      ${w.logNum("trailing n=", "(local.get $n)")})
    (func (export "proxy_on_grpc_close") (param $c i32) (param $t i32) (param $st i32)
      ${w.logNum("close status=", "(local.get $st)")}
      (drop (call $proxy_get_status (i32.const ${R2}) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()})`,
  );
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
  assert.deepEqual(host.logMessages(), ["call-token=5", "stream-token=6", "send=0", `send-bad=${Status.NotFound}`]);
  const [call, stream] = host.grpcCalls;
  assert.equal(call.kind, "call");
  assert.equal(call.service, "pkg.Svc");
  assert.equal(call.method, "Check");
  assert.deepEqual(call.metadata, [["md", "1"]]);
  assert.equal(call.message?.toString(), "req");
  assert.equal(call.timeoutMs, 250);
  assert.equal(stream.kind, "stream");
  assert.deepEqual(stream.sent.map(String), ["m1"]);
  host.clearLogs();
  call.respond("unary-answer");
  stream.receiveInitialMetadata([["k", "v"]]);
  stream.receive("s1");
  stream.receiveTrailingMetadata([["a", "1"], ["b", "2"]]);
  stream.close(7, "denied");
  assert.deepEqual(host.logMessages(), [
    `receive token=${call.token}`,
    "unary-answer",
    "initial n=1",
    "v",
    `receive token=${stream.token}`,
    "s1",
    "trailing n=2",
    "close status=7",
    "denied",
  ]);
  assert.deepEqual(stream.sent.map(String), ["m1", "last", "last"]);
  assert.equal(stream.localClosed, true);
  assert.equal(host.grpcCalls.length, 0);
});

test("gRPC cancel and close from the plugin", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_configure") (param i32 i32) (result i32)
      (drop (call $proxy_grpc_call ${w.str("c")} ${w.str("S")} ${w.str("M")} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const ${RP})))
      ${w.logNum("cancel=", `(call $proxy_grpc_cancel (i32.load (i32.const ${RP})))`)}
      ${w.logNum("again=", `(call $proxy_grpc_cancel (i32.load (i32.const ${RP})))`)}
      (drop (call $proxy_grpc_stream ${w.str("c")} ${w.str("S")} ${w.str("W")} (i32.const 0) (i32.const 0) (i32.const ${RP})))
      ${w.logNum("close=", `(call $proxy_grpc_close (i32.load (i32.const ${RP})))`)}
      (i32.const 1))`,
  );
  const host = await createHost({ wasm });
  host.startPlugin();
  assert.deepEqual(host.logMessages(), ["cancel=0", `again=${Status.NotFound}`, "close=0"]);
  assert.equal(host.grpcCallHistory[0].cancelled, true);
  assert.equal(host.grpcCalls.length, 1); // the stream is half-closed, the remote may still answer
  assert.equal(host.grpcCalls[0].localClosed, true);
});

test("shared data: CAS semantics, keyed by vm_id, visible to every VM of that vm_id", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("get-missing=", `(call $proxy_get_shared_data ${w.str("k")} (i32.const ${RP}) (i32.const ${RS}) (i32.const ${R2}))`)}
      ${w.logNum("set=", `(call $proxy_set_shared_data ${w.str("k")} ${w.str("v1")} (i32.const 0))`)}
      (drop (call $proxy_get_shared_data ${w.str("k")} (i32.const ${RP}) (i32.const ${RS}) (i32.const ${R2})))
      ${w.logResult()}
      ${w.logNum("cas-ok=", `(call $proxy_set_shared_data ${w.str("k")} ${w.str("v2")} (i32.load (i32.const ${R2})))`)}
      ${w.logNum("cas-stale=", `(call $proxy_set_shared_data ${w.str("k")} ${w.str("v3")} (i32.load (i32.const ${R2})))`)}
      (i32.const 0))
    (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_get_shared_data ${w.str("k")} (i32.const ${RP}) (i32.const ${RS}) (i32.const ${R2})))
      ${w.logResult()}
      (i32.const 0))`,
  );
  const shared = new SharedState();
  const a = await createHost({ wasm, vmId: "vm1", shared });
  const b = await a.addVm();
  const other = await createHost({ wasm, vmId: "vm2", shared });
  a.httpStream().requestHeaders([]);
  assert.deepEqual(a.logMessages(), [`get-missing=${Status.NotFound}`, "set=0", "v1", "cas-ok=0", `cas-stale=${Status.CasMismatch}`]);
  const s = b.httpStream();
  s.requestHeaders([], true);
  b.clearLogs();
  s.responseHeaders([]);
  assert.deepEqual(b.logMessages(), ["v2"]);
  assert.equal(a.sharedData("k")?.value.toString(), "v2");
  assert.equal(other.sharedData("k"), undefined);
  const cas = a.sharedData("k")!.cas;
  assert.equal(a.setSharedData("k", "from-test", cas + 100), false);
  assert.equal(a.setSharedData("k", "from-test", cas), true);
});

test("shared queues: register, resolve by vm_id, enqueue from another VM, proxy_on_queue_ready, dequeue, EMPTY", async () => {
  const consumer = await watModule(
    (w) => `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (drop (call $proxy_register_shared_queue ${w.str("jobs")} (i32.const ${RP})))
      ${w.logNum("registered=", `(i32.load (i32.const ${RP}))`)}
      (i32.const 1))
    (func (export "proxy_on_queue_ready") (param $root i32) (param $q i32)
      ${w.logNum("ready root=", "(local.get $root)")}
      (drop (call $proxy_dequeue_shared_queue (local.get $q) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      ${w.logNum("again=", `(call $proxy_dequeue_shared_queue (local.get $q) (i32.const ${RP}) (i32.const ${RS}))`)})`,
  );
  const producer = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("resolve-missing=", `(call $proxy_resolve_shared_queue ${w.str("consumer")} ${w.str("nope")} (i32.const ${RP}))`)}
      (drop (call $proxy_resolve_shared_queue ${w.str("consumer")} ${w.str("jobs")} (i32.const ${RP})))
      ${w.logNum("enqueue=", `(call $proxy_enqueue_shared_queue (i32.load (i32.const ${RP})) ${w.str("job-1")})`)}
      ${w.logNum("enqueue-bad=", `(call $proxy_enqueue_shared_queue (i32.const 77) ${w.str("x")})`)}
      (i32.const 0))`,
  );
  const shared = new SharedState();
  const c = await createHost({ wasm: consumer, vmId: "consumer", shared });
  const p = await createHost({ wasm: producer, vmId: "producer", shared });
  c.startPlugin();
  p.httpStream().requestHeaders([]);
  assert.deepEqual(p.logMessages(), [`resolve-missing=${Status.NotFound}`, "enqueue=0", `enqueue-bad=${Status.NotFound}`]);
  assert.deepEqual(c.logMessages(), ["registered=1", "ready root=1", "job-1", `again=${Status.Empty}`]);
  // The test can enqueue too, and inspect a queue.
  c.clearLogs();
  assert.equal(c.enqueue("jobs", "job-2"), true);
  assert.deepEqual(c.logMessages(), ["ready root=1", "job-2", `again=${Status.Empty}`]);
  assert.deepEqual(c.queue("jobs"), { token: 1, messages: [] });
});

test("metrics: counters, gauges, histograms with Envoy's ids and errors", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_configure") (param i32 i32) (result i32)
      (drop (call $proxy_define_metric (i32.const 0) ${w.str("requests_total")} (i32.const ${RP})))
      (drop (call $proxy_define_metric (i32.const 1) ${w.str("in_flight")} (i32.const ${RS})))
      (drop (call $proxy_define_metric (i32.const 2) ${w.str("latency")} (i32.const ${R2})))
      ${w.logNum("ids=", `(i32.add (i32.mul (i32.load (i32.const ${RP})) (i32.const 100)) (i32.add (i32.mul (i32.load (i32.const ${RS})) (i32.const 10)) (i32.load (i32.const ${R2}))))`)}
      ${w.logNum("bad-type=", `(call $proxy_define_metric (i32.const 3) ${w.str("x")} (i32.const ${RP}))`)}
      (i32.const 1))
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("inc=", "(call $proxy_increment_metric (i32.const 4) (i64.const 2))")}
      ${w.logNum("inc-neg=", "(call $proxy_increment_metric (i32.const 4) (i64.const -1))")}
      ${w.logNum("gauge=", "(call $proxy_increment_metric (i32.const 5) (i64.const 5))")}
      ${w.logNum("gauge-dec=", "(call $proxy_increment_metric (i32.const 5) (i64.const -2))")}
      ${w.logNum("hist-inc=", "(call $proxy_increment_metric (i32.const 6) (i64.const 1))")}
      ${w.logNum("hist=", "(call $proxy_record_metric (i32.const 6) (i64.const 42))")}
      ${w.logNum("rec-counter=", "(call $proxy_record_metric (i32.const 4) (i64.const 10))")}
      ${w.logNum("unknown=", "(call $proxy_increment_metric (i32.const 8) (i64.const 1))")}
      (drop (call $proxy_get_metric (i32.const 4) (i32.const ${RP})))
      ${w.logNum("counter=", `(i32.load (i32.const ${RP}))`)}
      ${w.logNum("get-hist=", `(call $proxy_get_metric (i32.const 6) (i32.const ${RP}))`)}
      (i32.const 0))`,
  );
  const host = await createHost({ wasm });
  host.httpStream().requestHeaders([]);
  assert.deepEqual(host.logMessages(), [
    "ids=456",
    `bad-type=${Status.BadArgument}`,
    "inc=0",
    `inc-neg=${Status.BadArgument}`,
    "gauge=0",
    "gauge-dec=0",
    `hist-inc=${Status.BadArgument}`,
    "hist=0",
    "rec-counter=0",
    `unknown=${Status.NotFound}`,
    "counter=12",
    `get-hist=${Status.BadArgument}`,
  ]);
  assert.deepEqual(host.metric("requests_total"), { name: "requests_total", type: "counter", value: 12, exact: 12n, values: [] });
  assert.equal(host.metric("in_flight")?.value, 3);
  assert.deepEqual(host.metric("latency")?.values, [42]);
  assert.equal(host.metrics.length, 3);
});

test("foreign functions both ways: registered by the embedder, and proxy_on_foreign_function with its arguments buffer", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_call_foreign_function ${w.str("reverse")} ${w.str("abc")} (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      ${w.logNum("status=", `(call $proxy_call_foreign_function ${w.str("fails")} ${w.str("")} (i32.const ${RP}) (i32.const ${RS}))`)}
      ${w.logNum("missing=", `(call $proxy_call_foreign_function ${w.str("nope")} ${w.str("")} (i32.const ${RP}) (i32.const ${RS}))`)}
      (i32.const 0))
    (func (export "proxy_on_foreign_function") (param $root i32) (param $id i32) (param $n i32)
      ${w.logNum("ff id=", "(local.get $id)")}
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.ForeignFunctionArguments}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()})`,
  );
  const seen: string[] = [];
  const host = await createHost({
    wasm,
    foreignFunctions: {
      reverse: (args) => (seen.push(Buffer.from(args).toString()), Buffer.from(Buffer.from(args).toString().split("").reverse().join(""))),
      fails: () => Status.InternalFailure,
    },
  });
  host.httpStream().requestHeaders([]);
  host.callForeignFunction(3, "payload");
  assert.deepEqual(seen, ["abc"]);
  assert.deepEqual(host.logMessages(), ["cba", `status=${Status.InternalFailure}`, `missing=${Status.NotFound}`, "ff id=3", "payload"]);
});

test("properties: Envoy encodings for plugin_*, request.*, source.*, response.*, maps, embedder values, set/get round trip", async () => {
  const path = (...segs: string[]) => segs.join("\0");
  const props = [
    "plugin_name", "plugin_root_id", "plugin_vm_id", path("request", "path"), path("request", "url_path"), path("request", "method"),
    path("request", "host"), path("request", "headers", "x-multi"), path("source", "address"), path("source", "port"),
    path("xds", "cluster_name"), path("custom", "flag"), path("custom", "when"), path("response", "code"), "nope", "my_state",
  ];
  const wasm = await watModule((w) => {
    const dump = (prefix: string) =>
      props
        .map((p) => `(if (i32.eqz (call $proxy_get_property ${w.str(p)} (i32.const ${RP}) (i32.const ${RS})))
          (then (call $dump ${w.str(prefix + p.replace(/\0/g, ".") + "=")})) (else ${w.log(prefix + p.replace(/\0/g, ".") + " NOT_FOUND")}))`)
        .join("\n");
    return `
    ;; logs prefix + hex of the bytes at (RP, RS)
    (func $dump (param $pp i32) (param $pl i32)
      (local $i i32) (local $n i32) (local $src i32) (local $b i32)
      (memory.copy (i32.const 40000) (local.get $pp) (local.get $pl))
      (local.set $n (i32.load (i32.const ${RS})))
      (local.set $src (i32.load (i32.const ${RP})))
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $b (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (i32.store8 (i32.add (i32.add (i32.const 40000) (local.get $pl)) (i32.mul (local.get $i) (i32.const 2)))
          (i32.load8_u (i32.add (i32.const ${w.ptr("0123456789abcdef")}) (i32.shr_u (local.get $b) (i32.const 4)))))
        (i32.store8 (i32.add (i32.add (i32.const 40001) (local.get $pl)) (i32.mul (local.get $i) (i32.const 2)))
          (i32.load8_u (i32.add (i32.const ${w.ptr("0123456789abcdef")}) (i32.and (local.get $b) (i32.const 15)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (drop (call $proxy_log (i32.const 2) (i32.const 40000) (i32.add (local.get $pl) (i32.mul (local.get $n) (i32.const 2))))))
    (func (export "proxy_on_configure") (param i32 i32) (result i32)
      ${w.logNum("set-in-root=", `(call $proxy_set_property ${w.str("my_state")} ${w.str("x")})`)}
      ${dump("root:")} (i32.const 1))
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("set=", `(call $proxy_set_property ${w.str("my_state")} ${w.str("hello")})`)}
      ${dump("")} (i32.const 0))`;
  });
  const host = await createHost({
    wasm,
    pluginName: "p-name",
    rootId: "r-id",
    vmId: "v-id",
    properties: { "xds.cluster_name": "outbound|80||svc", "custom.flag": true, "custom.when": new Date(1_000), "source.address": "10.1.2.3:4567" },
  });
  host.startPlugin();
  const s = host.httpStream({ properties: { "source.port": 4567 } });
  s.requestHeaders([[":method", "GET"], [":path", "/a/b?q=1"], [":authority", "example.com"], ["x-multi", "1"], ["x-multi", "2"]]);
  const hex = (x: string | Buffer) => Buffer.from(x).toString("hex");
  const le = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(n);
    return b.toString("hex");
  };
  assert.deepEqual(host.logMessages(), [
    `set-in-root=${Status.NotFound}`,
    `root:plugin_name=${hex("p-name")}`,
    `root:plugin_root_id=${hex("r-id")}`,
    `root:plugin_vm_id=${hex("v-id")}`,
    "root:request.path NOT_FOUND",
    "root:request.url_path NOT_FOUND",
    "root:request.method NOT_FOUND",
    "root:request.host NOT_FOUND",
    "root:request.headers.x-multi NOT_FOUND",
    "root:source.address NOT_FOUND",
    "root:source.port NOT_FOUND",
    `root:xds.cluster_name=${hex("outbound|80||svc")}`,
    "root:custom.flag=01",
    `root:custom.when=${le(1_000_000_000n)}`,
    "root:response.code NOT_FOUND",
    "root:nope NOT_FOUND",
    "root:my_state NOT_FOUND",
    "set=0",
    `plugin_name=${hex("p-name")}`,
    `plugin_root_id=${hex("r-id")}`,
    `plugin_vm_id=${hex("v-id")}`,
    `request.path=${hex("/a/b?q=1")}`,
    `request.url_path=${hex("/a/b")}`,
    `request.method=${hex("GET")}`,
    `request.host=${hex("example.com")}`,
    `request.headers.x-multi=${hex("1,2")}`,
    `source.address=${hex("10.1.2.3:4567")}`,
    `source.port=${le(4567n)}`,
    `xds.cluster_name=${hex("outbound|80||svc")}`,
    "custom.flag=01",
    `custom.when=${le(1_000_000_000n)}`,
    "response.code NOT_FOUND",
    "nope NOT_FOUND",
    `my_state=${hex("hello")}`,
  ]);
  // request.headers as a whole is a pairs map; the test can read properties as the guest would.
  s.responseHeaders([[":status", "404"]]);
  assert.equal(u64(s.getProperty("response.code")), 404n);
  const map = s.getProperty("request.headers")!;
  assert.equal(map.readUInt32LE(0), 4); // x-multi values joined into one entry
  assert.equal(s.getProperty(["request", "headers", "x-multi"])?.toString(), "1,2");
  assert.equal(host.getProperty("plugin_name")?.toString(), "p-name");
});

test("WASI: fd_write to the logs (stdout info, stderr error, one trailing newline dropped), environ, args, clocks, random", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (local $i i32)
      (i32.store (i32.const 300) (i32.const ${w.ptr("hello ")})) (i32.store (i32.const 304) (i32.const 6))
      (i32.store (i32.const 308) (i32.const ${w.ptr("world\n")})) (i32.store (i32.const 312) (i32.const 6))
      (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 2) (i32.const ${RP})))
      ${w.logNum("written=", `(i32.load (i32.const ${RP}))`)}
      (drop (call $fd_write (i32.const 2) (i32.const 308) (i32.const 1) (i32.const ${RP})))
      (drop (call $environ_sizes_get (i32.const ${RP}) (i32.const ${RS})))
      ${w.logNum("env count=", `(i32.load (i32.const ${RP}))`)}
      ${w.logNum("env size=", `(i32.load (i32.const ${RS}))`)}
      (drop (call $environ_get (i32.const 41000) (i32.const 41100)))
      (drop (call $proxy_log (i32.const 2) (i32.load (i32.const 41004)) (i32.const 3)))
      (drop (call $args_sizes_get (i32.const ${RP}) (i32.const ${RS})))
      ${w.logNum("args=", `(i32.add (i32.load (i32.const ${RP})) (i32.load (i32.const ${RS})))`)}
      ${w.logNum("clock=", `(call $clock_time_get (i32.const 0) (i64.const 1) (i32.const ${R2}))`)}
      ${w.logNum("clock-set=", `(i64.ne (i64.load (i32.const ${R2})) (i64.const 0))`)}
      ${w.logNum("mono=", `(call $clock_time_get (i32.const 1) (i64.const 1) (i32.const ${R2}))`)}
      ${w.logNum("now=", `(call $proxy_get_current_time_nanoseconds (i32.const ${R2}))`)}
      ${w.logNum("now-2020+=", `(i64.gt_u (i64.load (i32.const ${R2})) (i64.const 1577836800000000000))`)}
      (i64.store (i32.const 41200) (i64.const 0)) (i64.store (i32.const 41208) (i64.const 0))
      ${w.logNum("random=", "(call $random_get (i32.const 41200) (i32.const 16))")}
      ${w.logNum("random-set=", "(i64.ne (i64.or (i64.load (i32.const 41200)) (i64.load (i32.const 41208))) (i64.const 0))")}
      ${w.logNum("level=", `(call $proxy_get_log_level (i32.const ${RP}))`)}
      ${w.logNum("level-value=", `(i32.load (i32.const ${RP}))`)}
      ${w.logNum("bad-level=", `(call $proxy_log (i32.const 9) ${w.str("x")})`)}
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, env: { FOO: "bar", X: "1" }, logLevel: LogLevel.Debug });
  host.httpStream().requestHeaders([]);
  const entries = host.logs.map((l) => [l.level, l.message]);
  assert.deepEqual(entries, [
    [LogLevel.Info, "hello world"],
    [LogLevel.Info, "written=12"],
    [LogLevel.Error, "world"],
    [LogLevel.Info, "env count=2"],
    [LogLevel.Info, "env size=12"],
    [LogLevel.Info, "X=1"],
    [LogLevel.Info, "args=0"],
    [LogLevel.Info, "clock=0"],
    [LogLevel.Info, "clock-set=1"],
    [LogLevel.Info, "mono=0"],
    [LogLevel.Info, "now=0"],
    [LogLevel.Info, "now-2020+=1"],
    [LogLevel.Info, "random=0"],
    [LogLevel.Info, "random-set=1"],
    [LogLevel.Info, "level=0"],
    [LogLevel.Info, `level-value=${LogLevel.Debug}`],
    [LogLevel.Info, `bad-level=${Status.BadArgument}`],
  ]);
});

test("log level: messages below it are not recorded; onLog sees every recorded entry", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.log("trace", 0)} ${w.log("info", 2)} ${w.log("warn", 3)} (i32.const 0))`,
  );
  const seen: string[] = [];
  const host = await createHost({ wasm, logLevel: LogLevel.Warn, onLog: (e) => seen.push(e.message) });
  host.httpStream().requestHeaders([]);
  assert.deepEqual(host.logMessages(), ["warn"]);
  assert.deepEqual(seen, ["warn"]);
});

test("tick timer: period set by the plugin, host.tick() drives proxy_on_tick on the root; 0 stops it", async () => {
  const wasm = await watModule(
    (w) => `(global $n (mut i32) (i32.const 0))
    (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 250))) (i32.const 1))
    (func (export "proxy_on_tick") (param $root i32)
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      ${w.logNum("tick on ", "(local.get $root)")}
      (if (i32.eq (global.get $n) (i32.const 2)) (then (drop (call $proxy_set_tick_period_milliseconds (i32.const 0))))))`,
  );
  const host = await createHost({ wasm });
  host.startPlugin();
  assert.equal(host.tickPeriod, 250);
  assert.equal(host.tick(), true);
  assert.equal(host.tick(), true);
  assert.equal(host.tickPeriod, 0);
  assert.equal(host.tick(), false);
  assert.deepEqual(host.logMessages(), ["tick on 1", "tick on 1"]);
});

test("reconfigure: a canary VM tries the configuration first; then a new root context is created and configured, the old one gets done and delete; proxy_done", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_context_create") (param $id i32) (param $p i32) ${w.logNum("create ", "(local.get $id)")})
    (func (export "proxy_on_configure") (param $id i32) (param $n i32) (result i32)
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (i32.ne (local.get $n) (i32.const 3))) ;; "bad" is rejected
    (func (export "proxy_on_done") (param $id i32) (result i32) ${w.logNum("done ", "(local.get $id)")} (i32.const 1))
    (func (export "proxy_on_delete") (param $id i32) ${w.logNum("delete ", "(local.get $id)")})
    (func (export "proxy_on_tick") (param $id i32) ${w.logNum("proxy_done=", "(call $proxy_done)")})`,
  );
  const host = await createHost({ wasm, pluginConfig: "v1" });
  assert.equal(host.startPlugin(), true);
  assert.equal(host.reconfigure("version2"), true);
  const s = host.httpStream();
  assert.equal(s.id, 3);
  // A rejected configuration leaves the running one in place (Envoy rejects the update): only
  // the canary VM ever sees it.
  assert.equal(host.reconfigure("bad"), false);
  assert.equal(host.rootContextId, 2);
  assert.equal(host.failed, false);
  assert.deepEqual(host.failures, []);
  const onVm = (vm: number) => host.logs.filter((l) => l.vm === vm && l.level === LogLevel.Info).map((l) => l.message);
  assert.deepEqual(onVm(0), ["create 1", "v1", "create 2", "version2", "done 1", "delete 1", "create 3"]);
  assert.deepEqual(onVm(1), ["create 1", "version2"], "the canary of version2, thrown away without done/delete");
  assert.deepEqual(onVm(2), ["create 1", "bad"], "the canary of bad");
  assert.equal(host.vmCount, 3, "each canary is a VM, as Envoy counts them");
  assert.match(host.logMessages(LogLevel.Warn).join("\n"), /canary VM rejected the configuration/);
  // Envoy remembers the canary's verdict per configuration: no new VM for one already tried.
  host.clearLogs();
  assert.equal(host.reconfigure("bad"), false);
  assert.equal(host.vmCount, 3);
  assert.deepEqual(host.logMessages(LogLevel.Info), []);
  assert.match(host.logMessages(LogLevel.Warn)[0], /update refused/);
  host.clearLogs();
  host.shutdown();
  assert.deepEqual(host.logMessages(), ["done 2", "delete 2"]);
});

test("reconfigure: a configuration that traps fails only its canary; the running VM, its streams, callouts and queues carry on", async () => {
  const wasm = await watModule(
    (w) => `
    (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (drop (call $proxy_register_shared_queue ${w.str("q")} (i32.const ${RP}))) (i32.const 1))
    (func (export "proxy_on_configure") (param $id i32) (param $n i32) (result i32)
      (drop (call $proxy_http_call ${w.str("auth")} ${w.pairs([[":method", "GET"], [":path", "/"], [":authority", "a"]])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 100) (i32.const ${RP})))
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      (if (i32.eq (local.get $n) (i32.const 4)) (then ${w.log("trap!", LogLevel.Critical)} (unreachable))) ;; "trap"
      (i32.const 1))
    (func (export "proxy_on_queue_ready") (param $root i32) (param $q i32) ${w.logNum("queue ready on root ", "(local.get $root)")})
    (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_add_header_map_value (i32.const ${MapType.HttpResponseHeaders}) ${w.str("x-filter")} ${w.str("ran")}))
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, pluginConfig: "v1" });
  assert.equal(host.startPlugin(), true);
  assert.equal(host.httpCalls.length, 1);
  const inFlight = host.httpStream();
  assert.equal(inFlight.requestHeaders([[":path", "/"]], true), Action.Continue);

  assert.equal(host.reconfigure("trap"), false);
  assert.equal(host.failures.length, 1);
  assert.equal(host.failures[0].callback, "proxy_on_configure");
  assert.equal(host.failures[0].vm, 1, "the canary failed, not the running VM");
  assert.equal(host.failures[0].abortMessage, "trap!");
  assert.equal(host.failed, false);
  assert.equal(host.httpCalls.length, 1, "the canary's callout died with it");
  // The stream in flight goes on through the running VM, unharmed.
  assert.equal(inFlight.responseHeaders([[":status", "200"]], true), Action.Continue);
  assert.equal(inFlight.response.header("x-filter"), "ran");
  assert.equal(inFlight.localResponse, null);
  inFlight.complete();
  // The queue the canary registered again still notifies the running VM.
  host.clearLogs();
  assert.equal(host.enqueue("q", "m"), true);
  assert.deepEqual(host.logMessages(LogLevel.Info), [`queue ready on root ${host.rootContextId}`]);
  // New streams run on the same VM with the running configuration; the refused one is not retried.
  const next = host.httpStream();
  next.requestHeaders([[":path", "/"]], true);
  assert.equal(next.responseHeaders([[":status", "200"]], true), Action.Continue);
  assert.equal(next.response.header("x-filter"), "ran");
  assert.equal(host.reconfigure("trap"), false);
  assert.equal(host.vmCount, 2, "the first VM and one canary");
  assert.equal(host.failures.length, 1);
  // An accepted update still reaches the running VM.
  assert.equal(host.reconfigure("v2"), true);
  assert.equal(host.vmCount, 3);
  assert.equal(host.failed, false);
});

test("reconfigure after the running VM failed: a refused configuration leaves the reload on the last accepted one", async () => {
  const wasm = await watModule(
    (w) => `
    (global $config (mut i32) (i32.const 0))
    (func (export "proxy_on_configure") (param $id i32) (param $n i32) (result i32)
      (global.set $config (local.get $n))
      (i32.ne (local.get $n) (i32.const 3))) ;; "bad" is refused
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("config size ", "(global.get $config)")}
      (if (i32.eq (global.get $config) (i32.const 5)) (then (unreachable))) ;; "crash" traps on a request
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, pluginConfig: "crash" });
  host.httpStream().requestHeaders([[":path", "/"]], true);
  assert.equal(host.failed, true);
  assert.equal(host.reconfigure("bad"), false);
  assert.equal(host.reconfigure("v1"), true, "an accepted update reloads the VM with it");
  assert.equal(host.failed, false);
  host.clearLogs();
  host.httpStream().requestHeaders([[":path", "/"]], true);
  assert.deepEqual(host.logMessages(LogLevel.Info), ["config size 2"]);
  assert.equal(host.failures.length, 1);
});

test("proxy_done: a root that answered proxy_on_done false is deleted once it calls proxy_done", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_done") (param $id i32) (result i32) ${w.log("done")} (i32.const 0))
    (func (export "proxy_on_delete") (param $id i32) ${w.log("delete")})
    (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 1))) (i32.const 1))
    (func (export "proxy_on_tick") (param $id i32) ${w.logNum("proxy_done=", "(call $proxy_done)")})`,
  );
  const host = await createHost({ wasm });
  host.startPlugin();
  host.tick();
  host.shutdown();
  assert.equal(host.rootPendingDone, true);
  host.tick();
  assert.deepEqual(host.logMessages(), [`proxy_done=${Status.NotFound}`, "done", "proxy_done=0", "delete"]);
  assert.equal(host.rootPendingDone, false);
});

test("several concurrent streams keep separate state; host-call counts per function", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32)
      (drop (call $proxy_get_header_map_value (i32.const 0) ${w.str("x-n")} (i32.const ${RP}) (i32.const ${RS})))
      (drop (call $proxy_add_header_map_value (i32.const 0) ${w.str("x-copy")} (i32.load (i32.const ${RP})) (i32.load (i32.const ${RS}))))
      (i32.const 1))
    (func (export "proxy_on_response_headers") (param $id i32) (param i32 i32) (result i32)
      (drop (call $proxy_set_effective_context (local.get $id)))
      (drop (call $proxy_continue_stream (i32.const 1)))
      (i32.const 1))`,
  );
  const host = await createHost({ wasm });
  const streams = [1, 2, 3].map(() => host.httpStream());
  streams.forEach((s, i) => s.requestHeaders([["x-n", String(i)]]));
  assert.deepEqual(streams.map((s) => s.request.header("x-copy")), ["0", "1", "2"]);
  assert.deepEqual(streams.map((s) => s.request.paused), [true, true, true]);
  assert.equal(streams[2].responseHeaders([[":status", "200"]]), Action.Pause);
  assert.equal(streams[2].response.paused, false);
  assert.deepEqual(host.hostCalls(), {
    proxy_get_header_map_value: 3,
    proxy_add_header_map_value: 3,
    proxy_set_effective_context: 1,
    proxy_continue_stream: 1,
  });
  assert.equal(host.totalHostCalls, 8);
  host.resetHostCalls();
  assert.equal(host.totalHostCalls, 0);
  assert.equal(host.activeStreams.length, 3);
  streams.forEach((s) => s.complete());
  assert.equal(host.activeStreams.length, 0);
});

test("every 0.2.1 host function and WASI function answers a valid call (the table must cover the ABI)", async () => {
  // name -> [WAT call with valid arguments, expected result]
  const calls = (w: import("../../src/host/wat-builder.js").WatBuilder): Record<string, [string, number]> => {
    const hdrs = w.pairs([[":path", "/"], [":method", "GET"], [":authority", "a"]]);
    return {
      proxy_log: [`(call $proxy_log (i32.const 2) ${w.str("hi")})`, Status.Ok],
      proxy_get_log_level: [`(call $proxy_get_log_level (i32.const ${RP}))`, Status.Ok],
      proxy_get_current_time_nanoseconds: [`(call $proxy_get_current_time_nanoseconds (i32.const ${R2}))`, Status.Ok],
      proxy_set_tick_period_milliseconds: ["(call $proxy_set_tick_period_milliseconds (i32.const 10))", Status.Ok],
      proxy_set_effective_context: ["(call $proxy_set_effective_context (local.get $id))", Status.Ok],
      proxy_done: ["(call $proxy_done)", Status.NotFound],
      proxy_call_foreign_function: [`(call $proxy_call_foreign_function ${w.str("echo")} ${w.str("x")} (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_get_buffer_bytes: [`(call $proxy_get_buffer_bytes (i32.const ${BufferType.VmConfiguration}) (i32.const 1) (i32.const 2) (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_get_buffer_status: [`(call $proxy_get_buffer_status (i32.const ${BufferType.VmConfiguration}) (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_set_buffer_bytes: [`(call $proxy_set_buffer_bytes (i32.const ${BufferType.HttpRequestBody}) (i32.const 0) (i32.const 0) ${w.str("x")})`, Status.BadArgument],
      proxy_get_header_map_pairs: [`(call $proxy_get_header_map_pairs (i32.const 0) (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_set_header_map_pairs: [`(call $proxy_set_header_map_pairs (i32.const 0) ${hdrs})`, Status.Ok],
      proxy_get_header_map_size: [`(call $proxy_get_header_map_size (i32.const 0) (i32.const ${RP}))`, Status.Ok],
      proxy_get_header_map_value: [`(call $proxy_get_header_map_value (i32.const 0) ${w.str(":path")} (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_replace_header_map_value: [`(call $proxy_replace_header_map_value (i32.const 0) ${w.str("r")} ${w.str("1")})`, Status.Ok],
      proxy_remove_header_map_value: [`(call $proxy_remove_header_map_value (i32.const 0) ${w.str("r")})`, Status.Ok],
      proxy_add_header_map_value: [`(call $proxy_add_header_map_value (i32.const 0) ${w.str("a")} ${w.str("1")})`, Status.Ok],
      proxy_continue_stream: ["(call $proxy_continue_stream (i32.const 0))", Status.Ok],
      proxy_close_stream: ["(call $proxy_close_stream (i32.const 1))", Status.Ok],
      proxy_send_local_response: [`(call $proxy_send_local_response (i32.const 418) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1))`, Status.Ok],
      proxy_get_status: [`(call $proxy_get_status (i32.const ${R2}) (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_get_property: [`(call $proxy_get_property ${w.str("plugin_name")} (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_set_property: [`(call $proxy_set_property ${w.str("k")} ${w.str("v")})`, Status.Ok],
      proxy_get_shared_data: [`(call $proxy_get_shared_data ${w.str("k")} (i32.const ${RP}) (i32.const ${RS}) (i32.const ${R2}))`, Status.NotFound],
      proxy_set_shared_data: [`(call $proxy_set_shared_data ${w.str("k")} ${w.str("v")} (i32.const 0))`, Status.Ok],
      proxy_register_shared_queue: [`(call $proxy_register_shared_queue ${w.str("q")} (i32.const ${RP}))`, Status.Ok],
      proxy_resolve_shared_queue: [`(call $proxy_resolve_shared_queue (i32.const 0) (i32.const 0) ${w.str("q")} (i32.const ${RP}))`, Status.Ok],
      proxy_enqueue_shared_queue: [`(call $proxy_enqueue_shared_queue (i32.const 1) ${w.str("m")})`, Status.Ok],
      proxy_dequeue_shared_queue: [`(call $proxy_dequeue_shared_queue (i32.const 1) (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_define_metric: [`(call $proxy_define_metric (i32.const 0) ${w.str("c")} (i32.const ${RP}))`, Status.Ok],
      proxy_increment_metric: ["(call $proxy_increment_metric (i32.const 4) (i64.const 1))", Status.Ok],
      proxy_record_metric: ["(call $proxy_record_metric (i32.const 4) (i64.const 1))", Status.Ok],
      proxy_get_metric: [`(call $proxy_get_metric (i32.const 4) (i32.const ${R2}))`, Status.Ok],
      proxy_http_call: [`(call $proxy_http_call ${w.str("c")} ${hdrs} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const ${RP}))`, Status.Ok],
      proxy_grpc_call: [`(call $proxy_grpc_call ${w.str("c")} ${w.str("S")} ${w.str("M")} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const ${RP}))`, Status.Ok],
      proxy_grpc_stream: [`(call $proxy_grpc_stream ${w.str("c")} ${w.str("S")} ${w.str("M")} (i32.const 0) (i32.const 0) (i32.const ${R2}))`, Status.Ok],
      proxy_grpc_send: [`(call $proxy_grpc_send (i32.load (i32.const ${R2})) ${w.str("m")} (i32.const 0))`, Status.Ok],
      proxy_grpc_cancel: [`(call $proxy_grpc_cancel (i32.load (i32.const ${RP})))`, Status.Ok],
      proxy_grpc_close: [`(call $proxy_grpc_close (i32.load (i32.const ${R2})))`, Status.Ok],
      fd_write: [`(call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const ${RP}))`, 0],
      fd_read: [`(call $fd_read (i32.const 0) (i32.const 0) (i32.const 0) (i32.const ${RP}))`, 52],
      fd_seek: [`(call $fd_seek (i32.const 1) (i64.const 0) (i32.const 0) (i32.const ${R2}))`, 0],
      fd_close: ["(call $fd_close (i32.const 1))", 0],
      fd_fdstat_get: ["(call $fd_fdstat_get (i32.const 1) (i32.const 33000))", 0],
      fd_prestat_get: ["(call $fd_prestat_get (i32.const 3) (i32.const 33000))", 8],
      fd_prestat_dir_name: ["(call $fd_prestat_dir_name (i32.const 3) (i32.const 33000) (i32.const 4))", 52],
      environ_sizes_get: [`(call $environ_sizes_get (i32.const ${RP}) (i32.const ${RS}))`, 0],
      environ_get: ["(call $environ_get (i32.const 33000) (i32.const 33100))", 0],
      args_sizes_get: [`(call $args_sizes_get (i32.const ${RP}) (i32.const ${RS}))`, 0],
      args_get: ["(call $args_get (i32.const 33000) (i32.const 33100))", 0],
      clock_time_get: [`(call $clock_time_get (i32.const 1) (i64.const 0) (i32.const ${R2}))`, 0],
      clock_res_get: [`(call $clock_res_get (i32.const 0) (i32.const ${R2}))`, 0],
      random_get: ["(call $random_get (i32.const 33000) (i32.const 8))", 0],
      sched_yield: ["(call $sched_yield)", 0],
      poll_oneoff: [`(call $poll_oneoff (i32.const 33000) (i32.const 33100) (i32.const 0) (i32.const ${RP}))`, 0],
    };
  };
  let names: string[] = [];
  const wasm = await watModule((w) => {
    const table = calls(w);
    names = Object.keys(table);
    const body = Object.entries(table)
      .filter(([n]) => n !== "proc_exit")
      .map(([n, [call]]) => w.logNum(`${n}=`, call))
      .join("\n");
    return `(func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32) ${body} (i32.const 0))`;
  });
  const { HOST_FUNCTIONS, WASI_FUNCTIONS, hostFunctionsFor } = await import("../../src/abi.js");
  // Stubs (WASI calls Envoy registers only so modules load) answer ENOSYS; abi-conformance tests them.
  const expectedNames = [...hostFunctionsFor("0.2.1").map((f) => f.name), ...WASI_FUNCTIONS.filter((f) => !f.stub).map((f) => f.name).filter((n) => n !== "proc_exit")];
  assert.deepEqual([...names].sort(), [...expectedNames].sort(), "the table covers every host function (proc_exit is tested separately)");
  assert.ok(HOST_FUNCTIONS.length >= hostFunctionsFor("0.2.1").length);
  const host = await createHost({ wasm, vmConfig: "vmconf", pluginName: "p", foreignFunctions: { echo: (a) => a } });
  const s = host.httpStream();
  s.requestHeaders([[":path", "/"]]);
  const w2 = new (await import("../../src/host/wat-builder.js")).WatBuilder();
  const table = calls(w2);
  const got = host.logMessages(LogLevel.Info).filter((m) => /^[a-z_]+=\d+$/.test(m));
  assert.deepEqual(got, Object.entries(table).map(([n, [, st]]) => `${n}=${st}`));
  assert.equal(s.localResponse?.status, 418);
  assert.equal(s.resetReason, "wasm_close_stream");
  assert.equal(host.failures.length, 0);
  assert.deepEqual(Object.keys(host.hostCalls()).sort(), [...expectedNames].sort());
});

test("validateConfiguration calls proxy_validate_configuration with the candidate as PLUGIN_CONFIGURATION", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_validate_configuration") (param $root i32) (param $n i32) (result i32)
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (i32.eq (local.get $n) (i32.const 2)))`,
  );
  const host = await createHost({ wasm, pluginConfig: "running" });
  assert.equal(host.validateConfiguration("ok"), true);
  assert.equal(host.validateConfiguration("not ok"), false);
  assert.deepEqual(host.logMessages(), ["ok", "not ok"]);
  const none = await createHost({ wasm: await watModule(() => "") });
  assert.equal(none.validateConfiguration("anything"), true);
});

test("several plugins on one VM: own root contexts, root_id, configuration and streams; vm_start only once", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_vm_start") (param $root i32) (param i32) (result i32) ${w.logNum("vm_start root=", "(local.get $root)")} (i32.const 1))
    (func (export "proxy_on_context_create") (param $id i32) (param $parent i32) ${w.logNum("create parent=", "(local.get $parent)")})
    (func (export "proxy_on_configure") (param $root i32) (param $n i32) (result i32)
      (drop (call $proxy_get_property ${w.str("plugin_root_id")} (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (drop (call $proxy_set_tick_period_milliseconds (i32.const 5)))
      (i32.const 1))
    (func (export "proxy_on_tick") (param $root i32) ${w.logNum("tick ", "(local.get $root)")})`,
  );
  const host = await createHost({ wasm, rootId: "first", pluginConfig: "a" });
  const second = host.addPlugin({ rootId: "second", pluginConfig: "b" });
  assert.equal(second.configured, true);
  assert.equal(second.rootContextId, 2);
  host.httpStream();
  second.httpStream();
  assert.deepEqual(host.logMessages(), [
    "create parent=0", "vm_start root=1", "first", "a",
    "create parent=0", "second", "b",
    "create parent=1", "create parent=2",
  ]);
  host.clearLogs();
  assert.equal(host.tick(), true);
  assert.equal(second.tick(), true);
  assert.deepEqual(host.logMessages(), ["tick 1", "tick 2", "tick 2"]);
});
