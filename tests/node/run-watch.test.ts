// `proxy-wasm-as run --watch`: an edited filter is rebuilt and swapped in for new requests while a
// request in flight finishes on the old VM; a broken edit keeps the old VM.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { startProxy, type ReloadEvent, type RunningProxy } from "../../src/run/index.js";
import { built, repoRoot } from "./helpers.js";

let dir: string;
let upstream: http.Server;
let upstreamUrl: string;
const held: http.ServerResponse[] = [];
let onHeld: (() => void) | null = null;

function get(url: string): Promise<{ status: number; version: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, version: res.headers["x-version"] as string | undefined, text }));
      })
      .on("error", reject);
  });
}

/** The next reload event that matches (a save can fire the watcher more than once). */
function nextReload(p: RunningProxy, match: (e: ReloadEvent) => boolean = () => true): Promise<ReloadEvent> {
  return new Promise((resolve) => {
    const on = (e: ReloadEvent) => {
      if (!match(e)) return;
      p.events.off("reload", on);
      resolve(e);
    };
    p.events.on("reload", on);
  });
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "pwas-watch-"));
  upstream = http.createServer((req, res) => {
    if (req.url === "/slow") {
      held.push(res);
      onHeld?.();
      return;
    }
    res.end("from upstream");
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

after(async () => {
  for (const r of held) r.destroy();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

test("--watch rebuilds an edited .ts filter; new requests see it, a request in flight finishes on the old VM, a broken edit keeps the old VM", async () => {
  const src = await readFile(path.join(repoRoot, "tests/fixtures/run/version.ts"), "utf8");
  const project = path.join(dir, "version");
  await mkdir(project);
  const entry = path.join(project, "index.ts");
  await writeFile(entry, src);
  const lines: string[] = [];
  const p = await startProxy({
    filter: entry,
    upstream: upstreamUrl,
    listen: "127.0.0.1:0",
    watch: true,
    debug: true,
    log: (l) => lines.push(l),
  });
  try {
    assert.equal((await get(`${p.url}/`)).version, "1");
    assert.equal(p.generation, 1);

    const heldNow = new Promise<void>((r) => (onHeld = r));
    const inFlight = get(`${p.url}/slow`);
    await heldNow;

    let reloaded = nextReload(p);
    await writeFile(entry, src.replace('"x-version", "1"', '"x-version", "2"'));
    const ok = await reloaded;
    assert.equal(ok.ok, true, ok.error);
    assert.equal(ok.generation, 2);
    assert.equal((await get(`${p.url}/`)).version, "2", "a new request runs the rebuilt filter");

    held.shift()!.end("slow answer");
    const old = await inFlight;
    assert.equal(old.text, "slow answer");
    assert.equal(old.version, "1", "the request that was in flight finished on the old VM");

    reloaded = nextReload(p, (e) => !e.ok);
    await writeFile(entry, src + "\nthis is not AssemblyScript\n");
    const broken = await reloaded;
    assert.equal(broken.ok, false);
    assert.match(broken.error!, /build of .* failed/);
    assert.ok(
      lines.some((l) => l.includes("reload failed, still serving build 2")),
      lines.join(""),
    );
    const still = await get(`${p.url}/`);
    assert.equal(still.status, 200);
    assert.equal(still.version, "2", "the old VM keeps serving after a failed rebuild");
  } finally {
    await p.close();
  }
});

test("--watch on a .wasm reloads it when the file is replaced", async () => {
  const v = await built("tests/fixtures/run/version.ts", { debug: true });
  const x = await built("examples/x-service-name/index.ts", { debug: true });
  const wasmDir = path.join(dir, "wasm");
  await mkdir(wasmDir);
  const file = path.join(wasmDir, "filter.wasm");
  await copyFile(v.outFile, file);
  const p = await startProxy({ filter: file, upstream: upstreamUrl, listen: "127.0.0.1:0", watch: true, log: () => {} });
  try {
    assert.equal((await get(`${p.url}/`)).version, "1");
    const reloaded = nextReload(p);
    await copyFile(x.outFile, file);
    assert.equal((await reloaded).ok, true);
    const r = await get(`${p.url}/`);
    assert.equal(r.text, "Hello from Wasm!\n");
  } finally {
    await p.close();
  }
});
