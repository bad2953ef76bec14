// proxy-wasm-as build: both ways of building (the CLI wrapper and plain asc with the package's
// asconfig preset), errors, debug builds and the abort handler.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHost, Action, LogLevel } from "../../src/host/index.js";
import { COMMON_FLAGS, RELEASE_FLAGS, DEBUG_FLAGS, defaultOutFile } from "../../src/build/build.js";
import { verifyModule } from "../../src/verify.js";
import { unusedCallbackExports } from "../../src/build/prune-exports.js";
import InlineRuntimeAccessors, { INLINED_ACCESSORS } from "../../src/build/runtime-inlining.js";
import { functionNames } from "../../src/build/binaryen-module.js";
import { buildFilter } from "../../src/build/build.js";
import { built, repoRoot } from "./helpers.js";

const cli = path.join(repoRoot, "dist", "src", "cli.js");
const run = (args: string[], cwd = repoRoot) => spawnSync(process.execPath, [cli, ...args], { cwd, encoding: "utf8" });

test("build writes a verified module where the README says, and reports its size", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "pwa-build-"));
  const out = path.join(tmp, "add-header.wasm");
  const r = run(["build", "examples/add-header/index.ts", "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  const size = readFileSync(out).byteLength;
  assert.match(r.stdout, new RegExp(`^built .*add-header\\.wasm: ${size} bytes, \\d+ callbacks?, ABI 0\\.2\\.1, in [\\d.]+s\\n$`));
  const v = verifyModule(readFileSync(out));
  assert.equal(v.ok, true, JSON.stringify(v.problems));
  assert.equal(defaultOutFile("examples/add-header/index.ts"), path.resolve("examples/add-header/build/add-header.wasm"));
  assert.equal(defaultOutFile("/p/assembly/index.ts"), path.resolve("/p/build/p.wasm"));
});

test("a filter outside any project (no node_modules) still resolves proxy-wasm-as", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "pwa-loose-"));
  copyFileSync(path.join(repoRoot, "examples/add-header/index.ts"), path.join(tmp, "filter.ts"));
  const r = run(["build", path.join(tmp, "filter.ts")], tmp);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(path.join(tmp, "build", "filter.wasm")));
});

