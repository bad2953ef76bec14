// Fault injection with a filter written with the SDK (tests/fixtures/faults/faults.ts): a trap in
// each kind of callback, WASI proc_exit, and memory growth past the host's ceiling. For each, the
// affected stream must fail as configured (fail-closed: Envoy's 503 "wasm_fail_stream", or a reset
// once the response headers went out; fail-open: the filter is skipped), the failure must name the
// callback and the module's abort message ("<message> at <file>:<line>:<col>"), the next request
// must be served by a fresh VM, and other plugins (another host, another VM of the same plugin)
// must not notice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, Action, LogLevel, type FailurePolicy, type Host, type HttpStream } from "../../src/host/index.js";
import { built } from "./helpers.js";

const faults = () => built("tests/fixtures/faults/faults.ts");
const abortMessage = (what: string) => new RegExp(`^trap in ${what} at faults\\.ts:\\d+:\\d+$`);
const LIMIT_PAGES = 64;

interface Plugins {
  host: Host;
  /** Another plugin: its own host and VM, same module. */
  other: Host;
  /** Another VM of the same plugin (Envoy's next worker thread), sharing its shared data; none when the plugin's configuration fails. */
  sibling: Host | null;
}

async function plugins(failurePolicy: FailurePolicy, pluginConfig = "good"): Promise<Plugins> {
  const { wasm } = await faults();
  const host = await createHost({ wasm, failurePolicy, pluginConfig, memoryLimitPages: LIMIT_PAGES, upstreams: ["auth"] });
  const other = await createHost({ wasm, failurePolicy, pluginConfig: "good" });
  const sibling = pluginConfig === "good" ? await host.addVm() : null;
  if (pluginConfig === "good") assert.equal(host.startPlugin(), true);
  for (const h of [other, sibling ?? other]) assert.equal(h.startPlugin(), true), served(h);
  return { host, other, sibling };
}

/** A request without a fault goes through the filter: it adds x-fault-vm to the response. */
function served(host: Host): void {
  const s = host.httpStream();
  assert.equal(
    s.requestHeaders(
      [
        [":path", "/ok"],
        [":method", "GET"],
      ],
      true,
    ),
    Action.Continue,
  );
  assert.equal(s.responseHeaders([[":status", "200"]], true), Action.Continue);
  assert.equal(s.response.header("x-fault-vm"), "ok", "the filter ran");
  assert.equal(s.sentHttpResponse, null);
  s.complete();
}

/** The other plugin and the sibling VM never failed and still serve. */
function untouched({ other, sibling }: Plugins): void {
  for (const h of sibling ? [other, sibling] : [other]) {
    served(h);
    assert.deepEqual(h.failures, []);
    assert.equal(h.vmCount, 1);
  }
}

/** The host recorded one failure in `callback`, and logged it at CRITICAL with the module's message. */
function failedIn(host: Host, callback: string, abort: RegExp | null, kind = "trap"): void {
  assert.equal(host.failures.length, 1, JSON.stringify(host.failures));
  const f = host.failures[0];
  assert.equal(f.callback, callback);
  assert.equal(f.kind, kind);
  if (abort) assert.match(f.abortMessage ?? "", abort);
  const critical = host.logMessages(LogLevel.Critical);
  assert.ok(
    critical.some(
      (m) => m.startsWith(`wasm VM failed in ${callback}: `) && (!abort || abort.test(/\(module said: (.*)\)$/.exec(m)?.[1] ?? "")),
    ),
    `a CRITICAL log names ${callback}${abort ? " and the abort message" : ""}: ${JSON.stringify(critical)}`,
  );
}

/** The next stream gets a fresh VM, which works. */
function nextOnFreshVm(host: Host): void {
  served(host);
  assert.equal(host.vmCount, 2, "a fresh VM");
  assert.equal(host.failed, false);
  assert.equal(host.failures.length, 1, "the fresh VM did not fail");
}

// ------------------------------------------------------------------ traps in stream callbacks

const PHASES = ["request_headers", "request_body", "request_trailers", "response_headers", "response_body", "response_trailers"] as const;

