// proxy-wasm-as init: a project a user owns, installed from a clone of this package or from its
// `npm pack` tarball, type-checked, built and tested on its own (the npm registry, or npm's cache, is
// used only for assemblyscript and typescript).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./helpers.js";
import { sdkSource } from "../../src/init/sdk-spec.js";

const cli = path.join(repoRoot, "dist", "src", "cli.js");
// A clean environment for the nested npm and node --test: none of the npm_* settings of an enclosing
// `npm test`, and not NODE_TEST_CONTEXT (a nested `node --test` would report to this runner instead).
// PATH loses node_modules/.bin entries too: a dependency of as-pect installs an old `npm` there that
// does not know `npm pack --pack-destination`; the user's npm is the one to test with.
const cleanEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith("npm_") && k !== "NODE_TEST_CONTEXT"),
);
cleanEnv.PATH = (process.env.PATH ?? "")
  .split(path.delimiter)
  .filter((p) => !p.split(path.sep).includes("node_modules"))
  .join(path.delimiter);
const run = (cmd: string, args: string[], cwd: string, timeout = 180_000) =>
  spawnSync(cmd, args, { cwd, encoding: "utf8", timeout, env: { ...cleanEnv, npm_config_audit: "false", npm_config_fund: "false" } });

test("init writes a complete project from a template and refuses to overwrite", () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "pwa-init-"));
  const dir = path.join(parent, "My Filter");
  let r = run(process.execPath, [cli, "init", dir, "--template", "add-header"], parent);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(dir).sort(), [
    ".gitignore",
    "README.md",
    "asconfig.json",
    "assembly",
    "envoy.yaml",
    "package.json",
    "test",
    "tsconfig.json",
    "wasmplugin.yaml",
  ]);
  const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  assert.equal(pkg.name, "my-filter");
  assert.match(pkg.devDependencies.assemblyscript, /^\^0\.28\./);
  assert.match(pkg.devDependencies.typescript, /^~5\./);
  const tsconfig = JSON.parse(readFileSync(path.join(dir, "tsconfig.json"), "utf8"));
  assert.equal(tsconfig.extends, "assemblyscript/std/assembly.json");
  assert.equal(
    readFileSync(path.join(dir, "assembly", "index.ts"), "utf8"),
    readFileSync(path.join(repoRoot, "examples", "add-header", "index.ts"), "utf8"),
  );
  const envoy = readFileSync(path.join(dir, "envoy.yaml"), "utf8");
  assert.match(envoy, /filename: build\/my-filter\.wasm/);
  assert.match(envoy, /root_id: my-filter/);
  assert.doesNotMatch(envoy, /add-header/);
  assert.equal(JSON.parse(readFileSync(path.join(dir, "asconfig.json"), "utf8")).extends, "proxy-wasm-as/asconfig.json");

  r = run(process.execPath, [cli, "init", dir], parent);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^proxy-wasm-as: .*My Filter is not empty \(9 entries\): init writes only into a new or empty folder\n$/);
  r = run(process.execPath, [cli, "init", path.join(parent, "x"), "--template", "nope"], parent);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^proxy-wasm-as: unknown template 'nope': choose one of .*x-service-name/);
  r = run(process.execPath, [cli, "init", "--list"], parent);
  assert.equal(r.status, 0);
  assert.ok(r.stdout.split("\n").includes("x-service-name"));
  r = run(process.execPath, [cli, "init"], parent);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "proxy-wasm-as: init needs the folder to create: proxy-wasm-as init <dir> (or --list for the templates)\n");
});

