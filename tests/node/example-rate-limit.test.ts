// examples/rate-limit: token buckets in shared data, updated with CAS, refilled by ticks, shared by
// several VMs of one vm_id. The clock is the test's (Date.now is replaced).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { createHost, LogLevel, SharedState, type Host, type HttpStream } from "../../src/host/index.js";
import { checkWasmPluginRules } from "../../src/manifest/rules.js";
import { built, repoRoot } from "./helpers.js";

const T0 = 1_700_000_000_000;

function fakeClock(t: TestContext): { advance(ms: number): void } {
  let now = T0;
  t.mock.method(Date, "now", () => now);
  return {
    advance(ms: number) {
      now += ms;
    },
  };
}

async function start(config: unknown, options: { shared?: SharedState } = {}): Promise<Host> {
  const { wasm } = await built("examples/rate-limit/index.ts");
  const host = await createHost({ wasm, pluginConfig: JSON.stringify(config), rootId: "rl", vmId: "edge", shared: options.shared });
  assert.equal(host.startPlugin(), true, host.logMessages(LogLevel.Error).join("\n"));
  return host;
}

function send(host: Host, headers: Array<[string, string]> = [], address = "10.0.0.1:5000"): HttpStream {
  const http = host.httpStream({ properties: { "source.address": address } });
  http.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "api"], ...headers], true);
  return http;
}

const passed = (http: HttpStream) => http.sentHttpResponse === null;
const count = (host: Host, name: string) => host.metric(`rate_limit.${name}`, "counter")?.value ?? 0;

test("rate-limit: a client gets `capacity` requests, then 429 with retry-after; other clients are separate", async (t) => {
  fakeClock(t);
  const host = await start({ capacity: 3, period_ms: 2500 });
  assert.equal(host.tickPeriod, 2500);
  const results = [0, 1, 2, 3, 4].map(() => send(host));
  assert.deepEqual(results.map(passed), [true, true, true, false, false]);
  const refused = results[3].sentHttpResponse!;
  assert.equal(refused.status, 429);
  assert.equal(refused.body.toString(), "rate limit exceeded\n");
  assert.deepEqual(
    refused.headers.filter(([k]) => k === "retry-after"),
    [["retry-after", "3"]],
  );
  // Another port of the same IP is the same client; another IP is not.
  assert.equal(passed(send(host, [], "10.0.0.1:6000")), false);
  assert.equal(passed(send(host, [], "10.0.0.2:5000")), true);
  assert.equal(passed(send(host, [], "[2001:db8::1]:443")), true);
  assert.equal(count(host, "allowed"), 5);
  assert.equal(count(host, "limited"), 3);
});

test("rate-limit: with key_header the key is the header value, falling back to the address", async (t) => {
  fakeClock(t);
  const host = await start({ capacity: 1, key_header: "x-api-key" });
  assert.equal(passed(send(host, [["x-api-key", "alpha"]], "10.0.0.1:1")), true);
  assert.equal(passed(send(host, [["x-api-key", "alpha"]], "10.0.0.9:1")), false, "same key, other address");
  assert.equal(passed(send(host, [["x-api-key", "beta"]], "10.0.0.1:1")), true, "other key, same address");
  assert.equal(passed(send(host, [], "10.0.0.1:1")), true, "no key: the address has its own bucket");
  assert.equal(passed(send(host, [], "10.0.0.1:2")), false);
});

test("rate-limit: ticks refill `refill_tokens` per elapsed period, up to capacity", async (t) => {
  const clock = fakeClock(t);
  const host = await start({ capacity: 5, refill_tokens: 2, period_ms: 1000 });
  const drain = () => {
    let n = 0;
    while (passed(send(host))) n++;
    return n;
  };
  assert.equal(drain(), 5);
  host.tick(); // no time has passed
  assert.equal(drain(), 0);
  clock.advance(999);
  host.tick();
  assert.equal(drain(), 0, "not a whole period yet");
  clock.advance(1);
  host.tick();
  assert.equal(drain(), 2);
  clock.advance(2500); // two whole periods (and a half) while ticks were late
  host.tick();
  assert.equal(drain(), 4);
  clock.advance(60_000);
  host.tick();
  assert.equal(drain(), 5, "never more than capacity");
  // retry-after: the next refill is due 1000 ms after the last one; 400 ms later that is 1 s.
  clock.advance(400);
  const http = send(host);
  assert.deepEqual(
    http.sentHttpResponse?.headers.filter(([k]) => k === "retry-after"),
    [["retry-after", "1"]],
  );
});

test("rate-limit: many concurrent streams take exactly `capacity` tokens", async (t) => {
  fakeClock(t);
  const host = await start({ capacity: 50 });
  const streams = Array.from({ length: 200 }, () => host.httpStream({ properties: { "source.address": "192.0.2.7:1" } }));
  // Headers of all streams arrive before any stream ends.
  for (const s of streams)
    s.requestHeaders(
      [
        [":method", "GET"],
        [":path", "/"],
      ],
      false,
    );
  assert.equal(streams.filter(passed).length, 50);
  assert.ok(streams.slice(50).every((s) => s.sentHttpResponse?.status === 429));
  for (const s of streams) s.complete();
});

