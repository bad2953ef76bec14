// HTTP and gRPC callouts through a real module: dispatched on the root, answered on the root id,
// response maps and bodies reachable only during the callback.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Status } from "../../src/abi.js";
import { createHost, Action, MapType, BufferType } from "../../src/host/index.js";
import { RP, RS, R2, watModule } from "../../src/host/wat-builder.js";

test("http call: dispatched on the root, answered on the root id; response maps and body only during the callback", async () => {
  const wasm = await watModule(
    (w) => `
    (global $stream (mut i32) (i32.const 0))
    (func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32)
      (global.set $stream (local.get $id))
      ${w.logNum(
        "missing-path=",
        `(call $proxy_http_call ${w.str("auth")} ${w.pairs([
          [":method", "GET"],
          [":authority", "a"],
        ])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 500) (i32.const ${RP}))`,
      )}
      ${w.logNum(
        "negative-timeout=",
        `(call $proxy_http_call ${w.str("auth")} ${w.pairs([
          [":method", "GET"],
          [":path", "/"],
          [":authority", "a"],
        ])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1) (i32.const ${RP}))`,
      )}
      ${w.logNum(
        "call=",
        `(call $proxy_http_call ${w.str("auth")} ${w.pairs([
          [":method", "POST"],
          [":path", "/check"],
          [":authority", "auth.local"],
          ["x-a", "1"],
        ])} ${w.str("payload")} ${w.pairs([["t", "v"]])} (i32.const 1500) (i32.const ${RP}))`,
      )}
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
  assert.deepEqual(call.headers, [
    [":method", "POST"],
    [":path", "/check"],
    [":authority", "auth.local"],
    ["x-a", "1"],
  ]);
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
      ${w.logNum(
        "call=",
        `(call $proxy_http_call ${w.str("nope")} ${w.pairs([
          [":method", "GET"],
          [":path", "/"],
          [":authority", "a"],
        ])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 5) (i32.const ${RP}))`,
      )}
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
  stream.receiveTrailingMetadata([
    ["a", "1"],
    ["b", "2"],
  ]);
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
