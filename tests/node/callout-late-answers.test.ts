// Answers to calls whose stream has ended: Envoy keeps a stream's calls on its root context and
// answers them after the stream ended (proxy-wasm-cpp-host exports.cc), so the SDK keeps each call's
// entry until its answer and drops an answer whose context is gone, however many calls are pending.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LogLevel } from "../../src/host/index.js";
import { startFilter } from "./helpers.js";

const REQUEST: Array<[string, string]> = [
  [":method", "GET"],
  [":path", "/"],
  [":authority", "example.com"],
  [":scheme", "http"],
];

test("200 calls of ended streams answered late reach no context, and a live stream's answer still reaches it", async () => {
  const host = await startFilter("tests/fixtures/filters/late-answers.ts", { upstreams: ["backend"] });
  for (let i = 0; i < 200; i++) {
    const s = host.httpStream();
    s.requestHeaders(REQUEST, true);
    assert.equal(s.request.paused, true);
    s.complete();
  }
  const live = host.httpStream();
  live.requestHeaders(REQUEST, true);
  const calls = host.httpCallHistory;
  assert.equal(calls.length, 201);
  for (const c of calls.slice(0, 200)) c.respond({ headers: [[":status", "200"]] });
  assert.deepEqual(host.logMessages(LogLevel.Warn), [], "no answer went to the root context");
  calls[200].respond({ headers: [[":status", "200"]] });
  assert.equal(live.request.paused, false);
  assert.equal(live.request.header("x-answered"), String(live.id));
  assert.deepEqual(host.failures, []);
});
