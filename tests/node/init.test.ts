// proxy-wasm-as init: a project a user owns, installed from `npm pack` of this package, built and
// tested on its own (the npm registry is the only network used, for assemblyscript).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./helpers.js";

const cli = path.join(repoRoot, "dist", "src", "cli.js");
// A clean environment for the nested npm and node --test: none of the npm_* settings of an enclosing
// `npm test`, and not NODE_TEST_CONTEXT (a nested `node --test` would report to this runner instead).
// PATH loses node_modules/.bin entries too: a dependency of as-pect installs an old `npm` there that
// does not know `npm pack --pack-destination`; the user's npm is the one to test with.
const cleanEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("npm_") && k !== "NODE_TEST_CONTEXT"));
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
  assert.deepEqual(readdirSync(dir).sort(), [".gitignore", "README.md", "asconfig.json", "assembly", "envoy.yaml", "package.json", "test", "tsconfig.json", "wasmplugin.yaml"]);
  const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  assert.equal(pkg.name, "my-filter");
  assert.match(pkg.devDependencies["proxy-wasm-as"], /^\^\d+\.\d+\.\d+/);
  assert.match(pkg.devDependencies.assemblyscript, /^\^0\.28\./);
  assert.equal(readFileSync(path.join(dir, "assembly", "index.ts"), "utf8"), readFileSync(path.join(repoRoot, "examples", "add-header", "index.ts"), "utf8"));
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
  r = run(process.execPath, [cli, "init", "--list", "unused"], parent);
  assert.equal(r.status, 0);
  assert.ok(r.stdout.split("\n").includes("x-service-name"));
});

test("an init'ed project installs this package from npm pack, builds and passes its own tests", { timeout: 240_000 }, () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "pwa-init-e2e-"));
  const packDir = path.join(parent, "pack");
  mkdirSync(packDir);
  let r = run("npm", ["pack", "--ignore-scripts", "--pack-destination", packDir], repoRoot);
  assert.equal(r.status, 0, r.stderr);
  const tarball = path.join(packDir, readdirSync(packDir).find((f) => f.endsWith(".tgz"))!);
  const dir = path.join(parent, "svc-filter");
  r = run(process.execPath, [cli, "init", dir], parent);
  assert.equal(r.status, 0, r.stderr);
  // The package's pinned compiler comes from the npm registry; this package from the tarball.
  const asVersion = JSON.parse(readFileSync(path.join(repoRoot, "node_modules", "assemblyscript", "package.json"), "utf8")).version;
  r = run("npm", ["install", tarball, `assemblyscript@${asVersion}`], dir);
  assert.equal(r.status, 0, r.stderr);
  r = run("npm", ["test"], dir);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /^# pass 1$/m);
  assert.match(r.stdout + r.stderr, /^# fail 0$/m);
  assert.ok(existsSync(path.join(dir, "build", "svc-filter.wasm")));
  // Plain asc with the generated asconfig builds too.
  r = run(path.join(dir, "node_modules", ".bin", "asc"), ["assembly/index.ts", "--target", "release", "-o", "build/asc.wasm"], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(readFileSync(path.join(dir, "build", "asc.wasm")).byteLength > 1000);
  writeFileSync(path.join(dir, ".done"), "");
});
