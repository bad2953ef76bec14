// Fault sweep: every host call a filter must expect to fail is failed in turn while the test's
// traffic replays; a trap is reported with the filter's TypeScript line. The examples that do I/O
// (a callout, shared data, bodies) must survive every such fault without trapping.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createHost, faultSweep, Status, type Host } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

test("the sweep finds the unchecked header read and reports it at its line; the checked calls pass", async () => {
  const r = await built("tests/fixtures/filters/unchecked-header.ts", { debug: true });
  const file = path.relative(process.cwd(), path.join(repoRoot, "tests/fixtures/filters/unchecked-header.ts"));
  const report = await faultSweep(
    () => createHost({ wasm: r.wasm, sourceMap: r.sourceMapFile }),
    (host) => {
      host.startPlugin();
      host.httpStream().requestHeaders(
        [
          [":path", "/"],
          ["x-token", "t"],
        ],
        true,
      );
    },
  );
  const faulted = report.runs.map((x) => `${x.call}:${x.status}`);
  assert.ok(faulted.includes(`proxy_get_shared_data:${Status.NotFound}`));
  assert.ok(faulted.includes(`proxy_get_header_map_value:${Status.NotFound}`));
  assert.equal(report.traps.length, 1, report.summary.join("\n"));
  const [trap] = report.traps;
  assert.equal(trap.call, "proxy_get_header_map_value");
  assert.match(trap.failures[0].at ?? "", new RegExp(`^${file.replace(/[.\\\\/]/g, "\\$&")}:8:\\d+$`));
  assert.match(report.summary[0], /^proxy_get_header_map_value -> NotFound \(call 1\): unreachable at .*unchecked-header\.ts:8:\d+/);
});

const examples: Array<{ name: string; config: unknown; traffic: (host: Host) => void }> = [
  {
    name: "auth-callout",
    config: { cluster: "auth", path: "/check", timeout_ms: 500, forward_headers: ["authorization"], copy_headers: ["x-user"] },
    traffic(host) {
      const http = host.httpStream();
      http.requestHeaders(
        [
          [":path", "/"],
          ["authorization", "Bearer t"],
        ],
        false,
      );
      host.httpCalls[0]?.respond({
        headers: [
          [":status", "200"],
          ["x-user", "ann"],
        ],
      });
      http.requestBody("x", true);
      http.complete();
    },
  },
  {
    name: "rate-limit",
    config: { capacity: 1, period_ms: 1000 },
    traffic(host) {
      for (let i = 0; i < 2; i++)
        host.httpStream({ properties: { "source.address": "10.0.0.1:1" } }).requestHeaders([[":path", "/"]], true);
      host.advanceTime(1000);
      host.httpStream({ properties: { "source.address": "10.0.0.1:1" } }).requestHeaders([[":path", "/"]], true);
    },
  },
  {
    name: "body-rewrite",
    config: { json_keys: ["password"], replacement: "[redacted]" },
    traffic(host) {
      const http = host.httpStream();
      http.requestHeaders(
        [
          [":path", "/"],
          ["content-type", "application/json"],
        ],
        false,
      );
      http.requestBody('{"password": ', false);
      http.requestBody('"x"}', true);
      http.complete();
    },
  },
];

for (const ex of examples) {
  test(`${ex.name} survives every recoverable host-call failure without trapping`, async () => {
    const r = await built(`examples/${ex.name}/index.ts`);
    const report = await faultSweep(
      () =>
        createHost({
          wasm: r.wasm,
          sourceMap: r.sourceMapFile,
          pluginConfig: JSON.stringify(ex.config),
          upstreams: ["auth"],
          clock: "virtual",
        }),
      (host) => {
        if (host.startPlugin()) ex.traffic(host);
      },
    );
    assert.ok(report.runs.length > 0, "the traffic makes faultable calls");
    assert.deepEqual(report.summary, []);
  });
}
