// The modules the bench measures: our examples (built with buildFilter), the two seed filters built
// with a peer AssemblyScript SDK (@gcoredev/proxy-wasm-sdk-as, compiled by its own asconfig in a child
// process), the hand-written WAT floors, and an empty module for the host's own per-request cost.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { parseAllDocuments } from "yaml";
import { buildFilter } from "../../src/build/build.js";
import { compileWat } from "../../src/host/wat-builder.js";
import { verifyModule } from "../../src/verify.js";

/** Root of the repository (this file runs from dist/bench/lib/). */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const FIXTURES = path.join(REPO_ROOT, "bench", "fixtures");

/** The two seed filters: the ones with a peer build and a WAT floor. */
export const SEEDS = ["x-service-name", "add-header"] as const;
export type SeedName = (typeof SEEDS)[number];

export function isSeed(name: string): name is SeedName {
  return (SEEDS as readonly string[]).includes(name);
}

/** The host calls each seed's code asks for per request (what its WAT floor makes). */
export const SEED_HOST_CALLS: Record<SeedName, Record<string, number>> = {
  "x-service-name": { proxy_get_header_map_value: 2, proxy_log: 1, proxy_send_local_response: 1 },
  "add-header": { proxy_add_header_map_value: 1 },
};

/** The peer SDK, as named on npm. */
export const PEER_SDK = "@gcoredev/proxy-wasm-sdk-as";

/** Our release flags, passed to the peer build for a size-only comparison at equal flags. */
export const OUR_FLAGS_FOR_PEER = ["--optimizeLevel", "3", "--shrinkLevel", "2", "--noAssert"];

export interface ModuleSize {
  raw: number;
  gzip: number;
}

export function moduleSize(wasm: Uint8Array): ModuleSize {
  return { raw: wasm.byteLength, gzip: gzipSync(wasm, { level: 9 }).byteLength };
}

/** Example names: every folder under examples/ with an index.ts, sorted. */
export async function listExamples(root = REPO_ROOT): Promise<string[]> {
  const dir = path.join(root, "examples");
  const names: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    try {
      if ((await stat(path.join(dir, entry.name, "index.ts"))).isFile()) names.push(entry.name);
    } catch {
      // no index.ts: not a filter example
    }
  }
  return names.sort();
}

export interface ExampleConfig {
  /** The plugin configuration Istio would pass (the WasmPlugin's pluginConfig as JSON), if any. */
  pluginConfig?: string;
  /** The root id (Istio sets it to the WasmPlugin's pluginName). */
  rootId?: string;
}

/**
 * The configuration an example is deployed with: from examples/<name>/wasmplugin.yaml when present
 * (pluginConfig as JSON, as Istio hands it to the filter; pluginName as the root id), else none.
 */
export async function exampleConfig(name: string, root = REPO_ROOT): Promise<ExampleConfig> {
  let text: string;
  try {
    text = await readFile(path.join(root, "examples", name, "wasmplugin.yaml"), "utf8");
  } catch {
    return {};
  }
  for (const doc of parseAllDocuments(text)) {
    const v = doc.toJS() as { kind?: string; spec?: { pluginConfig?: unknown; pluginName?: string } } | null;
    if (v?.kind !== "WasmPlugin") continue;
    const out: ExampleConfig = {};
    if (v.spec?.pluginConfig !== undefined) out.pluginConfig = JSON.stringify(v.spec.pluginConfig);
    if (typeof v.spec?.pluginName === "string") out.rootId = v.spec.pluginName;
    return out;
  }
  return {};
}

/** The asc transform that adds allocation and GC counters (see alloc-counters.ts). */
export const COUNTERS_TRANSFORM = fileURLToPath(new URL("./alloc-counters.js", import.meta.url));

/**
 * Builds one example with our toolchain (release) into `outDir`; `counting` adds the allocation
 * counters (a build for the cost measure only).
 */
export async function buildOurs(
  name: string,
  outDir: string,
  counting = false,
  extraArgs: string[] = [],
): Promise<{ wasm: Uint8Array; durationMs: number }> {
  let diagnostics = "";
  try {
    const r = await buildFilter(
      {
        entry: path.join(REPO_ROOT, "examples", name, "index.ts"),
        outFile: path.join(outDir, `ours-${name}${counting ? "-counting" : ""}.wasm`),
        ascArgs: [...(counting ? ["--transform", COUNTERS_TRANSFORM] : []), ...extraArgs],
      },
      (text) => {
        diagnostics += text;
      },
    );
    return { wasm: r.wasm, durationMs: r.durationMs };
  } catch (e) {
    const first = firstError(diagnostics);
    throw new Error(`${(e as Error).message.replace(/ \(see the compiler output above\)$/, "")}${first ? `: ${first}` : ""}`);
  }
}