test("rate-limit: two VMs of one vm_id share the buckets and refill once per period", async (t) => {
  const clock = fakeClock(t);
  const a = await start({ capacity: 10, refill_tokens: 2, period_ms: 1000 });
  const b = await a.addVm();
  assert.equal(b.startPlugin(), true);
  const results: boolean[] = [];
  for (let i = 0; i < 14; i++) results.push(passed(send(i % 2 === 0 ? a : b)));
  assert.equal(results.filter(Boolean).length, 10, "the VMs count together");
  clock.advance(1000);
  a.tick();
  b.tick(); // the same period: the shared clock has already moved
  let refilled = 0;
  for (let i = 0; i < 10; i++) if (passed(send(i % 2 === 0 ? b : a))) refilled++;
  assert.equal(refilled, 2, "one refill, not one per VM");
  // A VM that has not ticked yet never refills twice nor goes backwards.
  clock.advance(1000);
  a.tick();
  assert.equal(passed(send(a)), true);
  assert.equal(passed(send(b)), true, "b takes the refill a's request already applied");
  assert.equal(passed(send(b)), false);
  assert.equal(a.metric("rate_limit.allowed")?.value, 14, "metrics are shared too");
});

/** Shared data where another worker takes a token from a bucket right after each of the next `races` reads. */
class RacingState extends SharedState {
  races = 0;
  override getData(vmId: string, key: string) {
    const v = super.getData(vmId, key);
    if (v && this.races > 0 && key.includes("/k/")) {
      this.races--;
      const taken = Buffer.from(v.value);
      taken.writeUInt32LE(taken.readUInt32LE(0) - 1, 0); // [tokens u32][generation u64]
      super.setData(vmId, key, taken, v.cas);
    }
    return v;
  }
}

test("rate-limit: a CAS mismatch (another worker wrote first) is retried on the fresh value", async (t) => {
  fakeClock(t);
  const shared = new RacingState();
  const host = await start({ capacity: 5 }, { shared });
  assert.equal(passed(send(host)), true); // creates the bucket: 4 left
  shared.races = 2; // the next request loses the race twice: the other worker takes 2 tokens
  assert.equal(passed(send(host)), true); // 4 - 2 taken by the other worker - 1 = 1 left
  assert.equal(count(host, "cas_retries"), 2);
  assert.equal(passed(send(host)), true);
  assert.equal(passed(send(host)), false, "the tokens the other worker took are gone");
  const entry = shared.dataEntries("edge").find((e) => e.key === "rate-limit/rl/k/ip:10.0.0.1");
  assert.equal(entry?.value.readUInt32LE(0), 0);
});

test("rate-limit: endless contention lets the request through with a warning (fails open)", async (t) => {
  fakeClock(t);
  const shared = new RacingState();
  const host = await start({ capacity: 100 }, { shared });
  send(host);
  shared.races = 1000;
  assert.equal(passed(send(host)), true);
  assert.equal(count(host, "cas_retries"), 8);
  assert.deepEqual(host.logMessages(LogLevel.Warn), [
    "rate-limit: could not update the bucket of rate-limit/rl/k/ip:10.0.0.1; letting the request through",
  ]);
});

test("rate-limit: per request one read and one write of shared data; memory stays flat", async (t) => {
  fakeClock(t);
  const host = await start({ capacity: 1_000_000 });
  const run = () => send(host).complete();
  for (let i = 0; i < 100; i++) run();
  host.resetHostCalls();
  run();
  assert.deepEqual(host.hostCalls(), {
    proxy_get_property: 1, // source.address
    proxy_get_shared_data: 1,
    proxy_set_shared_data: 1,
    proxy_increment_metric: 1,
  });
  const before = host.memoryBytes;
  for (let i = 0; i < 5000; i++) run();
  assert.equal(host.memoryBytes, before);
});

test("rate-limit: configuration mistakes are refused with the reason", async () => {
  const { wasm } = await built("examples/rate-limit/index.ts");
  const cases: Array<[string, string]> = [
    ['{"capacity": 0}', '"capacity" must be a whole number from 1 to 1000000000'],
    ['{"capacity": 2.5}', '"capacity" must be a whole number from 1 to 1000000000'],
    ['{"period_ms": "1s"}', '"period_ms" must be a whole number from 1 to 86400000'],
    ['{"key_header": ["x"]}', '"key_header" must be a string'],
    ['{"burst": 3}', '"burst" is not a known field (expected capacity, refill_tokens, period_ms or key_header)'],
    ["[10]", "the configuration must be a JSON object: not array"],
    ['{"capacity": 10', "the configuration must be a JSON object: unexpected end of input at line 1, column 16"],
  ];
  for (const [config, message] of cases) {
    const host = await createHost({ wasm, pluginConfig: config });
    assert.equal(host.startPlugin(), false, config);
    assert.deepEqual(
      host.logMessages(LogLevel.Error).filter((m) => m.startsWith("rate-limit:")),
      [`rate-limit: ${message}`],
      config,
    );
  }
});

// ---- the deployable files ----

test("rate-limit: envoy.yaml and wasmplugin.yaml load the module with the configuration the tests use", async (t) => {
  fakeClock(t);
  const dir = path.join(repoRoot, "examples", "rate-limit");
  const envoy = parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8"));
  const filters = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters;
  const wasm = filters.find((f: { name: string }) => f.name === "envoy.filters.http.wasm").typed_config.config;
  assert.equal(wasm.vm_config.code.local.filename, "build/rate-limit.wasm");
  assert.equal(wasm.configuration["@type"], "type.googleapis.com/google.protobuf.StringValue");
  const config = JSON.parse(wasm.configuration.value);
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.kind, "WasmPlugin");
  assert.equal(plugin.spec.pluginName, wasm.root_id);
  assert.deepEqual(plugin.spec.pluginConfig, config);
  assert.deepEqual(checkWasmPluginRules(plugin), []);
  const host = await start(config);
  let n = 0;
  while (passed(send(host, [[config.key_header, "k"]]))) n++;
  assert.equal(n, config.capacity);
});