test("the proxy-wasm-as spec follows where the CLI came from: a clone, a tarball install, the registry, --sdk", () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "pwa-init-spec-"));
  // A clone: no node_modules folder above the package.
  assert.deepEqual(sdkSource(path.join(parent, "clone"), "1.2.3"), { spec: `file:${path.join(parent, "clone")}`, from: "clone" });
  // Installed from a tarball (npm install ../x.tgz, or npx's cache): the lock records a relative file: spec.
  const owner = path.join(parent, "tools");
  mkdirSync(path.join(owner, "node_modules", "proxy-wasm-as"), { recursive: true });
  const installed = path.join(owner, "node_modules", "proxy-wasm-as");
  writeFileSync(path.join(owner, "package.json"), JSON.stringify({ dependencies: { "proxy-wasm-as": "file:../sdk.tgz" } }));
  assert.deepEqual(sdkSource(installed, "1.2.3"), { spec: `file:${path.join(parent, "sdk.tgz")}`, from: "file" });
  writeFileSync(
    path.join(owner, "node_modules", ".package-lock.json"),
    JSON.stringify({ packages: { "node_modules/proxy-wasm-as": { resolved: "file:../other.tgz" } } }),
  );
  assert.deepEqual(sdkSource(installed, "1.2.3"), { spec: `file:${path.join(parent, "other.tgz")}`, from: "file" });
  // From the registry: the lock has an https URL and the owner a version range.
  writeFileSync(
    path.join(owner, "node_modules", ".package-lock.json"),
    JSON.stringify({
      packages: { "node_modules/proxy-wasm-as": { resolved: "https://registry.npmjs.org/proxy-wasm-as/-/proxy-wasm-as-1.2.3.tgz" } },
    }),
  );
  writeFileSync(path.join(owner, "package.json"), JSON.stringify({ devDependencies: { "proxy-wasm-as": "^1.2.0" } }));
  assert.deepEqual(sdkSource(installed, "1.2.3"), { spec: "^1.2.3", from: "registry" });
  // --sdk: ranges as given, paths made absolute file: specs.
  assert.deepEqual(sdkSource(installed, "1.2.3", "~1.2.0", parent), { spec: "~1.2.0", from: "flag" });
  assert.deepEqual(sdkSource(installed, "1.2.3", "./sdk.tgz", parent), { spec: `file:${path.join(parent, "sdk.tgz")}`, from: "flag" });
  assert.deepEqual(sdkSource(installed, "1.2.3", "file:../sdk", owner), { spec: `file:${path.join(parent, "sdk")}`, from: "flag" });
  const r = run(process.execPath, [cli, "init", path.join(parent, "p"), "--sdk", ""], parent);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^proxy-wasm-as: --sdk needs a spec: a version range, a tarball path or file:<folder>\n$/);
});

/** npm install -> tsc --noEmit -> npm test in an init'ed project, with no edits. */
function installCheckAndTest(dir: string, name: string): void {
  let r = run("npm", ["install"], dir);
  assert.equal(r.status, 0, r.stderr);
  // AssemblyScript's types and the SDK's own sources type-check under the project's tsconfig (what editors show).
  r = run(path.join(dir, "node_modules", ".bin", "tsc"), ["--noEmit"], dir);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = run("npm", ["test"], dir);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /^# fail 0$/m);
  assert.doesNotMatch(r.stdout + r.stderr, /^# pass 0$/m);
  assert.ok(existsSync(path.join(dir, "build", `${name}.wasm`)));
}

test("from a clone: init -> npm install -> tsc --noEmit -> npm test, no edits", { timeout: 240_000 }, () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "pwa-init-clone-"));
  const dir = path.join(parent, "svc-filter");
  const r = run(process.execPath, [cli, "init", dir], parent);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).devDependencies["proxy-wasm-as"],
    `file:${repoRoot.replace(/[\\/]$/, "")}`,
  );
  installCheckAndTest(dir, "svc-filter");
  // Plain asc with the generated asconfig builds too.
  const a = run(path.join(dir, "node_modules", ".bin", "asc"), ["assembly/index.ts", "--target", "release", "-o", "build/asc.wasm"], dir);
  assert.equal(a.status, 0, a.stderr);
  assert.ok(readFileSync(path.join(dir, "build", "asc.wasm")).byteLength > 1000);
});

test("from an npm pack tarball: the CLI installed from it makes a project that installs the same tarball", { timeout: 240_000 }, () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "pwa-init-tgz-"));
  let r = run("npm", ["pack", "--ignore-scripts", "--pack-destination", parent], repoRoot);
  assert.equal(r.status, 0, r.stderr);
  const tarball = path.join(parent, readdirSync(parent).find((f) => f.endsWith(".tgz"))!);
  // Where the user's CLI lives (as `npm install <tarball>` or npx would put it).
  const tools = path.join(parent, "tools");
  mkdirSync(tools);
  writeFileSync(path.join(tools, "package.json"), "{}\n");
  r = run("npm", ["install", path.relative(tools, tarball)], tools);
  assert.equal(r.status, 0, r.stderr);
  const dir = path.join(parent, "token-filter");
  r = run(path.join(tools, "node_modules", ".bin", "proxy-wasm-as"), ["init", dir, "--template", "add-header"], parent);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`proxy-wasm-as dependency: file:${tarball.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n`));
  installCheckAndTest(dir, "token-filter");
});
