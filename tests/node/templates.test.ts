// Each template `init` makes is complete: a template that ships its own test (template.test.js) gets
// it in the new project, and it passes there against the compiled filter (tcp-logger is driven over
// TCP, not HTTP); files the template's README or schema need travel with it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { built, repoRoot } from "./helpers.js";

const cli = path.join(repoRoot, "dist", "src", "cli.js");
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT"));
const withOwnTest = readdirSync(path.join(repoRoot, "examples")).filter((n) =>
  existsSync(path.join(repoRoot, "examples", n, "template.test.js")),
);

test("tcp-logger ships its own template test", () => {
  assert.ok(withOwnTest.includes("tcp-logger"), withOwnTest.join(","));
});

for (const template of withOwnTest) {
  test(`${template}: init writes the template's own test, and it passes in the new project`, { timeout: 120_000 }, async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), "pwa-template-"));
    const dir = path.join(parent, "my-filter");
    let r = spawnSync(process.execPath, [cli, "init", dir, "--template", template], { encoding: "utf8", env });
    assert.equal(r.status, 0, r.stderr);
    const written = readFileSync(path.join(dir, "test", "filter.test.js"), "utf8");
    assert.equal(
      written,
      readFileSync(path.join(repoRoot, "examples", template, "template.test.js"), "utf8")
        .split(template)
        .join("my-filter"),
    );
    // What `npm install` and `npm run build` would give: the SDK in node_modules, the module in build/.
    mkdirSync(path.join(dir, "node_modules"));
    symlinkSync(repoRoot, path.join(dir, "node_modules", "proxy-wasm-as"), "dir");
    mkdirSync(path.join(dir, "build"));
    writeFileSync(path.join(dir, "build", "my-filter.wasm"), (await built(`examples/${template}/index.ts`)).wasm);
    r = spawnSync(process.execPath, ["--test", "test/"], { cwd: dir, encoding: "utf8", env, timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^# fail 0$/m);
    assert.doesNotMatch(r.stdout, /^# pass 0$/m);
  });
}

test("files a template needs travel with it: grpc-callout's authorization server, config-headers' schema", () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "pwa-template-files-"));
  for (const [template, file] of [
    ["grpc-callout", "authz-server.mjs"],
    ["config-headers", "config.schema.json"],
  ]) {
    const dir = path.join(parent, template);
    const r = spawnSync(process.execPath, [cli, "init", dir, "--template", template], { encoding: "utf8", env });
    assert.equal(r.status, 0, r.stderr);
    const where = file === "config.schema.json" ? path.join(dir, "assembly", file) : path.join(dir, file);
    assert.equal(
      readFileSync(where, "utf8"),
      readFileSync(path.join(repoRoot, "examples", template, file), "utf8"),
      `${template}: ${file}`,
    );
  }
});
