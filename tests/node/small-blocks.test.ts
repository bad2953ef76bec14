// The SDK's small-block free lists in front of TLSF (assembly/small-blocks.ts, wired in by `build`
// through src/build/small-blocks.ts): blocks are never handed out twice or overlapping, the memory a
// filter holds does not creep, and a compiler whose runtime is not laid out as expected gets plain TLSF.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, LogLevel } from "../../src/host/index.js";
import SmallBlocks, { renameTlsfEntryPoints } from "../../src/build/small-blocks.js";
import { buildFilter } from "../../src/build/build.js";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { built, repoRoot } from "./helpers.js";

const REQUEST: Array<[string, string]> = [
  [":method", "GET"],
  [":path", "/"],
  [":authority", "a"],
  [":scheme", "http"],
];

test("build puts the free lists in front of TLSF", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "small-blocks-"));
  try {
    SmallBlocks.lastApplied = false;
    await buildFilter({ entry: path.join(repoRoot, "examples/add-header/index.ts"), outFile: path.join(dir, "f.wasm") }, () => {});
    assert.equal(SmallBlocks.lastApplied, true);
    // TLSF's prepareSize and the collector's __new and __renew.
    assert.equal(SmallBlocks.lastRedirected, 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("no block is handed out twice: 6,000 requests of random small and large blocks (freed or resized) and kept strings stay intact, memory stays flat", async () => {
  const { wasm } = await built("tests/fixtures/filters/allocator-stress.ts");
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  let pagesAfterWarmup = 0;
  for (let i = 0; i < 6000; i++) {
    const s = host.httpStream();
    s.requestHeaders(REQUEST, true);
    assert.equal(s.request.header("x-broken"), "0", `request ${i}: a block or string was overwritten`);
    s.responseHeaders([[":status", "200"]], true);
    s.complete();
    if (i === 1999) pagesAfterWarmup = host.memoryBytes;
  }
  assert.equal(host.failures.length, 0, host.failures.map((f) => f.message).join("\n"));
  assert.equal(host.memoryBytes, pagesAfterWarmup, `memory grew from ${pagesAfterWarmup} to ${host.memoryBytes} bytes after warm-up`);
});

test("listed blocks go back to TLSF before heap.realloc makes a large block, as before heap.alloc does: the memory does not grow for it", async () => {
  const { wasm } = await built("tests/fixtures/filters/realloc-room.ts");
  const pages: Record<string, string | undefined> = {};
  for (const how of ["alloc", "realloc"]) {
    const host = await createHost({ wasm });
    assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
    const s = host.httpStream();
    s.requestHeaders([...REQUEST, ["x-how", how]], true);
    assert.equal(host.failures.length, 0, host.failures.map((f) => f.message).join("\n"));
    pages[how] = s.request.header("x-pages");
  }
  const [before, after] = (pages.alloc ?? "").split("->");
  assert.equal(after, before, `heap.alloc grew the memory (${pages.alloc} pages): the fixture no longer has room`);
  assert.equal(pages.realloc, pages.alloc, "heap.realloc grew the memory where heap.alloc found room");
});

test("a block over 1 GiB: the runtime's failure logs 'allocation too large' at critical and traps the VM", async () => {
  const { wasm } = await built("tests/fixtures/filters/allocation-too-large.ts");
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  const s = host.httpStream();
  s.requestHeaders(REQUEST, true);
  assert.equal(host.failures.length, 1);
  assert.equal(host.failures[0].callback, "proxy_on_request_headers");
  assert.ok(
    host.logs.some((l) => l.level === LogLevel.Critical && l.message === "allocation too large"),
    host.logMessages().join("\n"),
  );
});

test("with assertions on (--debug), freeing a block twice traps, as TLSF's own check did, instead of listing it twice", async () => {
  const { wasm } = await built("tests/fixtures/filters/double-free.ts", { debug: true });
  for (const how of ["listed", "tlsf"]) {
    const host = await createHost({ wasm });
    assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
    const s = host.httpStream();
    s.requestHeaders([...REQUEST, ["x-free", how]], true);
    assert.equal(
      s.request.header("x-same-block"),
      undefined,
      `${how}: the request went on (x-same-block: ${s.request.header("x-same-block")})`,
    );
    assert.equal(host.failures.length, 1, `${how}: the second free did not trap`);
    assert.ok(
      host.logs.some((l) => l.level === LogLevel.Critical && l.message.startsWith("block freed twice")),
      host.logMessages().join("\n"),
    );
  }
});

test("a runtime without TLSF's __alloc and __free as expected is left alone", () => {
  const named = (text: string): { name?: { text: string } } => ({ name: { text } });
  const tlsf = { internalPath: "~lib/rt/tlsf", statements: [named("__alloc"), named("__realloc")] };
  assert.equal(renameTlsfEntryPoints([tlsf]), false);
  assert.deepEqual(
    tlsf.statements.map((s) => s.name?.text),
    ["__alloc", "__realloc"],
    "nothing renamed when one is missing",
  );
  assert.equal(renameTlsfEntryPoints([{ internalPath: "~lib/rt/other", statements: [named("__alloc"), named("__free")] }]), false);
  const ok = {
    internalPath: "~lib/rt/tlsf",
    statements: [named("__alloc"), named("__realloc"), named("__free"), {} as { name?: { text: string } }],
  };
  assert.equal(renameTlsfEntryPoints([ok]), true);
  assert.deepEqual(
    ok.statements.map((s) => s.name?.text ?? null),
    ["__tlsf_alloc", "__tlsf_realloc", "__tlsf_free", null],
  );
});
