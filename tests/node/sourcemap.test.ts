// Source maps: every build writes one beside the module, and a V8 Wasm stack maps through it to the
// author's TypeScript line, in debug and in release builds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import { Session } from "node:inspector/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { ModuleSourceMap, readSourceMap, sourceMappingUrl, sourceTrace, wasmFrames } from "../../src/sourcemap/index.js";
import { buildFilter } from "../../src/build/build.js";
import { built, repoRoot } from "./helpers.js";

const fixture = "tests/fixtures/filters/divide-by-zero.ts";
const fixtureFile = path.relative(process.cwd(), path.join(repoRoot, fixture));

/** The stack of the trap, from the module instantiated with imports that all answer 0 (Ok). */
function trapStack(wasm: Uint8Array<ArrayBuffer>): string {
  const m = new WebAssembly.Module(wasm);
  const imports: Record<string, Record<string, () => number>> = {};
  for (const i of WebAssembly.Module.imports(m)) (imports[i.module] ??= {})[i.name] = () => 0;
  const e = new WebAssembly.Instance(m, imports).exports as Record<string, (...a: number[]) => number>;
  e._initialize();
  e.proxy_on_context_create(1, 0);
  e.proxy_on_context_create(2, 1);
  try {
    e.proxy_on_request_headers(2, 3, 1);
  } catch (err) {
    assert.ok(err instanceof WebAssembly.RuntimeError);
    return err.stack ?? "";
  }
  assert.fail("the fixture did not trap");
}

for (const debug of [true, false]) {
  test(`a division by zero maps to the author's line (${debug ? "debug" : "release"} build)`, async () => {
    const r = await built(fixture, { debug });
    const map = readSourceMap(r.outFile);
    assert.ok(map, "a map beside the module");
    const stack = trapStack(r.wasm);
    assert.match(stack, /divide by zero/);
    const frames = wasmFrames(stack);
    assert.ok(frames.length >= 1);
    const trace = sourceTrace(stack, map);
    assert.deepEqual(trace.at, { file: fixtureFile, line: 6, column: 10 });
    if (debug) {
      // Names from the name section, and the caller's line; the SDK's dispatch frames are left out.
      assert.deepEqual(trace.stack, [`ratio (${fixtureFile}:6:10)`, `Divide#onHttpRequestHeaders (${fixtureFile}:12:9)`]);
      // Debuggers find the map from the module: an absolute file: URL (the build's own path).
      assert.match(sourceMappingUrl(r.wasm) ?? "", new RegExp(`^file:///.*/${path.basename(r.outFile)}\\.map$`));
    } else {
      // Release inlines the helper into the callback: one frame, still at the author's line.
      assert.equal(trace.stack[0], `${fixtureFile}:6:10`);
      assert.equal(sourceMappingUrl(r.wasm), null, "release modules carry no map reference");
    }
  });
}

test("the map names the author's file relative to itself and keeps the SDK's sources as ~lib", async () => {
  const r = await built(fixture, { debug: true });
  const json = JSON.parse(readFileSync(r.sourceMapFile, "utf8")) as { sources: string[]; sourceRoot?: string; sourcesContent: string[] };
  assert.equal(json.sourceRoot, undefined);
  const own = json.sources.filter((s) => !s.startsWith("~lib/"));
  assert.deepEqual(own, [path.relative(path.dirname(r.sourceMapFile), path.join(repoRoot, fixture)).split(path.sep).join("/")]);
  assert.ok(json.sources.includes("~lib/proxy-wasm-as/assembly/context.ts"));
  assert.equal(json.sourcesContent[json.sources.indexOf(own[0])], readFileSync(path.join(repoRoot, fixture), "utf8"));
});

test("frames without a mapping, stacks without Wasm frames and bad maps", () => {
  assert.deepEqual(wasmFrames("Error: x\n    at foo (file:///a.js:1:2)"), []);
  assert.deepEqual(wasmFrames("    at wasm://wasm/0a1b:wasm-function[3]:0x1f"), [{ name: null, functionIndex: 3, offset: 0x1f }]);
  const map = new ModuleSourceMap(JSON.stringify({ version: 3, sources: ["a.ts"], names: [], mappings: "kBAAA" }));
  assert.equal(map.positionAt(0x10), null, "before the first mapping");
  assert.deepEqual(map.positionAt(0x20), { file: "a.ts", line: 1, column: 1 });
  assert.deepEqual(sourceTrace("no frames", map), { at: null, stack: [] });
  assert.throws(() => new ModuleSourceMap("not json"));
});

test("a debugger attached to Node sees a debug module's source map URL (what DevTools and VS Code load)", async () => {
  // Built here, not taken from the shared cache: the URL is the build's own path.
  const dir = mkdtempSync(path.join(os.tmpdir(), "pwa-sourcemap-"));
  const r = await buildFilter({ entry: path.join(repoRoot, fixture), outFile: path.join(dir, "f.wasm"), debug: true }, () => {});
  const session = new Session();
  session.connect();
  const seen: { url: string; sourceMapURL: string }[] = [];
  session.on("Debugger.scriptParsed", (m) => {
    if (m.params.url.startsWith("wasm://")) seen.push({ url: m.params.url, sourceMapURL: m.params.sourceMapURL ?? "" });
  });
  await session.post("Debugger.enable");
  new WebAssembly.Module(r.wasm);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await session.post("Debugger.disable");
  session.disconnect();
  const url = sourceMappingUrl(r.wasm)!;
  assert.ok(
    seen.some((s) => s.sourceMapURL === url),
    JSON.stringify(seen),
  );
  assert.equal(fileURLToPath(url), path.join(dir, "f.wasm.map"));
  assert.ok(existsSync(fileURLToPath(url)));
});