/** Drives a full stream that asks the filter to trap in `where`; returns the action of each phase. */
function faultyStream(host: Host, where: string): { s: HttpStream; actions: number[] } {
  const s = host.httpStream();
  const actions = [
    s.requestHeaders(
      [
        [":path", "/"],
        [":method", "POST"],
        ["x-fault", where],
      ],
      false,
    ),
    s.requestBody("req-body", false),
    s.requestTrailers([["t", "1"]]),
    s.responseHeaders(
      [
        [":status", "200"],
        ["x-up", "1"],
      ],
      false,
    ),
    s.responseBody("resp-body", false),
    s.responseTrailers([["rt", "1"]]),
  ];
  return { s, actions };
}

for (const policy of ["fail-closed", "fail-open"] as const) {
  PHASES.forEach((where, phase) => {
    const callback = `proxy_on_${where}`;
    test(`${policy}: a trap in ${callback} fails that stream as configured, names the callback and the abort message, the next request gets a fresh VM`, async () => {
      const p = await plugins(policy);
      const { host } = p;
      served(host);
      const { s, actions } = faultyStream(host, where);
      failedIn(host, callback, abortMessage(where));
      if (policy === "fail-closed") {
        assert.equal(s.sentHttpResponse?.status, 503);
        assert.equal(s.sentHttpResponse?.details, "wasm_fail_stream");
        assert.equal(s.sentHttpResponse?.grpcStatus, 14);
        assert.deepEqual(actions.slice(phase), Array(PHASES.length - phase).fill(Action.Pause), "nothing passes after the failure");
        if (where.startsWith("request") || where === "response_headers") {
          // The response headers have not gone downstream: the client gets the 503 instead.
          assert.equal(s.response.header(":status"), "503", "the 503 replaces the upstream response");
          assert.equal(s.response.header("x-up"), undefined);
          assert.equal(s.resetReason, null);
        } else {
          // The 200 already went downstream: Envoy can only reset the stream.
          assert.equal(s.response.header(":status"), "200");
          assert.notEqual(s.resetReason, null, "the stream is reset after the response headers went out");
        }
      } else {
        assert.equal(s.bypassed, true);
        assert.equal(s.sentHttpResponse, null);
        assert.equal(s.resetReason, null);
        assert.deepEqual(actions.slice(phase), Array(PHASES.length - phase).fill(Action.Continue), "the rest passes, filter skipped");
        assert.equal(s.request.body.toString(), "req-body");
        assert.equal(s.request.trailer("t"), "1");
        assert.equal(s.response.header(":status"), "200");
        assert.equal(s.response.body.toString(), "resp-body");
        assert.equal(s.response.trailer("rt"), "1");
      }
      assert.doesNotThrow(() => s.complete());
      nextOnFreshVm(host);
      untouched(p);
    });
  });
}

// ------------------------------------------------------------------ root callbacks and the callout answer

for (const policy of ["fail-closed", "fail-open"] as const) {
  test(`${policy}: a trap in proxy_on_http_call_response is reported; the waiting stream stays paused (as in Envoy, until its timeout); a fresh VM serves the next request`, async () => {
    const p = await plugins(policy);
    const { host } = p;
    const s = host.httpStream();
    assert.equal(
      s.requestHeaders(
        [
          [":path", "/"],
          ["x-fault", "http_call_response"],
        ],
        false,
      ),
      Action.Pause,
    );
    assert.equal(host.httpCalls[0].upstream, "auth");
    host.httpCalls[0].respond({ body: "allowed" });
    failedIn(host, "proxy_on_http_call_response", abortMessage("http_call_response"));
    assert.equal(s.request.paused, true, "nothing resumes the stream");
    assert.equal(s.sentHttpResponse, null);
    assert.doesNotThrow(() => s.complete());
    nextOnFreshVm(host);
    untouched(p);
  });

  test(`${policy}: a trap in proxy_on_tick fails the VM; a stream in flight on it fails as configured on its next callback; a fresh VM serves the next request`, async () => {
    const p = await plugins(policy);
    const { host, sibling } = p;
    const inFlight = host.httpStream();
    assert.equal(inFlight.requestHeaders([[":path", "/"]], true), Action.Continue);
    host.setSharedData("fault", "tick"); // shared data is per vm_id: the sibling VM sees it too
    assert.equal(host.tick(), true);
    failedIn(host, "proxy_on_tick", abortMessage("tick"));
    const action = inFlight.responseHeaders([[":status", "200"]], true);
    if (policy === "fail-closed") {
      assert.equal(action, Action.Pause);
      assert.equal(inFlight.sentHttpResponse?.status, 503);
      assert.equal(inFlight.response.header(":status"), "503");
    } else {
      assert.equal(action, Action.Continue);
      assert.equal(inFlight.bypassed, true);
      assert.equal(inFlight.response.header(":status"), "200");
    }
    inFlight.complete();
    host.setSharedData("fault", "");
    nextOnFreshVm(host);
    assert.equal(host.tick(), true, "the fresh VM set its tick period again");
    assert.equal(sibling!.tick(), true);
    untouched(p);
  });

  test(`${policy}: a trap in proxy_on_configure at start-up refuses the plugin; its streams fail as configured and other plugins serve`, async () => {
    const p = await plugins(policy, "trap-configure");
    const { host } = p;
    assert.equal(host.startPlugin(), false);
    failedIn(host, "proxy_on_configure", abortMessage("configure"));
    const s = host.httpStream();
    const action = s.requestHeaders([[":path", "/"]], true);
    if (policy === "fail-closed") {
      assert.equal(action, Action.Pause);
      assert.equal(s.sentHttpResponse?.status, 503);
    } else {
      assert.equal(action, Action.Continue);
      assert.equal(s.bypassed, true);
    }
    s.complete();
    untouched(p);
  });
}

