// The hostile filters of tests/hostile/modules.ts in the test harness: each one fails the test with
// a clear error or is held to its limit, never a hang or an exhausted process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, Action, TimeLimitError } from "../../src/host/index.js";
import { watModule } from "../../src/host/wat-builder.js";
import { loopForever, logFlood, memoryGrow, reentrantAllocate, wasiAmplify } from "../hostile/modules.js";

const REQUEST: Array<[string, string]> = [
  [":method", "GET"],
  [":path", "/"],
  [":authority", "h"],
];

test("a filter that loops forever: the harness call throws TimeLimitError naming the callback and the limit", async () => {
  const host = await createHost({ wasm: await loopForever(), timeLimitMs: 200 });
  const t = performance.now();
  assert.throws(
    () => host.httpStream().requestHeaders(REQUEST, true),
    (e: unknown) =>
      e instanceof TimeLimitError &&
      e.callback === "proxy_on_request_headers" &&
      e.limitMs === 200 &&
      /proxy_on_request_headers: ran longer than the time limit of 200 ms/.test(e.message),
  );
  const ms = performance.now() - t;
  assert.ok(ms >= 200 && ms < 3000, `cut after ${ms} ms`);
  // The VM failed the way a trap fails it, with one log line naming the callback and the limit.
  assert.equal(host.failures.length, 1);
  assert.equal(host.failures[0].kind, "time_limit");
  assert.equal(host.logMessages().filter((m) => /time limit of 200 ms/.test(m)).length, 1);
});

test("onTimeLimit fail: the stream gets the 503 wasm_fail_stream reply and the next stream a fresh VM", async () => {
  const host = await createHost({ wasm: await loopForever(), timeLimitMs: 100, onTimeLimit: "fail" });
  const s = host.httpStream();
  assert.equal(s.requestHeaders(REQUEST, true), Action.Pause);
  assert.equal(s.sentHttpResponse?.status, 503);
  assert.equal(s.sentHttpResponse?.details, "wasm_fail_stream");
  assert.equal(host.failures[0].kind, "time_limit");
  host.httpStream();
  assert.equal(host.vmCount, 2);
  assert.equal(host.failed, false);
});

test("fail-open: past the limit the stream continues without the filter", async () => {
  const host = await createHost({ wasm: await loopForever(), timeLimitMs: 100, onTimeLimit: "fail", failurePolicy: "fail-open" });
  const s = host.httpStream();
  assert.equal(s.requestHeaders(REQUEST, true), Action.Continue);
  assert.equal(s.sentHttpResponse, null);
  assert.equal(host.failures[0].kind, "time_limit");
});

test("timeLimitMs 0 turns the limit off; bad values are one clear line", async () => {
  const wasm = await logFlood(1);
  const host = await createHost({ wasm, timeLimitMs: 0 });
  assert.equal(host.httpStream().requestHeaders(REQUEST, true), Action.Continue);
  await assert.rejects(createHost({ wasm, timeLimitMs: -1 }), /timeLimitMs must be an integer from 0 to 2147483647, not -1/);
  await assert.rejects(createHost({ wasm, onTimeLimit: "hang" as never }), /onTimeLimit must be "throw" or "fail", not "hang"/);
  await assert.rejects(createHost({ wasm, logBytesPerStream: 0 }), /logBytesPerStream must be an integer from 1/);
});

test("a log flood (4,000 messages of 1 MiB) keeps at most logBytesPerStream, quickly, and says so once", async () => {
  const host = await createHost({ wasm: await logFlood(4000) });
  const before = process.memoryUsage().rss;
  const t = performance.now();
  assert.equal(host.httpStream().requestHeaders(REQUEST, true), Action.Continue);
  const kept = host.logs.filter((e) => e.level === 2).reduce((n, e) => n + e.message.length, 0);
  assert.ok(kept <= 1024 * 1024 + 16 * 200, `kept ${kept} chars`);
  assert.ok(host.logs[0].message.length < 64 * 1024 + 200, "one message is cut at logBytesPerMessage");
  assert.match(host.logs[0].message, /more bytes not kept: the host keeps 65536 bytes of a message and 1048576 of a stream\]$/);
  assert.equal(host.logMessages().filter((m) => /log output capped/.test(m)).length, 1);
  assert.ok(performance.now() - t < 2000);
  assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024);
});

test("WASI fd_write amplification (64 iovecs over 1 MiB, 2,000 times) gathers no more than the log caps", async () => {
  const host = await createHost({ wasm: await wasiAmplify(2000), logBytesPerMessage: 1000, logBytesPerStream: 5000 });
  const t = performance.now();
  assert.equal(host.httpStream().requestHeaders(REQUEST, true), Action.Continue);
  const stdout = host.logs.filter((e) => e.level === 2);
  assert.equal(stdout.length, 5);
  assert.ok(
    stdout.every((e) => e.message.startsWith("\0".repeat(1000)) && e.message.includes(`${64 * 1024 * 1024 - 1000} more bytes not kept`)),
  );
  assert.ok(performance.now() - t < 2000);
});

test("memory growth stops at the cap: 1 GiB by default (Envoy's), memoryLimitPages to change it", async () => {
  const host = await createHost({ wasm: await memoryGrow(), memoryLimitPages: 1024 + 2 });
  assert.equal(host.httpStream().requestHeaders(REQUEST, true), Action.Continue);
  assert.equal(host.memoryBytes, (1024 + 2) * 65536);
  assert.deepEqual(host.failures, []);
});

test("an allocator that calls back into an allocating host function is a trap that says so", async () => {
  const host = await createHost({ wasm: await reentrantAllocate(), onTimeLimit: "fail" });
  const s = host.httpStream();
  s.requestHeaders(REQUEST, true);
  assert.equal(host.failures.length, 1);
  assert.equal(host.failures[0].kind, "trap");
  assert.match(
    host.failures[0].message,
    /the module's allocator called a host function that allocates \(re-entrant proxy_on_memory_allocate\)/,
  );
  assert.equal(s.sentHttpResponse?.status, 503);
});

test("an allocator with the wrong type (i64) is refused at load, as Envoy refuses it", async () => {
  const wasm = await watModule(() => `(func (export "proxy_on_memory_allocate") (param i64) (result i64) (i64.const 1024))`, {
    noMalloc: true,
  });
  await assert.rejects(
    createHost({ wasm }),
    /export proxy_on_memory_allocate has type \(i64\) -> i64, but the host calls it as \(i32\) -> i32; Envoy fails the VM with "Bad function signature for: proxy_on_memory_allocate"/,
  );
});
