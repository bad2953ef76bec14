// examples/properties: source/connection/request properties in Envoy's encodings become headers,
// a canary header rewrites :authority, and onLog reads response properties.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, Action, LogLevel, type HostOptions } from "../../src/host/index.js";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { built, repoRoot } from "./helpers.js";
import { wasmConfigs } from "./envoy-config.js";

const CONFIG = JSON.stringify({ canary_header: "x-canary", canary_value: "1", canary_authority: "canary.internal" });

async function start(options: Partial<HostOptions> = {}) {
  const { wasm } = await built("examples/properties/index.ts");
  const host = await createHost({
    wasm,
    pluginConfig: CONFIG,
    pluginName: "default.properties",
    rootId: "properties",
    vmId: "props-vm",
    ...options,
  });
  return host;
}

const REQUEST: Array<[string, string]> = [
  [":method", "GET"],
  [":scheme", "http"],
  [":authority", "shop.example.com"],
  [":path", "/cart?id=7"],
];

test("properties: client address, port, mTLS and connection id become request headers", async () => {
  const host = await start();
  assert.equal(host.startPlugin(), true);
  const http = host.httpStream({ properties: { "source.address": "10.1.2.3:4567", "source.port": 4567, "connection.mtls": true } });
  assert.equal(http.requestHeaders(REQUEST, true), Action.Continue);
  assert.equal(http.request.header("x-client-address"), "10.1.2.3:4567");
  assert.equal(http.request.header("x-client-port"), "4567");
  assert.equal(http.request.header("x-client-mtls"), "true");
  assert.equal(http.request.header("x-connection-id"), String(http.connectionId));
  // No canary header: the authority is untouched and nothing is stored as filter state.
  assert.equal(http.request.header(":authority"), "shop.example.com");
  assert.equal(http.request.header("x-forwarded-host"), undefined);
  assert.equal(http.getProperty("canary"), undefined);
  http.complete();
});

test("properties: values a client sent under the same names are replaced, not appended", async () => {
  const host = await start();
  host.startPlugin();
  const http = host.httpStream({ properties: { "source.address": "192.0.2.9:1000", "source.port": 1000 } });
  http.requestHeaders([...REQUEST, ["x-client-address", "6.6.6.6:1"], ["x-client-mtls", "true"], ["x-client-port", "1"]], true);
  assert.deepEqual(http.request.headerValues("x-client-address"), ["192.0.2.9:1000"]);
  assert.deepEqual(http.request.headerValues("x-client-port"), ["1000"]);
  // The harness's default connection.mtls is false.
  assert.deepEqual(http.request.headerValues("x-client-mtls"), ["false"]);
});

test("properties: values in the wrong encoding are not misread", async () => {
  const host = await start();
  host.startPlugin();
  // A 4-byte port and a boolean sent as the text "true" (Kong-style string encoding): the filter
  // expects Envoy's 8-byte integer and 1-byte boolean, so it drops the port and reads mTLS as false.
  const http = host.httpStream({
    properties: { "source.port": new Uint8Array([0x39, 0x30, 0, 0]), "connection.mtls": "true" },
  });
  http.requestHeaders([...REQUEST, ["x-client-port", "spoofed"]], true);
  assert.equal(http.request.header("x-client-port"), undefined, "a malformed integer removes the header");
  assert.equal(http.request.header("x-client-mtls"), "false");
  // 8-byte little-endian integers are read whole (a value above 2^32).
  const big = host.httpStream({ properties: { "source.port": 2n ** 40n + 5n } });
  big.requestHeaders(REQUEST, true);
  assert.equal(big.request.header("x-client-port"), String(2n ** 40n + 5n));
});

test("properties: the canary header rewrites :authority, keeps the original and sets filter state", async () => {
  const host = await start();
  host.startPlugin();
  const http = host.httpStream();
  assert.equal(http.requestHeaders([...REQUEST, ["x-canary", "1"]], true), Action.Continue);
  assert.equal(http.request.header(":authority"), "canary.internal");
  assert.equal(http.request.header("x-forwarded-host"), "shop.example.com");
  // What later filters read as filter state wasm.canary (and the request.host property now).
  assert.equal(http.getProperty("canary")?.toString(), "true");
  assert.equal(http.getProperty("request.host")?.toString(), "canary.internal");

  for (const value of ["0", "yes", ""]) {
    const other = host.httpStream();
    other.requestHeaders([...REQUEST, ["x-canary", value]], true);
    assert.equal(other.request.header(":authority"), "shop.example.com", `x-canary: ${JSON.stringify(value)} is not the canary value`);
    assert.equal(other.getProperty("canary"), undefined);
  }
});

test("properties: without canary_authority nothing is rerouted", async () => {
  const host = await start({ pluginConfig: "" });
  assert.equal(host.startPlugin(), true);
  assert.ok(host.logMessages(LogLevel.Info).some((m) => m.endsWith("no canary routing")));
  const http = host.httpStream();
  http.requestHeaders([...REQUEST, ["x-canary", "1"]], true);
  assert.equal(http.request.header(":authority"), "shop.example.com");
  assert.equal(http.request.header("x-client-address"), "127.0.0.1:50000");
});

