// TCP connections (network filters): data callbacks, holding data on PAUSE, continue/close,
// close callbacks with the peer type, and the end of the context.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BufferType, PeerType, Status } from "../../src/abi.js";
import { createHost, Action } from "../../src/host/index.js";
import { RP, RS, watModule } from "../../src/host/wat-builder.js";

async function tcpHost() {
  const wasm = await watModule(
    (w) => `
    (func (export "proxy_on_new_connection") (param $id i32) (result i32) ${w.logNum("new ", "(local.get $id)")} (i32.const 0))
    (func (export "proxy_on_downstream_data") (param $id i32) (param $n i32) (param $eos i32) (result i32)
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.DownstreamData}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      ;; hold data until a line ends with "!", then uppercase nothing but prepend a marker
      (if (i32.ne (i32.load8_u (i32.add (i32.load (i32.const ${RP})) (i32.sub (local.get $n) (i32.const 1)))) (i32.const 33))
        (then (return (i32.const 1))))
      (drop (call $proxy_set_buffer_bytes (i32.const ${BufferType.DownstreamData}) (i32.const 0) (i32.const 0) ${w.str(">")}))
      (i32.const 0))
    (func (export "proxy_on_upstream_data") (param $id i32) (param $n i32) (param $eos i32) (result i32)
      (drop (call $proxy_set_buffer_bytes (i32.const ${BufferType.UpstreamData}) (i32.const 0) (local.get $n) ${w.str("rewritten")}))
      ${w.logNum("up-continue=", "(call $proxy_continue_stream (i32.const 3))")}
      (i32.const 0))
    (func (export "proxy_on_downstream_connection_close") (param $id i32) (param $peer i32) ${w.logNum("down close peer=", "(local.get $peer)")})
    (func (export "proxy_on_upstream_connection_close") (param $id i32) (param $peer i32) ${w.logNum("up close peer=", "(local.get $peer)")})
    (func (export "proxy_on_done") (param i32) (result i32) ${w.log("done")} (i32.const 1))
    (func (export "proxy_on_log") (param i32) ${w.log("log")})
    (func (export "proxy_on_delete") (param i32) ${w.log("delete")})`,
  );
  return createHost({ wasm });
}

test("tcp: new connection, held data accumulates until the filter continues, buffer edits, close order", async () => {
  const host = await tcpHost();
  const conn = host.tcpConnection();
  assert.equal(conn.newConnectionAction, Action.Continue);
  assert.equal(conn.downstreamData("hel"), Action.Pause);
  assert.equal(conn.downstream.paused, true);
  assert.equal(conn.downstreamData("lo!"), Action.Continue);
  assert.equal(conn.downstream.data.toString(), ">hello!");
  assert.equal(conn.upstreamData("answer"), Action.Continue);
  assert.equal(conn.upstream.data.toString(), "rewritten");
  conn.closeUpstream(PeerType.Remote);
  assert.equal(conn.isComplete, false);
  conn.closeDownstream(PeerType.Local);
  assert.equal(conn.isComplete, true);
  assert.deepEqual(host.logMessages(), [
    `new ${conn.id}`,
    "hel",
    "hello!",
    `up-continue=${Status.Unimplemented}`,
    `up close peer=${PeerType.Remote}`,
    `down close peer=${PeerType.Local}`,
    "done",
    "log",
    "delete",
  ]);
});

test("tcp: upstream end of stream reports the upstream close (Envoy onWrite), downstream close ends the context", async () => {
  const host = await tcpHost();
  const conn = host.tcpConnection();
  conn.upstreamData("bye", true);
  conn.closeDownstream();
  assert.deepEqual(host.logMessages().slice(1), [
    `up-continue=${Status.Unimplemented}`,
    `up close peer=${PeerType.Unknown}`,
    `down close peer=${PeerType.Remote}`,
    "done",
    "log",
    "delete",
  ]);
  assert.throws(() => conn.downstreamData("late"), /after the connection ended/);
});

test("tcp: proxy_continue_stream(DOWNSTREAM) releases held data; proxy_close_stream records who closed", async () => {
  const wasm = await watModule(
    (w) => `
    (global $conn (mut i32) (i32.const 0))
    (func (export "proxy_on_downstream_data") (param $id i32) (param i32 i32) (result i32) (global.set $conn (local.get $id)) (i32.const 1))
    (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 5))) (i32.const 1))
    (func (export "proxy_on_tick") (param i32)
      (drop (call $proxy_set_effective_context (global.get $conn)))
      ${w.logNum("continue=", "(call $proxy_continue_stream (i32.const 2))")}
      ${w.logNum("close=", "(call $proxy_close_stream (i32.const 3))")})`,
  );
  const host = await createHost({ wasm });
  const conn = host.tcpConnection();
  conn.downstreamData("abc");
  conn.downstreamData("def");
  assert.equal(conn.downstream.forwardedData.length, 0);
  host.tick();
  assert.equal(conn.downstream.paused, false);
  assert.equal(conn.downstream.forwardedData.toString(), "abcdef");
  assert.equal(conn.closedBy.upstream, "wasm_upstream_close");
  assert.deepEqual(host.logMessages(), ["continue=0", "close=0"]);
});

test("tcp: a trap closes the connection under fail-closed and bypasses under fail-open", async () => {
  const wasm = await watModule(() => `(func (export "proxy_on_downstream_data") (param i32 i32 i32) (result i32) (unreachable))`);
  const closed = await createHost({ wasm });
  const c1 = closed.tcpConnection();
  assert.equal(c1.downstreamData("x"), Action.Pause);
  assert.equal(c1.closedBy.downstream, "wasm VM failed");
  const open = await createHost({ wasm, failurePolicy: "fail-open" });
  const c2 = open.tcpConnection();
  assert.equal(c2.downstreamData("x"), Action.Continue);
  assert.equal(c2.downstreamData("y"), Action.Continue);
  assert.equal(c2.downstream.data.toString(), "xy");
  assert.equal(c2.bypassed, true);
});
