// Shared test helpers: the repository root and a cache of built filters, so each example is compiled
// once per test process.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildFilter, type BuildResult } from "../../src/build/build.js";

/** Root of the repository (tests run from dist/tests/node/). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

const builds = new Map<string, Promise<BuildResult>>();

/** Builds `entry` (relative to the repo root) into a temporary output once per process. */
export function built(entry: string, options: { debug?: boolean } = {}): Promise<BuildResult> {
  const key = `${entry}:${options.debug ? "debug" : "release"}`;
  let p = builds.get(key);
  if (!p) {
    const outFile = path.join(repoRoot, ".tmp", "test-builds", entry.replace(/[\\/]/g, "_").replace(/\.ts$/, options.debug ? ".debug.wasm" : ".wasm"));
    p = buildFilter({ entry: path.join(repoRoot, entry), outFile, debug: options.debug }, () => {});
    builds.set(key, p);
  }
  return p;
}
