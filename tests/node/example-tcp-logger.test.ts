// examples/tcp-logger: a network filter counting bytes each way, logging who closed each side and
// a summary per connection, with counters and a gauge; driven by the host's TCP connection driver.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { createHost, Action, LogLevel, PeerType, type HostOptions } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

async function start(options: Partial<HostOptions> = {}) {
  const { wasm } = await built("examples/tcp-logger/index.ts");
  const host = await createHost({ wasm, rootId: "tcp-logger", ...options });
  assert.equal(host.startPlugin(), true);
  return host;
}

const metric = (host: Awaited<ReturnType<typeof start>>, name: string) => host.metric(name)?.value;

test("tcp-logger: counts bytes both ways, passes data unchanged and logs one line when the client closes", async () => {
  const host = await start();
  const conn = host.tcpConnection({ properties: { "source.address": "10.0.0.1:5555", "destination.address": "10.0.0.2:6379" } });
  assert.equal(conn.newConnectionAction, Action.Continue);
  assert.equal(conn.downstreamData("PING\r\n"), Action.Continue);
  assert.equal(conn.upstreamData("+PONG\r\n"), Action.Continue);
  assert.equal(conn.downstreamData("GET k\r\n"), Action.Continue);
  assert.equal(conn.upstreamData("$-1\r\n"), Action.Continue);
  assert.equal(conn.downstream.forwardedData.toString(), "PING\r\nGET k\r\n");
  assert.equal(conn.upstream.forwardedData.toString(), "+PONG\r\n$-1\r\n");
  assert.equal(metric(host, "tcp_logger.active_connections"), 1);
  assert.deepEqual(host.logMessages(LogLevel.Info), [], "nothing is logged before the connection ends");

  conn.closeDownstream(PeerType.Remote);
  assert.equal(conn.isComplete, true);
  assert.deepEqual(host.logMessages(LogLevel.Info), [
    `tcp 10.0.0.1:5555 -> 10.0.0.2:6379 (connection ${conn.connectionId}): 13 bytes from client, 12 bytes from upstream, client closed (remote), upstream open`,
  ]);
  assert.deepEqual(host.logMessages(LogLevel.Debug), [`tcp connection ${conn.id}: client side closed (remote)`]);
  assert.equal(metric(host, "tcp_logger.connections"), 1);
  assert.equal(metric(host, "tcp_logger.bytes_from_client"), 13);
  assert.equal(metric(host, "tcp_logger.bytes_from_upstream"), 12);
  assert.equal(metric(host, "tcp_logger.active_connections"), 0);
});

test("tcp-logger: reports the peer type of each close, upstream first", async () => {
  const host = await start();
  const conn = host.tcpConnection();
  conn.downstreamData("hello");
  // End of stream from the upstream: Envoy reports an upstream close with peer type Unknown.
  conn.upstreamData("bye", true);
  assert.equal(conn.isComplete, false, "the context lives until the client side closes");
  assert.deepEqual(host.logMessages(LogLevel.Debug), [`tcp connection ${conn.id}: upstream side closed (unknown)`]);
  conn.closeDownstream(PeerType.Local);
  assert.deepEqual(host.logMessages(LogLevel.Info), [
    `tcp 127.0.0.1:50000 -> 127.0.0.1:10000 (connection ${conn.connectionId}): 5 bytes from client, 3 bytes from upstream, client closed (local), upstream closed (unknown)`,
  ]);

  host.clearLogs();
  const other = host.tcpConnection();
  other.closeUpstream(PeerType.Remote);
  other.closeDownstream(PeerType.Remote);
  assert.match(
    host.logMessages(LogLevel.Info)[0],
    /: 0 bytes from client, 0 bytes from upstream, client closed \(remote\), upstream closed \(remote\)$/,
  );
});

