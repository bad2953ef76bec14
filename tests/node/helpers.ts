// Shared test helpers: the repository root and built filters.
//
// node --test runs every test file in its own process, and many files build the same examples. Builds
// are cached on disk under .tmp/test-builds, keyed by a hash of everything that decides the output
// (the SDK's sources, the entry's folder, the compiler version and the build mode), so each filter
// is compiled once per change, whichever process gets there first.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildFilter, type BuildResult } from "../../src/build/build.js";
import { createHost, type Host, type HostOptions } from "../../src/host/index.js";
import { verifyModule } from "../../src/verify.js";

/** Root of the repository (tests run from dist/tests/node/). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

const cacheDir = path.join(repoRoot, ".tmp", "test-builds");
const builds = new Map<string, Promise<BuildResult>>();

function hashTree(hash: ReturnType<typeof createHash>, dir: string, filter: (name: string) => boolean): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "build" && name !== "node_modules") hashTree(hash, p, filter);
    } else if (filter(name)) {
      hash.update(p).update(readFileSync(p));
    }
  }
}

function buildKey(entryAbs: string, debug: boolean): string {
  const h = createHash("sha256");
  const ts = (n: string) => n.endsWith(".ts");
  hashTree(h, path.join(repoRoot, "assembly"), ts);
  h.update(readFileSync(path.join(repoRoot, "index.ts")));
  // The entry's folder: its sources and the configuration schema build embeds.
  hashTree(h, path.dirname(entryAbs), (n) => ts(n) || n === "config.schema.json");
  h.update(entryAbs);
  for (const f of [
    "dist/src/build/build.js",
    "dist/src/build/asconfig.js",
    "dist/src/build/prune-exports.js",
    "dist/src/build/callbacks.generated.js",
    "dist/src/build/small-blocks.js",
    "dist/src/build/runtime-inlining.js",
    "dist/src/build/binaryen-module.js",
    "dist/src/build/static-headers.js",
    "dist/src/build/config-schema.js",
    "node_modules/assemblyscript/package.json",
  ]) {
    h.update(readFileSync(path.join(repoRoot, f)));
  }
  h.update(debug ? "debug" : "release");
  return h.digest("hex").slice(0, 32);
}

/**
 * Takes the build lock `lock` (a folder: mkdir is atomic) and returns true, or waits while another
 * process holds it and returns false once `cached` exists or the lock is gone (the caller looks
 * again). A lock older than five minutes belongs to a process that died and is taken over.
 */
async function takeLock(lock: string, cached: string): Promise<boolean> {
  try {
    mkdirSync(lock);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  while (existsSync(lock) && !existsSync(cached)) {
    try {
      if (Date.now() - statSync(lock).mtimeMs > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
    } catch {
      // the holder removed it meanwhile
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

function fromCache(cached: string): BuildResult {
  const wasm: Uint8Array<ArrayBuffer> = new Uint8Array(readFileSync(cached));
  const removed = existsSync(`${cached}.removed`) ? JSON.parse(readFileSync(`${cached}.removed`, "utf8")) : [];
  return {
    outFile: cached,
    wasm,
    removedExports: removed,
    verify: verifyModule(wasm),
    durationMs: 0,
    warnings: "",
    sourceMapFile: `${cached}.map`,
    config: null,
  };
}

/** Builds `entry` (relative to the repo root) once per change of its inputs; results are verified. */
export function built(entry: string, options: { debug?: boolean } = {}): Promise<BuildResult> {
  const debug = !!options.debug;
  const key = `${entry}:${debug ? "debug" : "release"}`;
  let p = builds.get(key);
  if (!p) {
    p = (async () => {
      const entryAbs = path.join(repoRoot, entry);
      const cached = path.join(cacheDir, `${buildKey(entryAbs, debug)}.wasm`);
      const lock = `${cached}.lock`;
      mkdirSync(cacheDir, { recursive: true });
      // One process builds a given module at a time: the others wait for it rather than compile the
      // same module on the same cores (node --test runs the files in parallel processes).
      for (;;) {
        if (existsSync(cached)) return fromCache(cached);
        if (await takeLock(lock, cached)) break;
      }
      try {
        if (existsSync(cached)) return fromCache(cached);
        // Built under its final name in a folder of this process's own, at the cache's depth (a debug
        // module names its map; the map names sources relative to itself), then moved in: the map
        // first, so whoever sees the module sees its map (atomic renames).
        const tmpDir = `${cacheDir}-${process.pid}`;
        mkdirSync(tmpDir, { recursive: true });
        const r = await buildFilter({ entry: entryAbs, outFile: path.join(tmpDir, path.basename(cached)), debug }, () => {});
        writeFileSync(`${cached}.removed`, JSON.stringify(r.removedExports));
        renameSync(r.sourceMapFile, `${cached}.map`);
        renameSync(r.outFile, cached);
        return { ...r, outFile: cached, sourceMapFile: `${cached}.map` };
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
    })();
    builds.set(key, p);
  }
  return p;
}

/** Builds a test filter (cached like built()), starts it in a new host and checks that it started. */
export async function startFilter(entry: string, options: Omit<HostOptions, "wasm"> = {}): Promise<Host> {
  const { wasm } = await built(entry);
  const host = await createHost({ ...options, wasm });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  return host;
}

/** Hex of text or bytes, for comparing exact bytes in assertion messages. */
export const hex = (s: string | Uint8Array): string => Buffer.from(s).toString("hex");
