// proxy-wasm-as build honours the project's asconfig.json (targets, options, outFile, textFile,
// extends), keeps what every filter needs, writes a source map beside the module, and counts
// callbacks the way verify does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, renameSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildFilter } from "../../src/build/build.js";
import { createHost, LogLevel } from "../../src/host/index.js";
import { parseModule } from "../../src/wasm/binary.js";
import { pathToFileURL } from "node:url";
import { sourceMappingUrl } from "../../src/sourcemap/index.js";
import { repoRoot } from "./helpers.js";

const cli = path.join(repoRoot, "dist", "src", "cli.js");

/** A project as `init` makes it: the SDK in node_modules, the filter in assembly/, an asconfig.json. */
function project(asconfig: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pwa-asconfig-"));
  mkdirSync(path.join(dir, "node_modules"));
  mkdirSync(path.join(dir, "assembly"));
  symlinkSync(repoRoot, path.join(dir, "node_modules", "proxy-wasm-as"), "dir");
  writeFileSync(path.join(dir, "package.json"), "{}\n");
  copyFileSync(path.join(repoRoot, "examples/add-header/index.ts"), path.join(dir, "assembly", "index.ts"));
  writeFileSync(path.join(dir, "asconfig.json"), JSON.stringify(asconfig));
  return dir;
}

const memoryPages = (wasm: Uint8Array) => parseModule(wasm).memories[0].limits.min;

test("the asconfig's outFile is the main entry's (assembly/index.ts): another entry of the project gets build/<name>.wasm and leaves the main module alone", async () => {
  const dir = project({ extends: "proxy-wasm-as/asconfig.json", targets: { release: { outFile: "build/main.wasm" } } });
  copyFileSync(path.join(repoRoot, "examples/add-header/index.ts"), path.join(dir, "assembly", "other.ts"));
  const main = await buildFilter({ entry: path.join(dir, "assembly", "index.ts") }, () => {});
  assert.equal(main.outFile, path.join(dir, "build", "main.wasm"));
  const other = await buildFilter({ entry: path.join(dir, "assembly", "other.ts") }, () => {});
  assert.equal(other.outFile, path.join(dir, "build", "other.wasm"));
  assert.equal(other.config, path.join(dir, "asconfig.json"), "the rest of the asconfig still applies");
  // A project without assembly/index.ts: its one entry is the main one.
  const lone = project({ extends: "proxy-wasm-as/asconfig.json", targets: { release: { outFile: "out/f.wasm" } } });
  renameSync(path.join(lone, "assembly", "index.ts"), path.join(lone, "assembly", "filter.ts"));
  assert.equal(
    (await buildFilter({ entry: path.join(lone, "assembly", "filter.ts") }, () => {})).outFile,
    path.join(lone, "out", "f.wasm"),
  );
});

test("build takes the target's outFile and options from asconfig.json, over the file's options and the preset", async () => {
  const dir = project({
    extends: "proxy-wasm-as/asconfig.json",
    targets: { release: { outFile: "out/filter.wasm", textFile: "out/filter.wat" }, big: { outFile: "out/big.wasm", initialMemory: 5 } },
    options: { initialMemory: 3 },
  });
  const entry = path.join(dir, "assembly", "index.ts");
  const r = await buildFilter({ entry }, () => {});
  assert.equal(r.outFile, path.join(dir, "out", "filter.wasm"));
  assert.equal(r.config, path.join(dir, "asconfig.json"));
  assert.equal(memoryPages(r.wasm), 3);
  assert.ok(readFileSync(path.join(dir, "out", "filter.wat"), "utf8").startsWith("(module"));
  // A map beside the module; the release module itself carries no reference to it.
  assert.equal(r.sourceMapFile, path.join(dir, "out", "filter.wasm.map"));
  assert.ok(JSON.parse(readFileSync(r.sourceMapFile, "utf8")).sources.includes("../assembly/index.ts"));
  assert.equal(sourceMappingUrl(r.wasm), null);

  const big = await buildFilter({ entry, target: "big" }, () => {});
  assert.equal(big.outFile, path.join(dir, "out", "big.wasm"));
  assert.equal(memoryPages(big.wasm), 5, "the target's value wins over the file's options");
  // -o wins over the config; --no-config ignores it.
  const plain = await buildFilter({ entry, config: false, outFile: path.join(dir, "plain.wasm") }, () => {});
  assert.equal(plain.outFile, path.join(dir, "plain.wasm"));
  assert.equal(plain.config, null);
  assert.ok(memoryPages(plain.wasm) < 3);
});