test("only the callbacks a filter overrides are exported; the host sees the same behaviour", async () => {
  const { wasm, removedExports } = await built("examples/add-header/index.ts");
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(wasm))
    .map((e) => e.name)
    .sort();
  assert.deepEqual(exports, [
    "_initialize",
    "malloc",
    "memory",
    "proxy_abi_version_0_2_1",
    "proxy_on_memory_allocate",
    "proxy_on_response_headers",
  ]);
  assert.ok(removedExports.includes("proxy_on_context_create"), "one shared HTTP context: nothing to create per stream");
  assert.ok(removedExports.includes("proxy_on_request_headers"));
  assert.ok(removedExports.includes("proxy_on_configure"), "no onConfigure and no named roots: the host's default (accept) is the same");
  assert.ok(!removedExports.includes("proxy_on_response_headers"));
  // Named root contexts keep proxy_on_configure: a root_id that matches none must be refused there.
  const fns = ["~lib/proxy-wasm-as/assembly/registry/registerRootContext"];
  assert.ok(!unusedCallbackExports(fns, ["proxy_on_configure"]).includes("proxy_on_configure"));
  assert.deepEqual(unusedCallbackExports(["index/F#onConfigure@override"], ["proxy_on_configure", "proxy_on_tick"]), ["proxy_on_tick"]);
  // Contexts are created and deleted by the host's calls unless the filter shares one HTTP context and
  // has nothing else that needs them (a factory, a named root, onDone; onDelete, a root of its own or
  // calls to other services keep proxy_on_delete).
  const lifecycle = ["proxy_on_context_create", "proxy_on_delete"];
  const sdk = "~lib/proxy-wasm-as/assembly/";
  assert.deepEqual(unusedCallbackExports([`${sdk}registry/setRootContext`], lifecycle), []);
  assert.deepEqual(unusedCallbackExports([`${sdk}registry/setSharedHttpContext`], lifecycle), lifecycle);
  assert.deepEqual(unusedCallbackExports([`${sdk}registry/setSharedHttpContext`, `${sdk}registry/setRootContext`], lifecycle), [
    "proxy_on_context_create",
  ]);
  assert.deepEqual(unusedCallbackExports([`${sdk}registry/setSharedHttpContext`, `${sdk}callouts/trackCallout`], lifecycle), [
    "proxy_on_context_create",
  ]);
  assert.deepEqual(unusedCallbackExports([`${sdk}registry/setSharedHttpContext`, "index/S#onDelete@override"], lifecycle), [
    "proxy_on_context_create",
  ]);
  // Without proxy_on_context_create, proxy_on_configure creates each root before any stream when the
  // shared context reads it or proxy_on_delete comes for it.
  const rootCalls = ["proxy_on_context_create", "proxy_on_configure", "proxy_on_delete"];
  const shared = `${sdk}registry/setSharedHttpContext`;
  assert.deepEqual(unusedCallbackExports([shared], rootCalls), rootCalls);
  assert.deepEqual(unusedCallbackExports([shared, `${sdk}root-context/ChildContext#getRootContext`], rootCalls), [
    "proxy_on_context_create",
    "proxy_on_delete",
  ]);
  assert.deepEqual(unusedCallbackExports([shared, `${sdk}registry/setRootContext`], rootCalls), ["proxy_on_context_create"]);
  assert.deepEqual(unusedCallbackExports([shared, "index/S#onDelete@override"], rootCalls), ["proxy_on_context_create"]);
  assert.deepEqual(unusedCallbackExports([shared, `${sdk}registry/setHttpContext`], rootCalls), ["proxy_on_configure"]);
  for (const keeps of [
    `${sdk}registry/setHttpContext`,
    `${sdk}registry/setStreamContext`,
    `${sdk}registry/registerRootContext`,
    "index/R#createHttpContext@override",
    "index/S#onDone@override",
  ]) {
    assert.deepEqual(unusedCallbackExports([`${sdk}registry/setSharedHttpContext`, keeps], lifecycle), [], keeps);
  }
});

test("release builds inline the collector's four accessors, and the filter still collects its garbage", async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "pwa-inline-"));
  // asc's --debug keeps the function names (our release options otherwise), so the test can look for them.
  const r = await buildFilter(
    { entry: path.join(repoRoot, "examples/x-service-name/index.ts"), outFile: path.join(tmp, "x.wasm"), ascArgs: ["--debug"] },
    () => {},
  );
  assert.equal(InlineRuntimeAccessors.lastFound, INLINED_ACCESSORS.size);
  const binaryen = (await import("binaryen")).default;
  const m = binaryen.readBinary(r.wasm);
  const names = new Set(functionNames(binaryen, m));
  m.dispose();
  assert.ok(names.has("~lib/rt/tcms/__new") && names.has("~lib/rt/tcms/__collect"), "the names are there to look at");
  for (const accessor of INLINED_ACCESSORS) assert.equal(names.has(accessor), false, `${accessor} is inlined everywhere`);
  // 3,000 requests: the collector runs dozens of times through the inlined code.
  const host = await createHost({ wasm: r.wasm });
  host.startPlugin();
  const pages = host.memoryBytes;
  for (let i = 0; i < 3000; i++) {
    const s = host.httpStream();
    s.requestHeaders(
      [
        [":authority", "a.example"],
        [":path", `/${i}`],
      ],
      true,
    );
    assert.equal(s.sentHttpResponse?.status, 200);
    s.complete();
    host.clearLogs();
  }
  assert.deepEqual(host.failures, []);
  assert.equal(host.memoryBytes, pages, "no page added: the garbage was collected");
});

