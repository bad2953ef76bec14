// `proxy-wasm-as run`: malformed requests and responses, failing filters and upstreams, limits,
// closing and reloading, through the real proxy.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { startProxy } from "../../src/run/index.js";
import { filterWasm, nextExchange, proxyWith, rawExchange, request, until, upstream, useRunFixture } from "./run-helpers.js";

useRunFixture();

// ------------------------------------------------------------------ robustness

describe("robustness", () => {
  test("concurrent requests (plain, callouts, local replies) are each answered right", async () => {
    const p = await proxyWith();
    const jobs = Array.from({ length: 60 }, (_, i) => {
      const kind = i % 3;
      if (kind === 0)
        return request(`${p.url}/c/${i}`, { body: `body-${i}` }).then(
          (r) => [r.status, JSON.parse(r.text).url, JSON.parse(r.text).bytes] as const,
        );
      if (kind === 1) return request(`${p.url}/callout/${i}`).then((r) => [r.status, JSON.parse(r.text).url, 0] as const);
      return request(`${p.url}/reply/${i}`).then((r) => [r.status, r.text, 0] as const);
    });
    const results = await Promise.all(jobs);
    results.forEach((r, i) => {
      const kind = i % 3;
      if (kind === 0) assert.deepEqual(r, [200, `/c/${i}`, `body-${i}`.length]);
      if (kind === 1) assert.deepEqual(r, [200, `/callout/${i}`, 0]);
      if (kind === 2) assert.deepEqual(r, [403, "denied by filter\n", 0]);
    });
    await until("no request in flight", () => p.active === 0);
  });

  test("a client that goes away aborts the upstream request and completes the stream in the filter", async () => {
    const lines: string[] = [];
    const p = await proxyWith({ lines });
    const held = upstream.nextHeld();
    const done = nextExchange(p, "/slow/abort");
    const req = http.get(`${p.url}/slow/abort`, { agent: false });
    req.on("error", () => {});
    const h = await held;
    req.destroy();
    const summary = await done;
    assert.equal(summary.outcome, "downstream_remote_disconnect");
    await until("the upstream request to be aborted", () => h.seen.aborted);
    await until("proxy_on_log for the aborted stream", () => lines.some((l) => l.includes("done /slow/abort")));
    assert.equal(p.active, 0);
  });

  test("an upstream that refuses connections gets 503 with Envoy's text; one that is slow gets 504", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const down = await proxyWith({ upstream: `http://127.0.0.1:${deadPort}` });
    const r = await request(`${down.url}/x`);
    assert.equal(r.status, 503);
    assert.match(r.text, /^upstream connect error or disconnect\/reset before headers\. reset reason: remote connection failure/);
    assert.match(r.text, /Connection refused/);
    assert.equal(r.headers["x-filtered"], "yes", "the filter saw the proxy's answer as the response");

    const slow = await proxyWith({ timeout: 200 });
    const held = upstream.nextHeld();
    const t = await request(`${slow.url}/slow/timeout`);
    assert.equal(t.status, 504);
    assert.equal(t.text, "upstream request timeout");
    await until("the timed-out upstream request to be aborted", async () => (await held).seen.aborted);
  });

  test("an upstream that drops the connection in the middle of a response resets the client's connection", async () => {
    const p = await proxyWith();
    const done = nextExchange(p, "/cut");
    await assert.rejects(request(`${p.url}/cut`), /aborted|ECONNRESET|socket hang up/);
    assert.equal((await done).outcome, "reset: upstream_reset_after_response_started");
    assert.equal((await request(`${p.url}/text`)).text, "hello world");
  });

  test("without --upstream, a request the filter lets through gets a clear 503", async () => {
    const p = await proxyWith({ upstream: undefined });
    const r = await request(`${p.url}/passes`);
    assert.equal(r.status, 503);
    assert.match(r.text, /^no upstream configured: start proxy-wasm-as run with --upstream/);
    const local = await request(`${p.url}/reply`);
    assert.equal(local.status, 403, "local replies still work");
  });

  test("a filter that traps gets 503 for that request (fail-closed), then a fresh VM serves the next", async () => {
    const lines: string[] = [];
    const p = await proxyWith({ lines });
    const before = upstream.seen.length;
    const trap = await request(`${p.url}/trap`);
    assert.equal(trap.status, 503);
    assert.equal(upstream.seen.length, before, "the failed request did not reach the upstream");
    assert.ok(
      lines.some((l) => l.includes("trap on purpose")),
      "the trap and its message are printed",
    );
    const next = await request(`${p.url}/after-trap`);
    assert.equal(next.status, 200);
    assert.equal(next.headers["x-filtered"], "yes", "a fresh VM ran the filter");
    assert.equal(upstream.seen[before].headers["x-filter"], "on");
    const late = await request(`${p.url}/trap-response`);
    assert.equal(late.status, 503, "a trap in the response path after the upstream answered is a 503 too");
    assert.equal((await request(`${p.url}/again`)).status, 200);
  });

  test("with fail-open a trapping filter is bypassed for that request", async () => {
    const p = await proxyWith({ failOpen: true });
    const before = upstream.seen.length;
    const trap = await request(`${p.url}/trap`);
    assert.equal(trap.status, 200);
    assert.equal(JSON.parse(trap.text).url, "/trap");
    assert.equal(trap.headers["x-filtered"], undefined, "the filter did not run on the response");
    assert.equal(upstream.seen[before].headers["x-filter"], "on", "what the filter did before it trapped stays");
    const next = await request(`${p.url}/next`);
    assert.equal(next.headers["x-filtered"], "yes");
  });

  test("a request paused in a VM that then fails gets 503 at once (fail-closed), or goes through unfiltered (fail-open)", async () => {
    for (const failOpen of [false, true]) {
      const p = await proxyWith({ failOpen });
      const held = upstream.nextHeld();
      const before = upstream.seen.length;
      const waiting = request(`${p.url}/callout`, { headers: { "x-callout-path": "/slow/stuck" } });
      const h = await held;
      const trap = await request(`${p.url}/trap`);
      assert.equal(trap.status, failOpen ? 200 : 503);
      const r = await waiting;
      if (failOpen) {
        assert.equal(r.status, 200);
        const main = upstream.seen.slice(before).find((s) => s.url === "/callout")!;
        assert.equal(main.headers["x-callout-status"], undefined, "the callout never answered; the request went on without it");
        assert.equal(r.headers["x-filtered"], undefined);
      } else {
        assert.equal(r.status, 503);
        assert.equal(upstream.seen.slice(before).filter((s) => s.url === "/callout").length, 0);
      }
      h.res.writeHead(200).end("too late");
      const next = await request(`${p.url}/fresh`);
      assert.equal(next.headers["x-filtered"], "yes", "a fresh VM serves the next request");
    }
  });

  test("malformed requests get 400 and oversized headers 431; the proxy keeps serving", async () => {
    const p = await proxyWith();
    const bad = await rawExchange(p.port, "THIS IS NOT HTTP\r\n\r\n");
    assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const huge = await rawExchange(p.port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(70 * 1024)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    const fine = await request(`${p.url}/still-here`);
    assert.equal(fine.status, 200);
  });

  test("a WebSocket upgrade is refused with 403 like Envoy without upgrade_configs", async () => {
    const p = await proxyWith();
    const r = await request(`${p.url}/ws`, { headers: { connection: "upgrade", upgrade: "websocket" } });
    assert.equal(r.status, 403);
  });
});

// ------------------------------------------------------------------ reloading

describe("reload", () => {
  test("close() waits for a request in flight", async () => {
    const p = await startProxy({ filter: filterWasm, upstream: upstream.url, listen: "127.0.0.1:0", log: () => {} });
    const held = upstream.nextHeld();
    const pending = request(`${p.url}/slow/closing`);
    const h = await held;
    const closing = p.close();
    h.res.writeHead(200).end("late but complete");
    const r = await pending;
    assert.equal(r.text, "late but complete");
    await closing;
    await assert.rejects(request(`${p.url}/x`), /ECONNREFUSED/);
  });
});
