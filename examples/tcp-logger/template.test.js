// The tests `proxy-wasm-as init --template tcp-logger` gives a new project: the compiled filter in
// proxy-wasm-as's Envoy-like host, driven over TCP the way envoy.filters.network.wasm drives it.
// `npm test` builds it first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHost, Action, LogLevel, PeerType } from "proxy-wasm-as/host";

const wasm = readFileSync(new URL("../build/tcp-logger.wasm", import.meta.url));

async function start(pluginConfig = "") {
  const host = await createHost({ wasm, rootId: "tcp-logger", pluginConfig });
  assert.equal(host.startPlugin(), true);
  return host;
}

test("counts the bytes of a connection both ways, passes them unchanged, logs one line when the client closes", async () => {
  const host = await start();
  const conn = host.tcpConnection({ properties: { "source.address": "10.0.0.1:5555", "destination.address": "10.0.0.2:6379" } });
  assert.equal(conn.newConnectionAction, Action.Continue);
  assert.equal(conn.downstreamData("PING\r\n"), Action.Continue);
  assert.equal(conn.upstreamData("+PONG\r\n"), Action.Continue);
  assert.equal(conn.downstream.forwardedData.toString(), "PING\r\n");
  assert.equal(conn.upstream.forwardedData.toString(), "+PONG\r\n");
  assert.deepEqual(host.logMessages(LogLevel.Info), [], "nothing is logged before the connection ends");
  conn.closeDownstream(PeerType.Remote);
  assert.deepEqual(host.logMessages(LogLevel.Info), [
    `tcp 10.0.0.1:5555 -> 10.0.0.2:6379 (connection ${conn.connectionId}): 6 bytes from client, 7 bytes from upstream, client closed (remote), upstream open`,
  ]);
  assert.equal(host.metric("tcp_logger.connections")?.value, 1);
  assert.equal(host.metric("tcp_logger.bytes_from_client")?.value, 6);
  assert.equal(host.metric("tcp_logger.bytes_from_upstream")?.value, 7);
});

test("the gauge follows the open connections", async () => {
  const host = await start();
  const a = host.tcpConnection();
  const b = host.tcpConnection();
  assert.equal(host.metric("tcp_logger.active_connections")?.value, 2);
  a.complete();
  assert.equal(host.metric("tcp_logger.active_connections")?.value, 1);
  b.complete();
  assert.equal(host.metric("tcp_logger.active_connections")?.value, 0);
});

test("peek_bytes logs the first bytes a client sends; a bad value is refused", async () => {
  const host = await start(JSON.stringify({ peek_bytes: 4 }));
  const conn = host.tcpConnection();
  conn.downstreamData("GET / HTTP/1.1\r\n");
  assert.deepEqual(host.logMessages(LogLevel.Info), [`tcp connection ${conn.id} starts with 'GET '`]);
  conn.complete();
  const bad = await createHost({ wasm, rootId: "tcp-logger", pluginConfig: '{"peek_bytes": 1000}' });
  assert.equal(bad.startPlugin(), false);
});
