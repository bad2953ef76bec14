// examples/body-rewrite: JSON key redaction and digit masks on buffered bodies, compared with a
// reference written here in JavaScript (JSON.parse and regular expressions).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { createHost, Action, LogLevel, type Host, type HttpStream } from "../../src/host/index.js";
import { checkWasmPluginRules } from "../../src/manifest/rules.js";
import { built, repoRoot } from "./helpers.js";

const CONFIG = {
  json_keys: ["password", "card_number"],
  masks: ["####-####-####-????", "############????"],
  replacement: "[redacted]",
};

async function start(config: unknown = CONFIG): Promise<Host> {
  const { wasm } = await built("examples/body-rewrite/index.ts");
  const host = await createHost({
    wasm,
    pluginConfig: typeof config === "string" ? config : JSON.stringify(config),
    rootId: "body-rewrite",
  });
  assert.equal(host.startPlugin(), true, host.logMessages(LogLevel.Error).join("\n"));
  return host;
}

// ---- the reference ----

function maskRegex(masks: string[]): RegExp {
  const alt = masks.map((m) => [...m].map((c) => (c === "#" || c === "?" ? "\\d" : c.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&"))).join(""));
  return new RegExp(`(?<!\\d)(?:${alt.join("|")})(?!\\d)`, "g");
}

function maskText(s: string, masks: string[]): string {
  const re = maskRegex(masks);
  return s.replace(re, (match) => {
    const mask = masks.find((m) => maskRegex([m]).exec(match)?.[0] === match)!;
    return [...match].map((c, i) => (mask[i] === "#" ? "*" : c)).join("");
  });
}

function redactJson(v: unknown, config: typeof CONFIG): unknown {
  if (typeof v === "string") return maskText(v, config.masks);
  if (Array.isArray(v)) return v.map((x) => redactJson(x, config));
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = config.json_keys.includes(k) ? config.replacement : redactJson(x, config);
    return out;
  }
  return v;
}

/** Sends `body` in chunks of `chunk` bytes; returns the stream and the actions of the body calls. */
function sendRequest(
  host: Host,
  contentType: string | null,
  body: Buffer,
  chunk = 7,
  extra: Array<[string, string]> = [],
): { http: HttpStream; actions: number[] } {
  const http = host.httpStream();
  const headers: Array<[string, string]> = [
    [":method", "POST"],
    [":path", "/"],
    [":authority", "api"],
    ["content-length", String(body.length)],
    ...extra,
  ];
  if (contentType !== null) headers.push(["content-type", contentType]);
  assert.equal(http.requestHeaders(headers, false), Action.Continue);
  const actions: number[] = [];
  for (let i = 0; i < body.length; i += chunk) actions.push(http.requestBody(body.subarray(i, i + chunk), i + chunk >= body.length));
  return { http, actions };
}

const LOGIN =
  '{"user": "ann", "password": "hunter2", "card": "4111-1111-1111-1111",\n "nested": {"card_number": 4111111111111111, "ok": [1, "x"]}, "note": "ref 12345678901234567 and 4000123412341234"}';

test("body-rewrite: a JSON request in small chunks is buffered, redacted and masked, keeping its formatting", async () => {
  const host = await start();
  const { http, actions } = sendRequest(host, "application/json; charset=utf-8", Buffer.from(LOGIN));
  assert.ok(
    actions.slice(0, -1).every((a) => a === Action.Pause),
    "chunks are held until the end",
  );
  assert.equal(actions.at(-1), Action.Continue);
  assert.equal(http.request.header("content-length"), undefined, "the length changed, so it is removed");
  assert.equal(
    http.request.body.toString(),
    '{"user": "ann", "password": "[redacted]", "card": "****-****-****-1111",\n "nested": {"card_number": "[redacted]", "ok": [1, "x"]}, "note": "ref 12345678901234567 and ************1234"}',
  );
  assert.deepEqual(JSON.parse(http.request.body.toString()), redactJson(JSON.parse(LOGIN), CONFIG));
  http.complete();
  assert.deepEqual(host.failures, []);
});

test("body-rewrite: responses too; keys are matched after decoding escapes; numbers are never masked", async () => {
  const host = await start();
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
    ],
    true,
  );
  assert.equal(
    http.responseHeaders(
      [
        [":status", "200"],
        ["content-type", "application/problem+json"],
        ["content-length", "999"],
      ],
      false,
    ),
    Action.Continue,
  );
  assert.equal(http.response.header("content-length"), undefined);
  const body = '[{"pass\\u0077ord": {"deep": ["secret"]}}, 4111111111111111, "4111111111111111", {"k": "\\u00e9 4111111111111111"}]';
  assert.equal(http.responseBody(body.slice(0, 20), false), Action.Pause);
  assert.equal(http.responseBody(body.slice(20), true), Action.Continue);
  assert.equal(
    http.response.body.toString(),
    '[{"pass\\u0077ord": "[redacted]"}, 4111111111111111, "************1111", {"k": "\\u00e9 ************1111"}]',
  );
});