test("a debug build keeps the accessors as functions, even from a project whose asconfig lists the transform", async () => {
  const project = mkdtempSync(path.join(os.tmpdir(), "pwa-inline-debug-"));
  mkdirSync(path.join(project, "node_modules"));
  mkdirSync(path.join(project, "assembly"));
  symlinkSync(repoRoot, path.join(project, "node_modules", "proxy-wasm-as"), "dir");
  copyFileSync(path.join(repoRoot, "examples/x-service-name/index.ts"), path.join(project, "assembly", "index.ts"));
  writeFileSync(path.join(project, "package.json"), "{}");
  const transform = path.join(repoRoot, "dist/src/build/runtime-inlining.js");
  writeFileSync(path.join(project, "asconfig.json"), JSON.stringify({ options: { transform: [transform] } }));
  const r = run(["build", "--debug", "assembly/index.ts", "-o", "build/x.debug.wasm"], project);
  assert.equal(r.status, 0, r.stderr);
  const binaryen = (await import("binaryen")).default;
  const m = binaryen.readBinary(readFileSync(path.join(project, "build", "x.debug.wasm")));
  const names = new Set(functionNames(binaryen, m));
  m.dispose();
  for (const accessor of INLINED_ACCESSORS) assert.ok(names.has(accessor), `${accessor} stays a function in a debug module`);
});

test("plain asc with the package's asconfig preset builds the same filter", async () => {
  const project = mkdtempSync(path.join(os.tmpdir(), "pwa-asc-"));
  mkdirSync(path.join(project, "node_modules"));
  mkdirSync(path.join(project, "assembly"));
  symlinkSync(repoRoot, path.join(project, "node_modules", "proxy-wasm-as"), "dir");
  symlinkSync(path.join(repoRoot, "node_modules", "assemblyscript"), path.join(project, "node_modules", "assemblyscript"), "dir");
  copyFileSync(path.join(repoRoot, "examples/add-header/index.ts"), path.join(project, "assembly", "index.ts"));
  writeFileSync(
    path.join(project, "asconfig.json"),
    JSON.stringify({ extends: "proxy-wasm-as/asconfig.json", targets: { release: { outFile: "build/filter.wasm" } } }),
  );
  const asc = spawnSync(
    process.execPath,
    [path.join(project, "node_modules/assemblyscript/bin/asc.js"), "assembly/index.ts", "--target", "release"],
    {
      cwd: project,
      encoding: "utf8",
    },
  );
  assert.equal(asc.status, 0, asc.stderr);
  const viaAsc: Uint8Array<ArrayBuffer> = new Uint8Array(readFileSync(path.join(project, "build", "filter.wasm")));
  const viaCli = (await built("examples/add-header/index.ts")).wasm;
  assert.equal(verifyModule(viaAsc).ok, true);
  const shape = (bytes: Uint8Array<ArrayBuffer>) => {
    const m = new WebAssembly.Module(bytes);
    return {
      imports: WebAssembly.Module.imports(m)
        .map((i) => `${i.module}.${i.name}`)
        .sort(),
      exports: WebAssembly.Module.exports(m)
        .map((e) => e.name)
        .sort(),
    };
  };
  assert.deepEqual(shape(viaAsc), shape(viaCli));
  assert.ok(Math.abs(viaAsc.byteLength - viaCli.byteLength) < 64, `${viaAsc.byteLength} vs ${viaCli.byteLength}`);
  const host = await createHost({ wasm: viaAsc });
  host.startPlugin();
  const http = host.httpStream();
  http.responseHeaders([[":status", "200"]], true);
  assert.equal(http.response.header("x-service-name"), "my-custom-service");
});

