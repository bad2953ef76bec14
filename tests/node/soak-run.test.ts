// Soak: `proxy-wasm-as run` under load. SOAK_RUN_REQUESTS (default 5,000; SOAK_FULL=1: 100,000)
// requests at concurrency 64 over keep-alive connections, through a filter that reads every header
// and body chunk (tests/fixtures/fuzz/inspect.ts), to a loopback upstream. Every answer must be the
// right one (status, the filter's view of the body, the upstream's echo), with zero errors, and the
// process's memory must stay flat: the JS heap after a full GC may not grow with the request count
// once warmed up, and guest memory may not grow at all.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { startProxy, type RunningProxy } from "../../src/run/index.js";
import { built } from "./helpers.js";

const REQUESTS = process.env.SOAK_FULL ? 100_000 : Number(process.env.SOAK_RUN_REQUESTS ?? 5_000);
const CONCURRENCY = 64;
const WARM_UP = Math.floor(REQUESTS / 5);
/**
 * Heap growth allowed after warm-up, per request: far below what keeping anything per request would
 * cost (an exchange with its buffers is kilobytes), far above the noise of a full GC.
 */
const MAX_GROWTH_PER_REQUEST = 64;
/** ...plus a fixed allowance for the GC's own noise. */
const GROWTH_SLACK = 4 * 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let upstream: http.Server;
let proxy: RunningProxy;
const lines: string[] = [];

before(async () => {
  upstream = http.createServer((req, res) => {
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => res.writeHead(200, { "content-type": "text/plain", "x-upstream-body": String(n) }).end(`${req.url} ${n}`));
  });
  upstream.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const { wasm } = await built("tests/fixtures/fuzz/inspect.ts");
  proxy = await startProxy({
    filter: wasm,
    upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    listen: "127.0.0.1:0",
    log: (l) => lines.push(l),
    logLevel: "warn",
    accessLog: false,
  });
});

after(async () => {
  await proxy?.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Memory outside the JS heap (Buffers, ArrayBuffers, Wasm memories), after a GC. */
function externalAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().external;
}
let warmExternal = 0;

test(`run soak: ${REQUESTS} requests at concurrency ${CONCURRENCY}, every answer right, no errors, memory flat`, async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const bodies = [0, 1, 100, 1500, 4096, 20_000].map((n) => Buffer.alloc(n, 0x61 + (n % 26)));
  const errors: string[] = [];
  let next = 0;
  let done = 0;
  let warmHeap = 0;
  let warmRss = 0;

  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const body = bodies[i % bodies.length];
      const path = `/soak/${i}`;
      const req = http.request(
        `${proxy.url}${path}`,
        { method: body.length > 0 ? "POST" : "GET", agent, headers: body.length > 0 ? { "content-length": String(body.length) } : {} },
        (res) => {
          let text = "";
          res.setEncoding("latin1");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => {
            const problems: string[] = [];
            if (res.statusCode !== 200) problems.push(`status ${res.statusCode}`);
            if (res.headers["x-seen-request-body"] !== String(body.length))
              problems.push(`filter saw ${res.headers["x-seen-request-body"]} body bytes`);
            if (res.headers["x-upstream-body"] !== String(body.length))
              problems.push(`upstream got ${res.headers["x-upstream-body"]} body bytes`);
            if (text !== `${path} ${body.length}`) problems.push(`body ${JSON.stringify(text.slice(0, 60))}`);
            if (problems.length) errors.push(`${path}: ${problems.join(", ")}`);
            resolve();
          });
          res.on("error", (e) => (errors.push(`${path}: response ${e.message}`), resolve()));
        },
      );
      req.on("error", (e) => (errors.push(`${path}: ${(e as NodeJS.ErrnoException).code ?? e.message}`), resolve()));
      req.end(body);
    });

  const started = performance.now();
  const worker = async () => {
    while (next < REQUESTS) {
      const i = next++;
      await one(i);
      done++;
      if (done === WARM_UP) {
        warmHeap = heapAfterGc();
        warmExternal = externalAfterGc();
        warmRss = process.memoryUsage().rss;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();

  assert.deepEqual(errors.slice(0, 10), [], `${errors.length} errors`);
  assert.equal(done, REQUESTS);
  const endHeap = heapAfterGc();
  const rss = process.memoryUsage().rss;
  const growth = endHeap - warmHeap;
  const allowed = GROWTH_SLACK + MAX_GROWTH_PER_REQUEST * (REQUESTS - WARM_UP);
  t.diagnostic(
    `${REQUESTS} requests in ${seconds.toFixed(1)} s (${Math.round(REQUESTS / seconds)} req/s); heap after GC ${(warmHeap / 1048576).toFixed(1)} MiB after warm-up, ${(endHeap / 1048576).toFixed(1)} MiB at the end (${growth >= 0 ? "+" : ""}${(growth / 1024).toFixed(0)} KiB); rss ${(warmRss / 1048576).toFixed(0)} -> ${(rss / 1048576).toFixed(0)} MiB`,
  );
  assert.ok(growth <= allowed, `the heap grew ${growth} bytes over ${REQUESTS - WARM_UP} requests (allowed ${allowed})`);
  // A leak of Buffers (request bodies, log lines) does not show in heapUsed: external memory and
  // the RSS must stay flat too (the RSS bound is loose: the allocator keeps freed pages).
  const externalGrowth = externalAfterGc() - warmExternal;
  assert.ok(
    externalGrowth <= allowed,
    `external memory grew ${externalGrowth} bytes over ${REQUESTS - WARM_UP} requests (allowed ${allowed})`,
  );
  assert.ok(
    rss - warmRss <= 96 * 1024 * 1024,
    `the RSS grew ${((rss - warmRss) / 1048576).toFixed(0)} MiB over ${REQUESTS - WARM_UP} requests`,
  );
  // Nothing left in flight, and no warning or error from the proxy or the filter.
  const stop = Date.now() + 5000;
  while (proxy.active > 0 && Date.now() < stop) await new Promise((r) => setTimeout(r, 20));
  assert.equal(proxy.active, 0);
  assert.deepEqual(lines, []);
});
