// docs/architecture.md against the tree: every repository path the page names must exist, and its map
// must name every top-level folder, every module of src/ and every file of assembly/, so that neither a
// move nor a new module leaves the page silently wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "./helpers.js";

const PAGE = "docs/architecture.md";
const TOP_FOLDERS = [".ci", "assembly", "bench", "docs", "examples", "src", "tests", "tools"];
const ROOT_FILES = ["README.md", "package.json", "asconfig.json", "biome.jsonc", "index.ts", "tsconfig.json", "as-pect.config.js"];
/** Folders at the root that are not part of the repository (installed, built or ignored). */
const NOT_REPOSITORY = new Set(["node_modules", "dist", "build"]);

/**
 * The repository paths a Markdown text names: anything under a top-level folder (`src/host/vm.ts`,
 * `tests/node/`), and the root files above. A path stops at a placeholder (`src/host/calls/<area>.ts`
 * names `src/host/calls/`) or a glob; a path inside another one (`dist/tests/node/x.js`,
 * `~lib/proxy-wasm-as/assembly/abort`) is not a repository path and is skipped. Trailing
 * punctuation and slashes are dropped, so `src/host/` and `src/host` are the same path.
 */
export function repositoryPaths(text: string): string[] {
  const folders = TOP_FOLDERS.map((f) => f.replace(".", "\\.")).join("|");
  const files = ROOT_FILES.map((f) => f.replace(/\./g, "\\.")).join("|");
  const re = new RegExp(`(?<![\\w./~-])(?:(?:${folders})/[\\w.\\-/]*|(?:${files})(?![\\w.-]*\\w))`, "g");
  const out = new Set<string>();
  for (const m of text.matchAll(re)) {
    let p = m[0];
    // A placeholder or glob in the last segment (`calls/<area>.ts`, `example-*.test.ts`): its folder.
    if (/[<*{]/.test(text[m.index + p.length] ?? "")) p = p.slice(0, p.lastIndexOf("/") + 1);
    out.add(p.replace(/[./]+$/, ""));
  }
  return [...out].sort();
}

const missing = (paths: string[]): string[] => paths.filter((p) => !existsSync(path.join(repoRoot, p)));

test("the path reader finds repository paths, stops at placeholders and skips paths inside others", () => {
  const text = [
    "The host call goes in `src/host/calls/<area>.ts`; see src/abi/functions.ts.",
    "Run `node --test dist/tests/node/x.test.js` and read [the README](README.md), docs/host.md, tests/node/.",
    "Envoy's proxy-wasm-cpp-host/src/exports.cc; the tests in tests/assembly/*.spec.ts.",
    "asc uses ~lib/proxy-wasm-as/assembly/abort; src/nowhere/gone.ts moved.",
  ].join("\n");
  assert.deepEqual(repositoryPaths(text), [
    "README.md",
    "docs/host.md",
    "src/abi/functions.ts",
    "src/host/calls",
    "src/nowhere/gone.ts",
    "tests/assembly",
    "tests/node",
  ]);
  assert.deepEqual(missing(repositoryPaths(text)), ["src/nowhere/gone.ts"]);
});

const page = readFileSync(path.join(repoRoot, PAGE), "utf8");
const named = repositoryPaths(page);

test(`every repository path ${PAGE} names exists`, () => {
  assert.ok(named.length >= 60, `the page names ${named.length} repository paths; the reader has stopped finding them`);
  assert.deepEqual(missing(named), [], `${PAGE} names paths that do not exist: fix the page with the change that moved them`);
});

test(`${PAGE} names every top-level folder, every src/ module and every assembly/ file`, () => {
  const has = new Set(named);
  const entries = (dir: string) => readdirSync(path.join(repoRoot, dir), { withFileTypes: true });
  const expected = [
    ...entries(".")
      .filter((e) => e.isDirectory() && !NOT_REPOSITORY.has(e.name) && (!e.name.startsWith(".") || e.name === ".ci"))
      .map((e) => e.name),
    ...entries("src")
      .filter((e) => e.isDirectory() || e.name.endsWith(".ts"))
      .map((e) => `src/${e.name}`),
    ...entries("assembly")
      .filter((e) => e.name.endsWith(".ts"))
      .map((e) => `assembly/${e.name}`),
  ];
  const unnamed = expected.filter((p) => !has.has(p));
  assert.deepEqual(unnamed, [], `add a line for each of these to the map in ${PAGE} saying what it is`);
});
