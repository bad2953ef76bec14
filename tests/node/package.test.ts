// The package as npm would publish it: what `npm pack` puts in the tarball (licence, metadata, every
// `files` entry real, source maps whose sources ship, docs), and a user's path with it: an empty
// project installs the tarball, `init`s a filter, installs it, and runs `build`, the project's tests,
// `verify`, `config-schema` and `manifest` through the CLI it installed.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./helpers.js";

const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
// The user's npm and node, without the settings of an enclosing `npm test` or test runner.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("npm_") && k !== "NODE_TEST_CONTEXT"));
env.PATH = (process.env.PATH ?? "")
  .split(path.delimiter)
  .filter((p) => !p.includes("node_modules"))
  .join(path.delimiter);
const sh = (cmd: string, args: string[], cwd: string, timeout = 240_000) =>
  spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    timeout,
    env: { ...env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" },
  });

let shipped: Map<string, number>;
before(() => {
  const r = sh("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], repoRoot);
  assert.equal(r.status, 0, r.stderr);
  shipped = new Map((JSON.parse(r.stdout)[0].files as { path: string; size: number }[]).map((f) => [f.path, f.size]));
});

test("package.json says what a registry page and a user need: licence, repository, homepage, issues, keywords", () => {
  assert.equal(pkg.license, "Apache-2.0");
  assert.match(pkg.repository?.url ?? "", /^git\+https:\/\/.+\.git$/);
  assert.match(pkg.homepage ?? "", /^https:\/\//);
  assert.match(pkg.bugs?.url ?? "", /^https:\/\//);
  assert.ok(pkg.keywords?.includes("proxy-wasm") && pkg.keywords.includes("envoy") && pkg.keywords.includes("istio"));
  const licence = readFileSync(path.join(repoRoot, "LICENSE"), "utf8");
  assert.match(licence, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(licence, /END OF TERMS AND CONDITIONS/);
});

test("the tarball ships the licence, the README, the docs, the SDK, the CLI and the examples, and no tests or build output", () => {
  for (const f of [
    "LICENSE",
    "README.md",
    "package.json",
    "index.ts",
    "asconfig.json",
    "assembly/index.ts",
    "dist/src/cli.js",
    "docs/deploy.md",
    "docs/config-schema.md",
    "examples/tcp-logger/index.ts",
    "examples/config-headers/config.schema.json",
  ]) {
    assert.ok(shipped.has(f), `${f} is not in the tarball`);
  }
  for (const f of shipped.keys())
    assert.doesNotMatch(f, /^(tests|bench|tools|\.ci|\.tmp|dist\/tests)\/|^examples\/[^/]+\/build\/|\.wasm$/, `${f} should not ship`);
  // Every `files` entry names something that exists.
  for (const entry of pkg.files.filter((f: string) => !f.startsWith("!"))) {
    const prefix = entry.replace(/\/$/, "");
    assert.ok(
      [...shipped.keys()].some((f) => f === prefix || f.startsWith(`${prefix}/`)),
      `files lists ${entry}, which ships nothing`,
    );
  }
  // The bin and every export resolve inside the tarball.
  for (const target of [...Object.values(pkg.bin as Record<string, string>), ...Object.values(pkg.exports as Record<string, string>)]) {
    assert.ok(shipped.has(target.replace(/^\.\//, "")), `${target} is not in the tarball`);
  }
});

test("every shipped source map has its sources in the tarball, and every sourceMappingURL its map", () => {
  let maps = 0;
  for (const f of shipped.keys()) {
    if (f.endsWith(".js.map")) {
      maps++;
      const map = JSON.parse(readFileSync(path.join(repoRoot, f), "utf8")) as { sources: string[] };
      for (const s of map.sources) {
        const source = path.posix.normalize(path.posix.join(path.posix.dirname(f), s));
        assert.ok(shipped.has(source), `${f} points at ${source}, which does not ship`);
      }
    } else if (f.endsWith(".js")) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(path.join(repoRoot, f), "utf8"))?.[1];
      if (url) assert.ok(shipped.has(path.posix.join(path.posix.dirname(f), url)), `${f} names ${url}, which does not ship`);
    }
  }
  assert.ok(maps > 0, "the CLI ships with source maps (stack traces point at src/)");
});

test("the README's and docs' relative links point at files that ship", () => {
  for (const doc of [...shipped.keys()].filter((f) => f === "README.md" || f.startsWith("docs/"))) {
    if (!doc.endsWith(".md")) continue;
    const text = readFileSync(path.join(repoRoot, doc), "utf8");
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const link = m[1];
      if (/^[a-z]+:/.test(link)) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(doc), link)).replace(/\/$/, "");
      assert.ok(
        shipped.has(target) || [...shipped.keys()].some((f) => f.startsWith(`${target}/`)),
        `${doc} links to ${link}, which does not ship`,
      );
    }
  }
});

test("a user's path: install the tarball in an empty project, init, npm install, build, test, verify, config-schema, manifest", {
  timeout: 600_000,
}, () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "pwa-package-"));
  let r = sh("npm", ["pack", "--ignore-scripts", "--pack-destination", parent], repoRoot);
  assert.equal(r.status, 0, r.stderr);
  const tarball = path.join(parent, readdirSync(parent).find((f) => f.endsWith(".tgz"))!);
  const user = path.join(parent, "user");
  mkdirSync(user);
  writeFileSync(path.join(user, "package.json"), JSON.stringify({ name: "user", private: true }) + "\n");
  r = sh("npm", ["install", "--prefer-offline", tarball], user);
  assert.equal(r.status, 0, r.stderr);
  const cli = path.join(user, "node_modules", ".bin", "proxy-wasm-as");
  r = sh(cli, ["init", "headers", "--template", "config-headers"], user);
  assert.equal(r.status, 0, r.stderr);
  const project = path.join(user, "headers");
  r = sh("npm", ["install", "--prefer-offline"], project);
  assert.equal(r.status, 0, r.stderr);
  const own = path.join(project, "node_modules", ".bin", "proxy-wasm-as");
  r = sh(own, ["build", "assembly/index.ts"], project);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^built build\/headers\.wasm: \d+ bytes, \d+ callbacks, ABI 0\.2\.1/m);
  r = sh("npm", ["test"], project);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /^# fail 0$/m);
  assert.doesNotMatch(r.stdout + r.stderr, /^# pass 0$/m);
  r = sh(own, ["verify", "build/headers.wasm"], project);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok: build\/headers\.wasm: ABI 0\.2\.1/m);
  // The template's configuration schema came along, is in the module, and manifest enforces it.
  assert.ok(existsSync(path.join(project, "assembly", "config.schema.json")));
  r = sh(own, ["config-schema", "build/headers.wasm"], project);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).title, "config-headers configuration");
  r = sh(
    own,
    ["manifest", "build/headers.wasm", "--image", "registry.example.com/headers:v1", "--config", '{"request":{"set":{"x-env":1}}}'],
    project,
  );
  assert.match(r.stderr, /request\.set\.x-env: must be string/);
  r = sh(
    own,
    ["manifest", "build/headers.wasm", "--image", "registry.example.com/headers:v1", "--config", '{"request":{"set":{"x-env":"prod"}}}'],
    project,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /kind: WasmPlugin/);
});
