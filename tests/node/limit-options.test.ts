// run's limit flags (limit-options.ts) and durations: Envoy's defaults, and one clear line for each
// bad value (the CLI prints these as they are; run-cli.test.ts checks one end to end).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseLimits } from "../../src/run/limit-options.js";
import { parseDuration } from "../../src/run/options.js";

test("the defaults are Envoy's where Envoy has one", () => {
  assert.deepEqual(parseLimits({}), {
    timeLimitMs: 500,
    memoryLimitPages: 16384,
    logBytesPerMessage: 64 * 1024,
    logBytesPerStream: 1024 * 1024,
    maxHeadersCount: 100,
    maxHeaderBytes: 60 * 1024,
  });
  assert.equal(parseLimits({ maxMemory: "256MiB", timeLimit: "2s" }).memoryLimitPages, 4096);
  assert.equal(parseLimits({ timeLimit: "0" }).timeLimitMs, 0);
});

test("bad limit values are one line naming the flag and what to do", () => {
  const cases: Array<[Parameters<typeof parseLimits>[0], RegExp]> = [
    [{ timeLimit: "forever" }, /--time-limit "forever" is not a duration/],
    [{ maxMemory: "5GiB" }, /--max-memory 5368709120 bytes is out of range: use 65536 bytes to 4294967296 bytes/],
    [{ maxHeaders: "0" }, /--max-headers 0 is out of range: use 1 to 10000/],
    [{ maxHeaders: "many" }, /--max-headers "many" is not a whole number of headers/],
    [{ maxLogMessage: "lots" }, /--max-log-message "lots" is not a size/],
    [{ maxRequestHeaders: "100" }, /--max-request-headers 100 bytes is out of range: use 1024 bytes/],
  ];
  for (const [flags, pattern] of cases) assert.throws(() => parseLimits(flags), pattern);
});

test("a duration past what a Node timer holds is refused instead of firing after 1 ms", () => {
  assert.equal(parseDuration("24d".replace("24d", "2147483647"), "--timeout"), 2147483647);
  assert.throws(
    () => parseDuration("999999999s", "--timeout"),
    /--timeout "999999999s" is too long: the most is 2147483647 ms \(about 24 days\); use 0 for no limit/,
  );
});
