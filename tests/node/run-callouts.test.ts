// `proxy-wasm-as run`: a filter that pauses, makes callouts and answers locally, through the real proxy.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { nextExchange, proxyWith, request, sha, until, upstream, useRunFixture, type Reply } from "./run-helpers.js";

useRunFixture();

// ------------------------------------------------------------------ pausing, callouts, local replies

describe("pause, callouts and local replies", () => {
  test("a request paused for an http callout continues upstream when the filter resumes it", async () => {
    const p = await proxyWith();
    const before = upstream.seen.length;
    const r = await request(`${p.url}/callout`, { body: "payload", headers: { "content-length": "7" } });
    assert.equal(r.status, 200);
    const calls = upstream.seen.slice(before);
    const check = calls.find((s) => s.url === "/check");
    const main = calls.find((s) => s.url === "/callout");
    assert.ok(check && main, "the callout and then the request reached the upstream");
    assert.equal(check.headers.host, "auth.local", "the callout's :authority is its Host");
    assert.equal(main.headers["x-callout-status"], "200");
    assert.equal(main.headers["x-callout-body"], "ok-token");
    assert.equal(main.body.toString(), "payload", "the body held while paused was delivered");
  });

  test("a callout that times out gets Envoy's 504 answer, one to a closed port Envoy's 503, one cut after its headers a failure", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const p = await proxyWith({ clusters: { auth: upstream.url, down: `http://127.0.0.1:${deadPort}` } });
    const before = upstream.seen.length;
    const slow = await request(`${p.url}/callout`, { headers: { "x-callout-path": "/slow", "x-callout-timeout": "150" } });
    assert.equal(slow.status, 200);
    const refused = await request(`${p.url}/callout`, { headers: { "x-callout-cluster": "down" } });
    assert.equal(refused.status, 200);
    const mains = upstream.seen.slice(before).filter((s) => s.url === "/callout");
    assert.equal(mains.length, 2);
    assert.equal(mains[0].headers["x-callout-status"], "504");
    assert.equal(mains[0].headers["x-callout-body"], "upstream request timeout");
    assert.equal(mains[1].headers["x-callout-status"], "503");
    assert.match(String(mains[1].headers["x-callout-body"]), /^upstream connect error or disconnect\/reset before headers/);
    const cut = await request(`${p.url}/callout`, { headers: { "x-callout-path": "/cut" } });
    assert.equal(cut.status, 200);
    const cutMain = upstream.seen.slice(before).filter((s) => s.url === "/callout")[2];
    assert.equal(cutMain.headers["x-callout-status"], "failed", "a reset after the response headers is a failure: 0 headers");
    const unknown = await request(`${p.url}/callout`, { headers: { "x-callout-cluster": "nowhere" } });
    assert.equal(unknown.status, 500, "an unknown cluster is refused at dispatch (BAD_ARGUMENT)");
    assert.equal(unknown.text, "dispatch failed\n");
  });

  test("a local reply answers without contacting the upstream", async () => {
    const p = await proxyWith();
    const before = upstream.seen.length;
    const done = nextExchange(p, "/reply");
    const r = await request(`${p.url}/reply`, { body: Buffer.alloc(200_000, 1) });
    assert.equal(r.status, 403);
    assert.equal(r.text, "denied by filter\n");
    assert.equal(r.headers["x-reply"], "filter");
    assert.equal(r.headers["x-filtered"], "yes", "the local reply went through the filter's response path");
    assert.equal((await done).outcome, "local_reply");
    assert.equal(upstream.seen.length, before);
  });

  test("a local reply after the request went upstream aborts the upstream request", async () => {
    const p = await proxyWith();
    const before = upstream.seen.length;
    const req = http.request(`${p.url}/late-reply`, { method: "POST", agent: false, headers: { "transfer-encoding": "chunked" } });
    const response = new Promise<Reply>((resolve, reject) => {
      req.on("response", (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.from(text), text, trailers: {} }));
      });
      req.on("error", reject);
    });
    req.write(Buffer.alloc(1000, 1));
    await until("the upstream to see the request", () => upstream.seen.length > before);
    req.end(Buffer.alloc(1000, 2));
    const r = await response;
    assert.equal(r.status, 409);
    assert.equal(r.text, "late reply\n");
    await until("the upstream request to be aborted", () => upstream.seen[before].aborted);
  });

  test("a request paused for a slow callout holds its body (past the buffer limit) and delivers it intact on resume", async () => {
    const p = await proxyWith({ bufferLimit: 64 * 1024 });
    const held = upstream.nextHeld();
    const before = upstream.seen.length;
    const body = Buffer.alloc(1024 * 1024, 9);
    const pending = request(`${p.url}/callout`, {
      body,
      headers: { "x-callout-path": "/slow/callout", "content-length": String(body.length) },
    });
    const h = await held;
    assert.equal(
      upstream.seen.filter((s) => s.url === "/callout").length,
      upstream.seen.slice(0, before).filter((s) => s.url === "/callout").length,
      "nothing went upstream while paused",
    );
    h.res.writeHead(200).end("late-token");
    const r = await pending;
    assert.equal(r.status, 200);
    const main = upstream.seen.slice(before).find((s) => s.url === "/callout")!;
    assert.equal(main.headers["x-callout-body"], "late-token");
    assert.equal(main.body.length, body.length);
    assert.equal(sha(main.body), sha(body));
  });

  test("a body the filter buffers is replaced; past the buffer limit the request gets 413", async () => {
    const p = await proxyWith({ bufferLimit: 64 * 1024 });
    const before = upstream.seen.length;
    const small = await request(`${p.url}/buffer`, {
      body: [Buffer.alloc(1000), Buffer.alloc(2000)],
      headers: { "transfer-encoding": "chunked" },
    });
    assert.equal(small.status, 200);
    assert.equal(upstream.seen[before].body.toString(), "buffered 3000 bytes");
    const big = await request(`${p.url}/buffer`, {
      body: Array.from({ length: 8 }, () => Buffer.alloc(32 * 1024)),
      headers: { "transfer-encoding": "chunked" },
    });
    assert.equal(big.status, 413);
    assert.equal(big.text, "Payload Too Large");
    assert.equal(upstream.seen.length, before + 1, "the oversized request never reached the upstream");
  });

  test("ticks run on a real timer", async () => {
    const p = await proxyWith({ config: "tick" });
    await until("a tick", async () => {
      const r = await request(`${p.url}/ticks`);
      return r.status === 200 && r.text !== "ticks 0";
    });
  });

  test("properties: source and destination from the socket, one connection.id per connection", async () => {
    const p = await proxyWith();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const parse = (t: string) =>
        Object.fromEntries(
          t
            .trim()
            .split("\n")
            .map((l) => l.split(/=(.*)/s).slice(0, 2)),
        );
      let clientPort = 0;
      const first = await new Promise<Reply>((resolve, reject) => {
        const req = http.get(`${p.url}/props`, { agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              body: Buffer.concat(chunks),
              text: Buffer.concat(chunks).toString(),
              trailers: {},
            }),
          );
        });
        req.on("socket", (s) => s.on("connect", () => (clientPort = s.localPort!)));
        req.on("error", reject);
      });
      const a = parse(first.text);
      assert.equal(a["source.address"], `127.0.0.1:${clientPort}`);
      assert.equal(a["source.port"], String(clientPort));
      assert.equal(a["destination.address"], `127.0.0.1:${p.port}`);
      assert.equal(a["destination.port"], String(p.port));
      assert.equal(a["request.protocol"], "HTTP/1.1");
      assert.equal(a["request.method"], "GET");
      assert.equal(a["request.host"], `127.0.0.1:${p.port}`);
      assert.match(a["request.id"], /^[0-9a-f-]{36}$/);
      assert.deepEqual(a["headers"].split(",").slice(0, 4), [":authority", ":path", ":method", ":scheme"]);
      assert.ok(
        a["headers"].includes("x-forwarded-proto") && !a["headers"].split(",").includes("host") && !a["headers"].includes("connection"),
      );
      const second = parse((await request(`${p.url}/props`, { agent })).text);
      const other = parse((await request(`${p.url}/props`)).text);
      assert.equal(second["connection.id"], a["connection.id"], "same keep-alive connection, same connection.id");
      assert.notEqual(other["connection.id"], a["connection.id"]);
    } finally {
      agent.destroy();
    }
  });
});