test("a trap in proxy_on_configure during a configuration update rejects it; requests keep being served with the running configuration", async () => {
  const p = await plugins("fail-closed");
  const { host } = p;
  served(host);
  assert.equal(host.reconfigure("trap-configure"), false);
  // Reported like any trap (whether Envoy's canary VM or the running VM ran the configure).
  const f = host.failures.find((x) => x.callback === "proxy_on_configure");
  assert.ok(f, JSON.stringify(host.failures));
  assert.match(f.abortMessage ?? "", abortMessage("configure"));
  assert.ok(host.logMessages(LogLevel.Critical).some((m) => m.startsWith("wasm VM failed in proxy_on_configure: ")));
  // Envoy refuses the update and keeps the running plugin: requests keep being served, with the
  // configuration that was running, not with the refused one.
  served(host);
  served(host);
  assert.equal(host.failed, false);
  untouched(p);
});

// ------------------------------------------------------------------ proc_exit and the memory ceiling

for (const policy of ["fail-closed", "fail-open"] as const) {
  test(`${policy}: WASI proc_exit fails the VM with its exit code; the stream fails as configured; a fresh VM serves the next request`, async () => {
    const p = await plugins(policy);
    const { host } = p;
    const s = host.httpStream();
    const action = s.requestHeaders(
      [
        [":path", "/"],
        ["x-fault", "proc_exit"],
      ],
      true,
    );
    failedIn(host, "proxy_on_request_headers", null, "proc_exit");
    assert.equal(host.failures[0].message, "proc_exit(3)");
    if (policy === "fail-closed") assert.equal(s.sentHttpResponse?.status, 503), assert.equal(action, Action.Pause);
    else assert.equal(s.bypassed, true), assert.equal(action, Action.Continue);
    s.complete();
    nextOnFreshVm(host);
    untouched(p);
  });

  test(`${policy}: growing memory past the host's ceiling traps in the callback that allocated; the fresh VM starts small again`, async () => {
    const p = await plugins(policy);
    const { host } = p;
    const before = host.memoryBytes;
    const s = host.httpStream();
    const action = s.requestHeaders(
      [
        [":path", "/"],
        ["x-fault", "grow"],
      ],
      true,
    );
    // AssemblyScript's allocator traps with a bare `unreachable` when memory.grow fails: the failure
    // names the callback, and the module has no message to add.
    failedIn(host, "proxy_on_request_headers", null);
    assert.match(host.failures[0].message, /unreachable/);
    assert.ok(host.memoryBytes <= LIMIT_PAGES * 65536, `memory ${host.memoryBytes} within the ceiling`);
    assert.ok(host.memoryBytes > before, "it did grow up to the ceiling");
    if (policy === "fail-closed") assert.equal(s.sentHttpResponse?.status, 503), assert.equal(action, Action.Pause);
    else assert.equal(s.bypassed, true), assert.equal(action, Action.Continue);
    s.complete();
    nextOnFreshVm(host);
    assert.equal(host.memoryBytes, before, "the fresh VM's memory is back to its start size");
    untouched(p);
  });
}