test("body-rewrite: text bodies are masked everywhere; digits next to a match keep it from matching", async () => {
  const host = await start();
  const text =
    "card 4111-1111-1111-1111, not 94111-1111-1111-1111 nor 4111-1111-1111-11112; raw 4000123412341234.\n" +
    "é".repeat(5) +
    "4000123412341234";
  for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml", "TEXT/CSV"]) {
    const { http } = sendRequest(host, type, Buffer.from(text), 5);
    assert.equal(http.request.body.toString(), maskText(text, CONFIG.masks), type);
    assert.match(http.request.body.toString(), /^card \*\*\*\*-\*\*\*\*-\*\*\*\*-1111, not 94111/);
  }
  // A JSON content type with a body that does not parse is masked as text.
  const { http } = sendRequest(host, "application/json", Buffer.from('{"card": "4111-1111-1111-1111",'));
  assert.equal(http.request.body.toString(), '{"card": "****-****-****-1111",');
});

test("body-rewrite: binary, unknown and compressed bodies are neither buffered nor changed", async () => {
  const host = await start();
  const body = Buffer.from('{"password": "x", "card": "4111-1111-1111-1111"}');
  for (const [type, extra] of [
    ["image/png", []],
    [null, []],
    ["application/octet-stream", []],
    ["application/json", [["content-encoding", "gzip"]]],
  ] as Array<[string | null, Array<[string, string]>]>) {
    const { http, actions } = sendRequest(host, type, body, 10, extra);
    assert.ok(
      actions.every((a) => a === Action.Continue),
      `${type}: never paused`,
    );
    assert.deepEqual(http.request.body, body);
    assert.equal(http.request.header("content-length"), String(body.length));
  }
  // No body at all: nothing to do, content-length untouched.
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      ["content-type", "application/json"],
      ["content-length", "0"],
    ],
    true,
  );
  assert.equal(http.request.header("content-length"), "0");
});

test("body-rewrite: a body that ends with trailers is rewritten in the trailers callback", async () => {
  const host = await start();
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "POST"],
      [":path", "/"],
      ["content-type", "application/json"],
    ],
    false,
  );
  assert.equal(http.requestBody('{"password":', false), Action.Pause);
  assert.equal(http.requestBody(' "p"}', false), Action.Pause);
  assert.equal(http.requestTrailers([["x-checksum", "1"]]), Action.Continue);
  assert.equal(http.request.body.toString(), '{"password": "[redacted]"}');
  assert.equal(http.request.trailer("x-checksum"), "1");
});

function records(bytes: number): unknown[] {
  const out: unknown[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const r = {
      id: i,
      user: { name: `user ${i} é`, password: `pw-${i}`, cards: [`4111-1111-1111-${String(i % 10000).padStart(4, "0")}`] },
      note: `order ${i}: paid with 4000${String(100000000000 + i).slice(0, 12)} on ${i}`,
      amount: i / 7,
      card_number: 4111111111111111,
    };
    size += JSON.stringify(r).length + 1;
    out.push(r);
  }
  return out;
}

function runLarge(host: Host, body: Buffer): Buffer {
  const { http, actions } = sendRequest(host, "application/json", body, 64 * 1024);
  assert.equal(actions.filter((a) => a === Action.Pause).length, actions.length - 1);
  const out = http.request.body;
  http.complete();
  return out;
}