/** The first compiler error in asc's output, on one line (colour codes removed). */
export function firstError(output: string): string {
  const lines = output.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  const i = lines.findIndex((l) => /\bERROR\b/.test(l));
  if (i < 0) return "";
  const where = lines.slice(i + 1, i + 8).find((l) => /└─ in /.test(l));
  return `${lines[i].trim()}${where ? ` (${where.replace(/.*└─ in /, "").trim()})` : ""}`;
}

/**
 * Builds a seed filter with the peer SDK, the way that SDK's examples are built: `asc
 * assembly/index.ts --config <asconfig extending @assemblyscript/wasi-shim> --target release`, in a
 * child process (the wasi-shim library would otherwise stay loaded in this process's compiler).
 * `ourFlags` adds our release flags on top, for a size comparison at equal optimization; `counting`
 * adds the allocation counters (alloc-counters.ts).
 */
export async function buildPeer(name: SeedName, outDir: string, ourFlags = false, counting = false): Promise<Uint8Array> {
  const dir = path.join(FIXTURES, "peer", name);
  const outFile = path.join(outDir, `peer-${name}${ourFlags ? "-ourflags" : ""}${counting ? "-counting" : ""}.wasm`);
  const asc = path.join(REPO_ROOT, "node_modules", "assemblyscript", "bin", "asc.js");
  const flags = ["--config", "../asconfig.json", "--target", "release", ...(ourFlags ? OUR_FLAGS_FOR_PEER : [])];
  const cached = await peerCache(name, flags, counting);
  if (cached.wasm) return cached.wasm;
  const args = [asc, "assembly/index.ts", ...flags, "--outFile", outFile];
  if (counting) args.push("--transform", COUNTERS_TRANSFORM);
  await mkdir(outDir, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, args, { cwd: dir, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err)
        reject(
          new Error(
            `peer build of ${name} failed (are ${PEER_SDK} and @assemblyscript/wasi-shim installed?): ${firstError(stderr + stdout) || oneLine(stderr || stdout || err.message)}`,
          ),
        );
      else resolve();
    });
  });
  const wasm = new Uint8Array(await readFile(outFile));
  await cached.store(wasm);
  return wasm;
}

/** Where peer builds are kept between runs (they change only with their inputs). */
const PEER_CACHE = path.join(REPO_ROOT, "node_modules", ".cache", "proxy-wasm-as-bench");

/**
 * The cached peer build for these inputs, if any, and a way to store one. The key covers the peer's
 * sources and configuration, the compiler's, the peer SDK's and the shim's versions, the flags, and
 * the counters transform when counting.
 */
async function peerCache(name: SeedName, flags: string[], counting: boolean) {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ name, flags, counting }));
  const inputs = [
    path.join(FIXTURES, "peer", name, "assembly", "index.ts"),
    path.join(FIXTURES, "peer", "asconfig.json"),
    ...["assemblyscript", PEER_SDK, "@assemblyscript/wasi-shim"].map((p) => path.join(REPO_ROOT, "node_modules", p, "package.json")),
    ...(counting ? [COUNTERS_TRANSFORM] : []),
  ];
  for (const f of inputs) hash.update(await readFile(f).catch(() => Buffer.from(`missing ${f}`)));
  const file = path.join(PEER_CACHE, `${name}-${hash.digest("hex").slice(0, 16)}.wasm`);
  let wasm: Uint8Array | null = null;
  try {
    wasm = new Uint8Array(await readFile(file));
  } catch {
    // not built yet
  }
  return {
    wasm,
    store: async (w: Uint8Array) => {
      await mkdir(PEER_CACHE, { recursive: true });
      await writeFile(file, w);
    },
  };
}

/** Compiles bench/fixtures/<file>.wat with wabt; the result must pass verifyModule. */
export async function compileFixture(file: string): Promise<Uint8Array> {
  const text = await readFile(path.join(FIXTURES, file), "utf8");
  const wasm = await compileWat(text);
  const v = verifyModule(wasm);
  if (!v.ok) throw new Error(`${file} fails verification: ${v.problems[0].message}`);
  return wasm;
}

export function floorFile(name: SeedName): string {
  return `floor-${name}.wat`;
}

/** An ABI 0.2.1 module with no callbacks: a request through it costs only the host's own work. */
export function emptyModule(): Promise<Uint8Array> {
  return compileFixture("empty.wat");
}

function oneLine(s: string): string {
  const lines = s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.find((l) => /error/i.test(l)) ?? lines[0] ?? "").slice(0, 300);
}
