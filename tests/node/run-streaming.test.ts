// `proxy-wasm-as run` as a library: a real HTTP/1.1 proxy on 127.0.0.1 in front of a real upstream
// started here. The seed examples behind it, and bodies streamed through the filter chunk by chunk.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { startProxy } from "../../src/run/index.js";
import { Logger } from "../../src/run/log.js";
import { LogLevel } from "../../src/abi.js";
import { built } from "./helpers.js";
import { proxies, proxyWith, request, sha, upstream, useRunFixture } from "./run-helpers.js";

useRunFixture();

// ------------------------------------------------------------------ the seed examples

describe("seed examples", () => {
  test("x-service-name answers every request itself, with no upstream configured", async () => {
    const { wasm } = await built("examples/x-service-name/index.ts", { debug: true });
    const lines: string[] = [];
    const p = await startProxy({ filter: wasm, listen: "127.0.0.1:0", log: (l) => lines.push(l) });
    proxies.push(p);
    const r = await request(`${p.url}/hello?x=1`);
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-service-name"], "my-custom-service");
    assert.equal(r.text, "Hello from Wasm!\n");
    assert.ok(
      lines.some((l) => l.includes(`Received request for: 127.0.0.1:${p.port} /hello?x=1`)),
      `the filter's info log is printed with its :authority and :path:\n${lines.join("")}`,
    );
    assert.ok(
      lines.every((l) => !l.includes("\x1b[")),
      "no colour codes when stderr is not a terminal",
    );
    assert.ok(
      lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} info +filter #\d+: Received request/.test(l)),
      "time, level, filter and context id",
    );
  });

  test("log lines carry the level, in colour when asked (a terminal)", () => {
    const out: string[] = [];
    const logger = new Logger({ level: LogLevel.Debug, color: true, filterName: "demo", write: (l) => out.push(l) });
    logger.filter({ level: LogLevel.Trace, message: "hidden", contextId: 2, vm: 0, source: "filter" });
    logger.filter({ level: LogLevel.Warn, message: "careful", contextId: 2, vm: 0, source: "filter" });
    logger.filter({ level: LogLevel.Critical, message: "line one\nline two", contextId: 0, vm: 1, source: "host" });
    assert.equal(out.length, 2, "below --log-level is not printed");
    assert.match(out[0], /\x1b\[33mwarn +\x1b\[0m demo #2: careful\n$/);
    assert.match(out[1], /critical\x1b\[0m demo \(vm 1\): line one\\nline two\n$/, "one line per message");
  });

  test("add-header adds x-service-name to the upstream's response and the upstream sees Envoy's request headers", async () => {
    const { wasm } = await built("examples/add-header/index.ts", { debug: true });
    const p = await startProxy({ filter: wasm, upstream: upstream.url, listen: "127.0.0.1:0", log: () => {} });
    proxies.push(p);
    const before = upstream.seen.length;
    const r = await request(`${p.url}/items?id=7`, {
      headers: { "x-custom": "kept", connection: "keep-alive", "keep-alive": "timeout=5" },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-service-name"], "my-custom-service");
    assert.equal(r.headers["x-upstream"], "yes");
    assert.match(String(r.headers["x-envoy-upstream-service-time"]), /^\d+$/);
    const s = upstream.seen[before];
    assert.equal(s.url, "/items?id=7");
    assert.equal(s.headers.host, `127.0.0.1:${p.port}`, "the client's :authority goes upstream as Host");
    assert.equal(s.headers["x-custom"], "kept");
    assert.equal(s.headers["x-forwarded-proto"], "http");
    assert.match(String(s.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
    assert.equal(s.headers["keep-alive"], undefined, "connection headers are not forwarded");
  });
});

// ------------------------------------------------------------------ streaming

describe("streaming", () => {
  test("a large chunked request body reaches the upstream intact, chunk by chunk through the filter", async () => {
    const p = await proxyWith();
    const chunks: Buffer[] = [];
    for (let i = 0; i < 48; i++) chunks.push(Buffer.alloc(65536, i));
    const body = Buffer.concat(chunks);
    const r = await request(`${p.url}/upload`, { body: chunks, headers: { "transfer-encoding": "chunked" } });
    assert.equal(r.status, 200);
    const echo = JSON.parse(r.text);
    assert.equal(echo.bytes, body.length);
    assert.equal(echo.sha, sha(body));
    assert.ok(
      Number(r.headers["x-request-body-calls"]) > 1,
      `the body came in several callbacks, not one: ${r.headers["x-request-body-calls"]}`,
    );
    assert.equal(r.headers["x-request-body-bytes"], String(body.length));
    assert.equal(r.headers["x-request-eos"], "1", "the last body callback had end_of_stream");
  });

  test("a content-length request body ends with end_of_stream on its last chunk", async () => {
    const p = await proxyWith();
    const body = Buffer.alloc(300_000, 7);
    const r = await request(`${p.url}/upload`, { body, headers: { "content-length": String(body.length) } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).sha, sha(body));
    assert.equal(r.headers["x-request-eos"], "1");
    assert.equal(r.headers["x-request-body-bytes"], String(body.length));
  });

  test("a chunked body on a GET or DELETE goes upstream framed (Node frames only POST/PUT/PATCH by default)", async () => {
    const p = await proxyWith();
    for (const method of ["GET", "DELETE"]) {
      const r = await request(`${p.url}/with-body`, {
        method,
        body: ["abc", "de"].map((x) => Buffer.from(x)),
        headers: { "transfer-encoding": "chunked" },
      });
      assert.equal(r.status, 200, method);
      assert.equal(JSON.parse(r.text).bytes, 5, method);
    }
  });

  test("a large response streams back intact", async () => {
    const p = await proxyWith();
    const size = 5 * 1024 * 1024 + 123;
    const r = await request(`${p.url}/big?size=${size}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, size);
    assert.equal(r.headers["x-filtered"], "yes");
    let expected = 0;
    for (let off = 0; off < size; off += 16384) {
      assert.equal(r.body[off], off % 251, `byte ${off}`);
      expected++;
    }
    assert.ok(expected > 300);
  });

  test("a filter that rewrites the response body streams it, and content-length it removed is not sent", async () => {
    const p = await proxyWith();
    const r = await request(`${p.url}/upper/text`);
    assert.equal(r.status, 200);
    assert.equal(r.text, '{"METHOD":"GET","URL":"/UPPER/TEXT","BYTES":0,"SHA":"' + sha(Buffer.alloc(0)).toUpperCase() + '"}');
    assert.equal(r.headers["content-length"], undefined);
  });

  test("a filter that changes a body but keeps content-length gets a warning: 503 for a request, a reset for a response", async () => {
    const lines: string[] = [];
    const p = await proxyWith({ lines });
    const r = await request(`${p.url}/grow-request`, { body: "12345", headers: { "content-length": "5" } });
    assert.equal(r.status, 503);
    assert.match(r.text, /did not match its content-length/);
    assert.ok(
      lines.some((l) => l.includes("must remove content-length in onHttpRequestHeaders")),
      lines.join(""),
    );
    await assert.rejects(request(`${p.url}/grow-response?text`), /socket hang up|ECONNRESET|aborted/);
    assert.ok(
      lines.some((l) => l.includes("must remove content-length in onHttpResponseHeaders")),
      lines.join(""),
    );
    assert.equal((await request(`${p.url}/text`)).text, "hello world", "the proxy keeps serving");
  });

  test("trailers pass both ways", async () => {
    const p = await proxyWith();
    const before = upstream.seen.length;
    const up = await request(`${p.url}/upload-trailers`, {
      body: "abc",
      headers: { "transfer-encoding": "chunked", trailer: "x-sum" },
      trailers: { "x-sum": "42" },
    });
    assert.equal(up.status, 200);
    assert.deepEqual(upstream.seen[before].trailers, { "x-sum": "42" });
    const down = await request(`${p.url}/trailers`);
    assert.equal(down.text, "part one, part two");
    assert.equal(down.trailers["x-checksum"], "abc123");
  });

  test("HEAD and 204 responses have no body", async () => {
    const p = await proxyWith();
    const head = await request(`${p.url}/anything`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const none = await request(`${p.url}/nocontent`);
    assert.equal(none.status, 204);
    assert.equal(none.headers["x-filtered"], "yes");
  });
});