test("a debug target keeps names and a sourceMappingURL; a project may turn an optimization off", async () => {
  const dir = project({
    extends: "proxy-wasm-as/asconfig.json",
    targets: { debug: { outFile: "build/dbg.wasm" }, release: { noAssert: false } },
  });
  const entry = path.join(dir, "assembly", "index.ts");
  copyFileSync(path.join(repoRoot, "tests/fixtures/filters/traps.ts"), entry);
  const dbg = await buildFilter({ entry, debug: true }, () => {});
  assert.equal(dbg.outFile, path.join(dir, "build", "dbg.wasm"));
  assert.equal(sourceMappingUrl(dbg.wasm), pathToFileURL(path.join(dir, "build", "dbg.wasm.map")).href);
  assert.ok(parseModule(dbg.wasm).customSections.some((s) => s.name === "name"));
  // noAssert: false in the release target: assert() stays in (the preset compiles it out).
  const rel = await buildFilter({ entry }, () => {});
  assert.ok(!parseModule(rel.wasm).customSections.some((s) => s.name === "name"));
  const host = await createHost({ wasm: rel.wasm });
  host.startPlugin();
  host.httpStream().requestHeaders([[":path", "/assert"]], true);
  assert.match(host.logMessages(LogLevel.Critical)[0] ?? "", /^asserted on purpose at index\.ts:9:/);
});

test("bad asconfig.json: each problem is one line naming the file and the fix", () => {
  const run = (dir: string, args: string[]) =>
    spawnSync(process.execPath, [cli, "build", "assembly/index.ts", ...args], { cwd: dir, encoding: "utf8" });
  let dir = project({ options: { runtime: "incremental" } });
  let r = run(dir, []);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^proxy-wasm-as: .*asconfig\.json sets runtime to "incremental"; a proxy-wasm filter needs "minimal" \(.*\): remove it\n$/,
  );
  dir = project({ targets: { release: {} } });
  r = run(dir, ["--target", "fast"]);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^proxy-wasm-as: .*asconfig\.json has no target 'fast' \(it has release\): add it under "targets" or pick another\n$/,
  );
  dir = project({});
  writeFileSync(path.join(dir, "asconfig.json"), "{ nope");
  r = run(dir, []);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^proxy-wasm-as: .*asconfig\.json: not a valid asconfig\.json \(.*\): fix the JSON\n$/);
  dir = project({ extends: "no-such-package/asconfig.json" });
  r = run(dir, []);
  assert.match(r.stderr, /extends "no-such-package\/asconfig\.json", which cannot be found: install it or fix the path\n$/);
});

test("build and verify count the same callbacks", () => {
  const dir = project({ extends: "proxy-wasm-as/asconfig.json" });
  const b = spawnSync(process.execPath, [cli, "build", "assembly/index.ts"], { cwd: dir, encoding: "utf8" });
  assert.equal(b.status, 0, b.stderr);
  const built = /(\d+) callbacks?\b/.exec(b.stdout)?.[1];
  const wasm = path.join(dir, "build", `${path.basename(dir)}.wasm`);
  assert.ok(existsSync(wasm));
  const v = spawnSync(process.execPath, [cli, "verify", wasm], { encoding: "utf8" });
  assert.equal(/(\d+) callbacks?\b/.exec(v.stdout)?.[1], built, `${b.stdout} / ${v.stdout}`);
});