test("body-rewrite: a 1 MiB body in 64 KiB chunks matches the reference", async () => {
  const host = await start();
  const data = records(1 << 20);
  const body = Buffer.from(JSON.stringify(data, null, 1));
  assert.ok(body.length >= 1 << 20);
  const out = runLarge(host, body);
  assert.deepEqual(JSON.parse(out.toString()), redactJson(data, CONFIG));
  // What one such request costs the guest: the body, its parsed tree and the output.
  assert.ok(host.memoryBytes <= 32 * body.length, `guest memory ${host.memoryBytes} bytes for a ${body.length}-byte body`);
  assert.deepEqual(host.failures, []);
});

test("body-rewrite: large bodies leave nothing behind (guest memory stops growing)", async () => {
  const host = await start();
  const body = Buffer.from(JSON.stringify(records(256 * 1024)));
  // The SDK collects garbage after every 16 finished streams (or when memory grows), so memory
  // first grows to hold about 16 requests' garbage, then stays there.
  for (let i = 0; i < 48; i++) runLarge(host, body);
  const after = host.memoryBytes;
  for (let i = 0; i < 32; i++) runLarge(host, body);
  assert.equal(host.memoryBytes, after);
});

test("body-rewrite: direction switches, a custom replacement, and configuration mistakes", async () => {
  const host = await start({ json_keys: ["token"], replacement: 'gone "quoted"', request: false });
  const { http } = sendRequest(host, "application/json", Buffer.from('{"token": "t"}'));
  assert.equal(http.request.body.toString(), '{"token": "t"}', "request rewriting is off");
  http.responseHeaders(
    [
      [":status", "200"],
      ["content-type", "application/json"],
    ],
    false,
  );
  http.responseBody('{"token": "t"}', true);
  assert.equal(http.response.body.toString(), '{"token": "gone \\"quoted\\""}');

  const { wasm } = await built("examples/body-rewrite/index.ts");
  const cases: Array<[unknown, string]> = [
    [{ json_keys: "password" }, '"json_keys" must be an array of strings, not string'],
    [{ json_keys: [""] }, '"json_keys" must hold non-empty strings'],
    [{ masks: ["xxxx"] }, '"masks": "xxxx" has no \'#\' (a digit to mask)'],
    [{ masks: ["####é"] }, '"masks": "####é" must be ASCII'],
    [{ replacement: null }, '"replacement" must be a string'],
    [{ request: "no" }, '"request" must be true or false'],
    [{ keys: [] }, '"keys" is not a known field (expected json_keys, masks, replacement, request or response)'],
    ["[]", "the configuration must be a JSON object: not array"],
  ];
  for (const [config, message] of cases) {
    const h = await createHost({ wasm, pluginConfig: typeof config === "string" ? config : JSON.stringify(config) });
    assert.equal(h.startPlugin(), false, JSON.stringify(config));
    assert.deepEqual(
      h.logMessages(LogLevel.Error).filter((m) => m.startsWith("body-rewrite:")),
      [`body-rewrite: ${message}`],
    );
  }
});

// ---- the deployable files ----

test("body-rewrite: envoy.yaml and wasmplugin.yaml carry the configuration the tests use", async () => {
  const dir = path.join(repoRoot, "examples", "body-rewrite");
  const envoy = parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8"));
  const listener = envoy.static_resources.listeners[0];
  const filters = listener.filter_chains[0].filters[0].typed_config.http_filters;
  const wasm = filters.find((f: { name: string }) => f.name === "envoy.filters.http.wasm").typed_config.config;
  assert.equal(wasm.vm_config.code.local.filename, "build/body-rewrite.wasm");
  assert.deepEqual(JSON.parse(wasm.configuration.value), CONFIG);
  assert.ok(listener.per_connection_buffer_limit_bytes > 1 << 20, "Envoy's 1 MiB default buffer limit would refuse large bodies");
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.kind, "WasmPlugin");
  assert.equal(plugin.spec.pluginName, wasm.root_id);
  assert.deepEqual(plugin.spec.pluginConfig, CONFIG);
  assert.deepEqual(checkWasmPluginRules(plugin), []);
});
