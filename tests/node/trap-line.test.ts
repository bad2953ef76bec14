// Traps at the author's line: the harness and `run` report a division by zero, and an abort inside
// the standard library, at the filter's TypeScript file and line, with the filter's stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { createHost, LogLevel } from "../../src/host/index.js";
import { startProxy } from "../../src/run/index.js";
import { built, repoRoot } from "./helpers.js";

const fixture = "tests/fixtures/filters/divide-by-zero.ts";
const shown = path.relative(process.cwd(), path.join(repoRoot, fixture));
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

for (const debug of [true, false]) {
  test(`the harness reports a division by zero at ${path.basename(fixture)}:6 (${debug ? "debug" : "release"} build)`, async () => {
    const r = await built(fixture, { debug });
    // A module given by path brings the map beside it.
    const host = await createHost({ wasm: r.outFile });
    assert.equal(host.startPlugin(), true);
    host.httpStream().requestHeaders([[":path", "/"]], true);
    const f = host.failures[0];
    assert.equal(f.kind, "trap");
    assert.equal(f.at, `${shown}:6:10`);
    if (debug) assert.deepEqual(f.stack, [`ratio (${shown}:6:10)`, `Divide#onHttpRequestHeaders (${shown}:12:9)`]);
    const line = host.logMessages(LogLevel.Critical, "host");
    assert.deepEqual(line, [`wasm VM failed in proxy_on_request_headers: divide by zero at ${shown}:6:10`]);
    assert.equal(host.logs.at(-1)?.source, "host");
  });
}

test("an abort inside ~lib is reported at the author's line that called it; bytes need the map named", async () => {
  const r = await built("tests/fixtures/filters/traps.ts", { debug: true });
  const traps = path.relative(process.cwd(), path.join(repoRoot, "tests/fixtures/filters/traps.ts"));
  const host = await createHost({ wasm: r.wasm, sourceMap: r.sourceMapFile });
  host.startPlugin();
  host.httpStream().requestHeaders([[":path", "/bounds"]], true);
  const f = host.failures[0];
  assert.match(f.abortMessage ?? "", /^Index out of range at ~lib\/array\.ts:/);
  assert.match(f.at ?? "", new RegExp(`^${esc(traps)}:12:\\d+$`));
  // The SDK's abort handler is not shown; the author's frame follows the array's.
  assert.ok(
    f.stack?.some((l) => new RegExp(`^Traps#onHttpRequestHeaders \\(${esc(traps)}:12:\\d+\\)$`).test(l)),
    JSON.stringify(f.stack),
  );
  assert.ok(!f.stack?.some((l) => l.includes("abort.ts")));
  // The abort text is the filter's own log line; the failure is the host's.
  assert.deepEqual(host.logMessages(LogLevel.Critical, "filter"), [f.abortMessage]);
  assert.equal(host.logMessages(LogLevel.Critical, "host").length, 1);
  // Bytes without a map: no position, same failure.
  const bare = await createHost({ wasm: r.wasm });
  bare.startPlugin();
  bare.httpStream().requestHeaders([[":path", "/bounds"]], true);
  assert.equal(bare.failures[0].at, undefined);
});

test("run prints the trap at the filter's line", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pwa-trap-line-"));
  copyFileSync(path.join(repoRoot, fixture), path.join(dir, "divide.ts"));
  const upstream = http.createServer((_q, s) => s.end("ok"));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const lines: string[] = [];
  const proxy = await startProxy({
    filter: path.join(dir, "divide.ts"),
    upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}`,
    listen: "127.0.0.1:0",
    debug: true,
    log: (l) => lines.push(l),
  });
  try {
    const res = await fetch(`${proxy.url}/`);
    assert.equal(res.status, 503);
    await res.text();
  } finally {
    await proxy.close();
    upstream.close();
  }
  // Outside the working folder the file is shown by its absolute path.
  const file = path.join(dir, "divide.ts");
  assert.ok(
    lines.some((l) => l.includes(`wasm VM failed in proxy_on_request_headers: divide by zero at ${file}:6:10`)),
    lines.join(""),
  );
});