test("tcp-logger: interleaved connections keep separate counts; the gauge follows open connections", async () => {
  const host = await start();
  const a = host.tcpConnection({ properties: { "source.address": "10.0.0.1:1" } });
  const b = host.tcpConnection({ properties: { "source.address": "10.0.0.2:2" } });
  assert.equal(metric(host, "tcp_logger.active_connections"), 2);
  a.downstreamData("a".repeat(100));
  b.downstreamData("b".repeat(7));
  a.upstreamData("x".repeat(1000));
  b.upstreamData("y");
  b.closeDownstream(PeerType.Remote);
  assert.equal(metric(host, "tcp_logger.active_connections"), 1);
  a.downstreamData("a");
  a.closeDownstream(PeerType.Remote);
  const lines = host.logMessages(LogLevel.Info);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^tcp 10\.0\.0\.2:2 -> .*: 7 bytes from client, 1 bytes from upstream,/);
  assert.match(lines[1], /^tcp 10\.0\.0\.1:1 -> .*: 101 bytes from client, 1000 bytes from upstream,/);
  assert.equal(metric(host, "tcp_logger.connections"), 2);
  assert.equal(metric(host, "tcp_logger.bytes_from_client"), 108);
  assert.equal(metric(host, "tcp_logger.bytes_from_upstream"), 1001);
  assert.equal(metric(host, "tcp_logger.active_connections"), 0);
});

test("tcp-logger: peek_bytes logs the first bytes of the first client chunk, escaped", async () => {
  const host = await start({ pluginConfig: JSON.stringify({ peek_bytes: 8 }) });
  const conn = host.tcpConnection();
  conn.downstreamData(Buffer.from("\x16\x03\x01\x02\x00'\\abcdef", "latin1"));
  conn.downstreamData("second chunk is not logged");
  assert.deepEqual(host.logMessages(LogLevel.Info), [`tcp connection ${conn.id} starts with '\\x16\\x03\\x01\\x02\\x00\\x27\\x5ca'`]);
  // The filter only reads data; it never changes it.
  assert.equal(conn.downstream.forwardedData.toString("latin1"), "\x16\x03\x01\x02\x00'\\abcdefsecond chunk is not logged");
  conn.complete();
});

test("tcp-logger: a bad configuration is rejected with the reason", async () => {
  const { wasm } = await built("examples/tcp-logger/index.ts");
  const cases: Array<[string, string]> = [
    ['{"peek_bytes": -1}', "tcp-logger: 'peek_bytes' must be a whole number from 0 to 256"],
    ['{"peek_bytes": 2.5}', "tcp-logger: 'peek_bytes' must be a whole number from 0 to 256"],
    ['{"peek_bytes": "16"}', "tcp-logger: 'peek_bytes' must be a whole number from 0 to 256"],
    ["[16]", "tcp-logger: the configuration must be a JSON object, not array"],
    ["peek_bytes: 16", "tcp-logger: the configuration is not valid JSON: "],
  ];
  for (const [config, message] of cases) {
    const host = await createHost({ wasm, pluginConfig: config });
    assert.equal(host.startPlugin(), false, config);
    const errors = host.logMessages(LogLevel.Error).filter((m) => m.startsWith("tcp-logger:"));
    assert.equal(errors.length, 1, config);
    assert.ok(errors[0].startsWith(message), `${config}: ${errors[0]}`);
  }
});

test("tcp-logger: per chunk it makes only the metric call it needs", async () => {
  const host = await start();
  const conn = host.tcpConnection();
  conn.downstreamData("warm-up");
  conn.upstreamData("warm-up");
  host.resetHostCalls();
  conn.downstreamData("x");
  conn.upstreamData("y");
  assert.deepEqual(host.hostCalls(), { proxy_increment_metric: 2 });
  conn.complete();
});

test("tcp-logger: envoy.yaml runs it as a network filter before tcp_proxy, wasmplugin.yaml as NETWORK", () => {
  const dir = path.join(repoRoot, "examples", "tcp-logger");
  const envoy = parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8"));
  const filters = envoy.static_resources.listeners[0].filter_chains[0].filters as Array<{
    name: string;
    typed_config: Record<string, any>;
  }>;
  assert.deepEqual(
    filters.map((f) => f.name),
    ["envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy"],
  );
  const config = filters[0].typed_config.config;
  assert.equal(filters[0].typed_config["@type"], "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm");
  assert.equal(config.vm_config.code.local.filename, "build/tcp-logger.wasm");
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.kind, "WasmPlugin");
  assert.equal(plugin.spec.type, "NETWORK");
  assert.equal(plugin.spec.pluginName, config.root_id);
  assert.deepEqual(plugin.spec.pluginConfig, JSON.parse(config.configuration.value));
});