test("properties: a custom canary header and value", async () => {
  const host = await start({
    pluginConfig: JSON.stringify({ canary_header: "X-Env", canary_value: "beta", canary_authority: "beta.internal" }),
  });
  host.startPlugin();
  const hit = host.httpStream();
  hit.requestHeaders([...REQUEST, ["x-env", "beta"]], true);
  assert.equal(hit.request.header(":authority"), "beta.internal");
  const miss = host.httpStream();
  miss.requestHeaders([...REQUEST, ["x-canary", "1"]], true);
  assert.equal(miss.request.header(":authority"), "shop.example.com");
});

test("properties: the root context reads the plugin's name, root_id and vm_id", async () => {
  const host = await start();
  host.startPlugin();
  assert.deepEqual(host.logMessages(LogLevel.Info), [
    "properties: plugin 'default.properties' root_id 'properties' vm_id 'props-vm': canary requests (x-canary: 1) go to canary.internal",
  ]);
});

test("properties: onLog reads request and response properties after the stream ends", async () => {
  const host = await start();
  host.startPlugin();
  host.clearLogs();
  const http = host.httpStream({ properties: { "source.address": "10.0.0.7:999" } });
  http.requestHeaders([...REQUEST, ["x-canary", "1"]], true);
  http.responseHeaders([[":status", "201"]], false);
  http.responseBody("hello", true);
  http.complete();
  assert.deepEqual(host.logMessages(LogLevel.Info), ["GET /cart?id=7 HTTP/1.1 from 10.0.0.7:999 -> 201 (5 bytes) canary"]);

  // A stream that ends before any response: response properties are missing (-1).
  host.clearLogs();
  const reset = host.httpStream();
  reset.requestHeaders(REQUEST, false);
  reset.complete();
  assert.deepEqual(host.logMessages(LogLevel.Info), ["GET /cart?id=7 HTTP/1.1 from 127.0.0.1:50000 -> -1 (-1 bytes)"]);
});

test("properties: a configuration that is not JSON, or has a wrong type, is rejected with the reason", async () => {
  // Syntax errors carry the JSON reader's own reason and position after the filter's prefix.
  const cases: Array<[string, string]> = [
    ['{"canary_authority": "x",}', "properties: the configuration is not valid JSON: trailing comma"],
    ['{"canary_authority": 5}', "properties: bad configuration: 'canary_authority' must be a string, not number"],
    ['["canary"]', "properties: the configuration must be a JSON object, not array"],
    ['{"canary_value": "1"', "properties: the configuration is not valid JSON: unexpected end of input"],
  ];
  for (const [config, message] of cases) {
    const host = await start({ pluginConfig: config });
    assert.equal(host.startPlugin(), false, config);
    const errors = host.logMessages(LogLevel.Error).filter((m) => m.startsWith("properties:"));
    assert.equal(errors.length, 1, errors.join(" | "));
    assert.ok(errors[0].startsWith(message), errors[0]);
  }
});

test("properties: JSON escapes, unicode and null fields in the configuration", async () => {
  const host = await start({
    pluginConfig:
      '{"canary_header": null, "canary_value": "caf\\u00e9 \\"b\\" \\ud83d\\ude00", "canary_authority": "c\\/d.internal", "extra": [1, 2.5e3, -0.125, {"nested": true}]}',
  });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  const http = host.httpStream();
  http.requestHeaders([...REQUEST, ["x-canary", 'café "b" 😀']], true);
  assert.equal(http.request.header(":authority"), "c/d.internal");
});

// ---- the deployable files configure what the tests run ----

test("properties: envoy.yaml and wasmplugin.yaml load this module with a configuration it accepts", async () => {
  const dir = path.join(repoRoot, "examples", "properties");
  const [filter] = wasmConfigs(parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8")));
  assert.equal(filter.vm_config.code.local.filename, "build/properties.wasm");
  assert.equal(filter.configuration?.["@type"], "type.googleapis.com/google.protobuf.StringValue");
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.apiVersion, "extensions.istio.io/v1alpha1");
  assert.equal(plugin.kind, "WasmPlugin");
  assert.equal(plugin.spec.pluginName, filter.root_id);
  assert.match(plugin.spec.url, /^oci:\/\//);
  // Istio sends pluginConfig as JSON: the same settings as envoy.yaml's StringValue.
  assert.deepEqual(plugin.spec.pluginConfig, JSON.parse(filter.configuration!.value));
  for (const config of [filter.configuration!.value, JSON.stringify(plugin.spec.pluginConfig)]) {
    const host = await start({ pluginConfig: config, rootId: filter.root_id, vmId: filter.vm_config.vm_id });
    assert.equal(host.startPlugin(), true);
    const http = host.httpStream();
    http.requestHeaders([...REQUEST, ["x-canary", "1"]], true);
    assert.equal(http.request.header(":authority"), "canary.internal");
  }
});