test("the asconfig preset carries exactly the wrapper's flags", () => {
  const preset = JSON.parse(readFileSync(path.join(repoRoot, "asconfig.json"), "utf8"));
  const flag = (flags: readonly string[], name: string) => flags[flags.indexOf(name) + 1];
  assert.equal(preset.options.runtime, flag(COMMON_FLAGS, "--runtime"));
  assert.equal(preset.options.exportStart, flag(COMMON_FLAGS, "--exportStart"));
  assert.deepEqual(preset.options.use, [flag(COMMON_FLAGS, "--use")]);
  assert.equal(String(preset.targets.release.optimizeLevel), flag(RELEASE_FLAGS, "--optimizeLevel"));
  assert.equal(String(preset.targets.release.shrinkLevel), flag(RELEASE_FLAGS, "--shrinkLevel"));
  assert.equal(preset.targets.release.converge ?? false, RELEASE_FLAGS.includes("--converge"));
  assert.equal(preset.targets.release.noAssert, RELEASE_FLAGS.includes("--noAssert"));
  assert.equal(preset.targets.debug.debug, DEBUG_FLAGS.includes("--debug"));
  assert.deepEqual(preset.entries, ["./assembly/exports.ts"]);
  // The same transforms as the wrapper: export pruning, the small-block free lists, the check of a
  // shared context's fields and the inlining of the collector's accessors.
  assert.deepEqual(preset.options.transform, [
    "./dist/src/build/prune-exports.js",
    "./dist/src/build/small-blocks.js",
    "./dist/src/build/shared-fields.js",
    "./dist/src/build/runtime-inlining.js",
  ]);
});

test("bad input: a missing entry, a non-.ts entry and a compile error each give one clear line", () => {
  let r = run(["build", "no/such/filter.ts"]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "proxy-wasm-as: no/such/filter.ts: no such file: pass the path of your filter's .ts entry\n");
  r = run(["build", "package.json"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^proxy-wasm-as: package\.json: the entry must be an AssemblyScript \.ts file\n$/);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "pwa-bad-"));
  writeFileSync(path.join(tmp, "bad.ts"), 'import { HttpContext } from "proxy-wasm-as";\nconst x: i32 = "not a number";\n');
  r = run(["build", path.join(tmp, "bad.ts")], tmp);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TS2322/); // the compiler's diagnostic is shown
  const last = r.stderr.trim().split("\n").pop();
  assert.equal(last, "proxy-wasm-as: build of bad.ts failed: 1 error (see the compiler output above)");
  // The location is given from the working directory, as the entry was typed, not from the entry's folder.
  mkdirSync(path.join(tmp, "assembly"));
  writeFileSync(path.join(tmp, "assembly", "bad.ts"), 'import { HttpContext } from "proxy-wasm-as";\nconst x: i32 = "not a number";\n');
  r = run(["build", "assembly/bad.ts"], tmp);
  assert.match(r.stderr, /in assembly\/bad\.ts\(2,16\)/);
  // An existing folder as -o is refused before compiling, in one line (it used to end in an EISDIR stack trace).
  r = run(["build", "examples/add-header/index.ts", "-o", tmp]);
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    `proxy-wasm-as: -o ${tmp} is a folder: give the path of the .wasm file to write, e.g. -o ${path.join(tmp, "filter.wasm")}\n`,
  );
  r = run(["build", "--frobnicate", "x.ts"]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown option '--frobnicate'/);
});

for (const debug of [false, true]) {
  test(`abort handler (${debug ? "debug" : "release"}): each failure logs message at file:line:col at CRITICAL, then traps`, async () => {
    const { wasm } = await built("tests/fixtures/filters/traps.ts", { debug });
    const cases: Array<[string, string | null]> = [
      ["/throw", "thrown on purpose at traps.ts:8:27"],
      ["/bounds", "Index out of range at ~lib/array.ts:"],
      ["/abort", "aborted on purpose"],
      // assert() is compiled out of release builds (--noAssert) and kept in debug builds.
      ["/assert", debug ? "asserted on purpose at traps.ts:9:28" : null],
    ];
    for (const [p, message] of cases) {
      const host = await createHost({ wasm });
      host.startPlugin();
      const http = host.httpStream();
      http.requestHeaders([[":path", p]], true);
      const critical = host.logMessages(LogLevel.Critical);
      if (message === null) {
        assert.deepEqual(critical, []);
        assert.equal(http.sentHttpResponse, null);
        continue;
      }
      assert.ok(critical[0]?.startsWith(message), `${p}: ${JSON.stringify(critical)}`);
      assert.equal(http.sentHttpResponse?.status, 503, "fail-closed answers 503");
      // The next stream gets a fresh VM and is served.
      const next = host.httpStream();
      assert.equal(next.requestHeaders([[":path", "/ok"]], true), Action.Continue);
    }
  });
}
