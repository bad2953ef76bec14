// The harness for the hard cases: a virtual clock (ticks, the filter's clock, callout timeouts and
// late answers follow it), callout failures as Envoy delivers them, and injected host-call failures
// (CAS mismatch, NotFound, ...), each against an example that has to handle it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, Action, LogLevel, Status, VirtualClock, type Host, type HttpStream } from "../../src/host/index.js";
import { built } from "./helpers.js";

async function rateLimiter(config: unknown): Promise<Host> {
  const { wasm } = await built("examples/rate-limit/index.ts");
  const host = await createHost({ wasm, pluginConfig: JSON.stringify(config), clock: "virtual" });
  assert.equal(host.startPlugin(), true);
  return host;
}

const allowed = (host: Host) => {
  const http = host.httpStream({ properties: { "source.address": "10.0.0.1:5000" } });
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "api"],
    ],
    true,
  );
  return http.localResponse === null;
};

test("virtual clock: ticks fire as time passes their period, and the filter's clock reads the virtual time", async () => {
  const host = await rateLimiter({ capacity: 2, refill_tokens: 1, period_ms: 1000 });
  const t0 = host.clock.nowMs();
  assert.deepEqual([allowed(host), allowed(host), allowed(host)], [true, true, false]);
  assert.equal(host.advanceTime(999), 0, "no tick before the period");
  assert.equal(allowed(host), false);
  assert.equal(host.advanceTime(1), 1, "one tick at the period");
  assert.equal(allowed(host), true, "refilled by one token");
  assert.equal(allowed(host), false);
  assert.equal(host.advanceTime(10_000), 10, "one tick per elapsed period");
  assert.deepEqual([allowed(host), allowed(host), allowed(host)], [true, true, false], "refilled up to capacity");
  assert.equal(host.clock.nowMs(), t0 + 11_000);
  // retry-after comes from proxy_get_current_time_nanoseconds: the next refill is 1 s away on the virtual clock.
  const http = host.httpStream({ properties: { "source.address": "10.0.0.1:5000" } });
  http.requestHeaders([[":path", "/"]], true);
  assert.deepEqual(
    http.localResponse?.headers.filter(([k]) => k === "retry-after"),
    [["retry-after", "1"]],
  );
});

test("virtual clock: advanceTime without one, or backwards, is a clear error; a VirtualClock can be shared", async () => {
  const { wasm } = await built("examples/rate-limit/index.ts");
  const real = await createHost({ wasm });
  assert.throws(() => real.advanceTime(10), /advanceTime needs a virtual clock: createHost\(\{ \.\.\., clock: "virtual" \}\)/);
  const clock = new VirtualClock(1_000);
  const a = await createHost({ wasm, clock });
  assert.throws(() => a.advanceTime(-1), /advanceTime takes milliseconds >= 0, not -1/);
  assert.equal(a.clock, clock);
  assert.equal(clock.nowNs(), 1_000_000_000n);
});

test("CAS mismatch injection: the limiter retries its compare-and-swap and still counts the request", async () => {
  const host = await rateLimiter({ capacity: 1, period_ms: 1000 });
  assert.equal(allowed(host), true);
  host.advanceTime(1000);
  const before = host.hostCalls().proxy_set_shared_data ?? 0;
  host.injectCasMismatch(1);
  assert.equal(allowed(host), true, "allowed after one retry");
  assert.equal((host.hostCalls().proxy_set_shared_data ?? 0) - before, 2, "the write was retried once");
  assert.equal(allowed(host), false, "and the token was taken once");
  assert.deepEqual(host.failures, []);
});

async function authCallout(): Promise<Host> {
  const { wasm } = await built("examples/auth-callout/index.ts");
  const pluginConfig = JSON.stringify({ cluster: "auth", path: "/check", timeout_ms: 500, forward_headers: ["authorization"] });
  const host = await createHost({ wasm, pluginConfig, upstreams: ["auth"], clock: "virtual" });
  assert.equal(host.startPlugin(), true);
  return host;
}

function ask(host: Host): HttpStream {
  const http = host.httpStream();
  assert.equal(
    http.requestHeaders(
      [
        [":path", "/"],
        ["authorization", "Bearer t"],
      ],
      true,
    ),
    Action.Pause,
  );
  return http;
}

test("callout timeout on the virtual clock: at timeout_ms the filter gets Envoy's 504 response, not a failure", async () => {
  const host = await authCallout();
  const http = ask(host);
  assert.equal(host.advanceTime(499), 0);
  assert.equal(http.request.paused, true, "still waiting");
  assert.equal(host.advanceTime(1), 1);
  assert.equal(host.httpCalls.length, 0);
  // The example treats any non-2xx answer as a denial with the status it saw.
  assert.equal(http.localResponse?.status, 403);
  assert.equal(http.localResponse?.body.toString(), "access denied: auth service answered 504\n");
});

test("late, refused and reset callouts: respondAfter, connectFailure and reset reach the filter as Envoy delivers them", async () => {
  const host = await authCallout();
  let http = ask(host);
  host.httpCalls[0].respondAfter(100, { headers: [[":status", "200"]] });
  host.advanceTime(100);
  assert.equal(http.request.paused, false, "answered in time: resumed");
  http = ask(host);
  host.httpCalls[0].respondAfter(800, { headers: [[":status", "200"]] });
  assert.equal(host.advanceTime(1000), 1, "the timeout at 500 ms wins; the late answer is dropped");
  assert.equal(http.localResponse?.status, 403);
  http = ask(host);
  host.httpCalls[0].connectFailure();
  assert.equal(http.localResponse?.body.toString(), "access denied: auth service answered 503\n");
  http = ask(host);
  host.httpCalls[0].reset();
  assert.equal(http.localResponse?.status, 503, "a reset is a failure: 0 headers");
  assert.match(host.logMessages(LogLevel.Warn, "filter").at(-1) ?? "", /failed \(timeout or reset\); answering 503/);
});

test("failNext: a host call answers a failure status instead of running, then runs again", async () => {
  const host = await authCallout();
  host.failNext("proxy_http_call", Status.BadArgument);
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":path", "/"],
      ["authorization", "Bearer t"],
    ],
    true,
  );
  assert.equal(http.localResponse?.status, 503, "the filter answers 503 when it cannot call");
  assert.equal(host.httpCalls.length, 0);
  ask(host);
  assert.equal(host.httpCalls.length, 1, "the next call goes out");
  assert.throws(() => host.failNext("proxy_log", Status.NotFound), /proxy_log cannot be failed: choose one of /);
});
