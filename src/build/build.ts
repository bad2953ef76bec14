// `proxy-wasm-as build`: compiles a filter with asc (programmatically) and the flags a proxy-wasm module
// needs, then verifies the result against the ABI table.
//
// - `import ... from "proxy-wasm-as"` resolves to this package's SDK from any folder: a node_modules
//   copy is used when the project has one, otherwise a virtual package path served from here.
// - The SDK's exports (ABI marker, allocator, proxy_on_* shims) are added as a second entry file, so the
//   filter's source only holds the filter.
// - The project's asconfig.json (beside the entry or above it, up to package.json) is honoured: the
//   target's options, outFile and textFile, and extra entries (see asconfig.ts). The SDK's preset it
//   extends is not read: its flags are the ones below, and a test keeps the two in step.
// - Every build writes a source map beside the module (`<module>.map`), which the host and `run` use
//   to report traps at the TypeScript line. Debug builds name it in a sourceMappingURL section for
//   debuggers; release modules are left exactly as without a map.

import { existsSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UserError } from "../errors.js";
import { verifyModule, type VerifyResult } from "../verify.js";
import { withoutSourceMappingUrl } from "../sourcemap/index.js";
import { findAsconfig, readProjectConfig, toArgs, type AscOptions, type ProjectConfig } from "./asconfig.js";
import { embedConfigSchema } from "./config-schema.js";
import PruneUnusedCallbacks from "./prune-exports.js";
import InlineRuntimeAccessors from "./runtime-inlining.js";
import SharedFieldsCheck from "./shared-fields.js";
import SmallBlocks from "./small-blocks.js";
import { dropStaticBlockHeaders, recordStaticObjects } from "./static-headers.js";

/** Root of this package (holds index.ts, assembly/, asconfig.json). */
export const SDK_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Internal path of the SDK's abort handler inside asc's program. */
export const ABORT_HANDLER = "~lib/proxy-wasm-as/assembly/abort/abortHandler";

/** asc options every filter needs, release or debug. */
export const COMMON_OPTIONS: Readonly<AscOptions> = { runtime: "minimal", exportStart: "_initialize", use: [`abort=${ABORT_HANDLER}`] };
export const COMMON_FLAGS: readonly string[] = toArgs(COMMON_OPTIONS);

/**
 * Release optimization: speed with size (-O3 plus shrink level 2), no assertions. Not --converge: its
 * repeated optimizer runs cost about a third of a build for 0 to 3 bytes.
 */
export const RELEASE_OPTIONS: Readonly<AscOptions> = { optimizeLevel: 3, shrinkLevel: 2, noAssert: true };
export const RELEASE_FLAGS: readonly string[] = toArgs(RELEASE_OPTIONS);

/** Debug: no optimization, names and a source map, assertions kept. */
export const DEBUG_OPTIONS: Readonly<AscOptions> = { debug: true, sourceMap: true };
export const DEBUG_FLAGS: readonly string[] = toArgs(DEBUG_OPTIONS);

const VIRTUAL_PACKAGES = path.resolve("/__proxy_wasm_as_packages__");
const EXPORTS_ENTRY = "__proxy_wasm_as_exports__.ts";
const EXPORTS_SOURCE = 'export * from "proxy-wasm-as/assembly/exports";\n';
const NO_CONFIG = "__proxy_wasm_as_no_asconfig__.json";

export interface BuildOptions {
  /** The filter's entry file (.ts). */
  entry: string;
  /** Output .wasm; default `<entry dir>/build/<name>.wasm` (name: the folder for index.ts). */
  outFile?: string;
  /** Unoptimized build with names, assertions and a source map. */
  debug?: boolean;
  /** Also write the text format next to the .wasm. */
  textFile?: boolean;
  /** Skip the verifier (not recommended). */
  noVerify?: boolean;
  /** Extra asc arguments, appended last. */
  ascArgs?: string[];
  /** The asconfig.json to honour; default: the one beside or above the entry; false: none. */
  config?: string | false;
  /** The asconfig target; default "debug" with `debug`, else "release". */
  target?: string;
}

export interface BuildResult {
  outFile: string;
  wasm: Uint8Array<ArrayBuffer>;
  /** Callback exports removed because the filter does not use them. */
  removedExports: string[];
  verify: VerifyResult | null;
  durationMs: number;
  /** Compiler warnings, if any. */
  warnings: string;
  /** The source map written beside the module. */
  sourceMapFile: string;
  /** The asconfig.json the build honoured, if any. */
  config: string | null;
}

export function defaultOutFile(entry: string, debug = false): string {
  const abs = path.resolve(entry);
  const dir = path.dirname(abs);
  // A project keeps its filter in assembly/: the build folder and the name come from the project.
  const projectDir = path.basename(dir) === "assembly" ? path.dirname(dir) : dir;
  const base = path.basename(abs, ".ts");
  const name = base === "index" ? path.basename(projectDir) : base;
  return path.join(projectDir, "build", debug ? `${name}.debug.wasm` : `${name}.wasm`);
}

/**
 * The compiler names a filter's files relative to the entry's folder (`in filter.ts(13,3)`); from
 * the working directory, as the user typed the entry (`in assembly/filter.ts(13,3)`), a location can
 * be opened or searched. The SDK's and the standard library's paths (~lib/...) stay as they are.
 */
function fromWorkingDir(diagnostics: string, baseDir: string): string {
  return diagnostics.replace(/(\bin )([^\s(~][^\s(]*\.ts)(\(\d+,\d+\))/g, (_m, lead: string, file: string, at: string) => {
    return `${lead}${path.relative(process.cwd(), path.resolve(baseDir, file)) || file}${at}`;
  });
}

/**
 * The output the project's asconfig.json names, for the project's main entry: its
 * `assembly/index.ts` when it has one (as `init` makes it), else any entry. Another entry of the
 * same project (`build assembly/other.ts`) gets `build/other.wasm` instead of overwriting the main
 * module.
 */
function projectOutFile(entry: string, project: ProjectConfig | null): string | undefined {
  if (!project?.outFile) return undefined;
  const main = path.join(path.dirname(project.file), "assembly", "index.ts");
  return entry === main || !existsSync(main) ? project.outFile : undefined;
}

let ascModule: typeof import("assemblyscript/asc") | null = null;
async function loadAsc(): Promise<typeof import("assemblyscript/asc")> {
  if (ascModule) return ascModule;
  try {
    ascModule = await import("assemblyscript/asc");
  } catch {
    throw new UserError("cannot load the AssemblyScript compiler: run `npm install --save-dev assemblyscript@0.28` in your project");
  }
  return ascModule;
}

/** Compiles a filter; throws UserError with a one-line summary (diagnostics go to `onDiagnostics`). */
export async function buildFilter(
  options: BuildOptions,
  onDiagnostics: (text: string) => void = (t) => process.stderr.write(t),
): Promise<BuildResult> {
  const started = performance.now();
  const entry = path.resolve(options.entry);
  if (!entry.endsWith(".ts")) throw new UserError(`${options.entry}: the entry must be an AssemblyScript .ts file`);
  try {
    await readFile(entry);
  } catch {
    throw new UserError(`${options.entry}: no such file: pass the path of your filter's .ts entry`);
  }
  const project = projectConfig(entry, options);
  const outFile = path.resolve(options.outFile ?? projectOutFile(entry, project) ?? defaultOutFile(entry, options.debug));
  const mapName = `${path.basename(outFile)}.map`;
  await checkOutFile(outFile, options.outFile ?? outFile);
  const baseDir = path.dirname(entry);
  const asc = await loadAsc();
  // The mode's defaults, then the project's options over them (a project may turn an optimization
  // off), then what every filter needs.
  const mode = options.debug ? DEBUG_OPTIONS : RELEASE_OPTIONS;
  const merged: AscOptions = { ...mode, ...(project?.options ?? {}), runtime: COMMON_OPTIONS.runtime, exportStart: COMMON_OPTIONS.exportStart };
  const use = [...((project?.options.use as string[] | undefined) ?? []), ...(COMMON_OPTIONS.use as string[])];
  merged.use = [...new Set(use)];
  // The project's transforms, without the SDK's own (applied below: the free lists and the shared-field
  // check always, the export pruning and the accessor inlining for release builds).
  merged.transform = ((project?.options.transform as string[] | undefined) ?? []).filter((t) => !/(prune-exports|small-blocks|shared-fields|runtime-inlining)\.js$/.test(t));
  // Debug modules name their map by an absolute file: URL: a module compiled from bytes has a wasm://
  // URL of its own, against which a relative one would not resolve in DevTools.
  merged.sourceMap = options.debug ? pathToFileURL(`${outFile}.map`).href : mapName;
  const textFile = options.textFile ? outFile.replace(/\.wasm$/, ".wat") : project?.textFile;

  const outputs = new Map<string, Uint8Array | string>();
  const argv = [
    path.basename(entry),
    EXPORTS_ENTRY,
    ...(project?.entries ?? []).map((e) => path.relative(baseDir, e)),
    "--baseDir",
    baseDir,
    "--config",
    NO_CONFIG,
    "--path",
    VIRTUAL_PACKAGES,
    "--outFile",
    "out.wasm",
    ...(textFile ? ["--textFile", "out.wat"] : []),
    ...toArgs(merged),
    // Colours only for a terminal (asc turns them on under CI=true, too).
    ...(process.stderr.isTTY ? [] : ["--noColors"]),
    ...(options.ascArgs ?? []),
  ];
  let diagnostics = "";
  const sink = {
    write(chunk: string | Uint8Array) {
      diagnostics += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    },
  };
  PruneUnusedCallbacks.lastRemoved = [];
  const statics = recordStaticObjects();
  const result = await asc.main(argv, {
    stdout: sink as never,
    stderr: sink as never,
    readFile: async (filename: string, dir: string) => {
      const resolved = path.resolve(dir, filename);
      if (resolved === path.resolve(baseDir, EXPORTS_ENTRY)) return EXPORTS_SOURCE;
      if (resolved === path.resolve(baseDir, NO_CONFIG)) return null;
      let real = resolved;
      const virtualPrefix = path.join(VIRTUAL_PACKAGES, "proxy-wasm-as") + path.sep;
      if (resolved.startsWith(virtualPrefix)) real = path.join(SDK_ROOT, resolved.slice(virtualPrefix.length));
      try {
        return await readFile(real, "utf8");
      } catch {
        return null;
      }
    },
    writeFile: (filename: string, contents: Uint8Array | string) => {
      outputs.set(path.basename(filename), contents);
    },
    listFiles: () => [],
    transforms: [
      SmallBlocks as never,
      SharedFieldsCheck as never,
      statics.transform as never,
      ...(options.debug ? [] : [PruneUnusedCallbacks as never, InlineRuntimeAccessors as never]),
    ],
  });
  diagnostics = fromWorkingDir(diagnostics, baseDir);
  if (result.error) {
    if (diagnostics) onDiagnostics(diagnostics);
    // eslint-disable-next-line no-control-regex
    const errors = (diagnostics.replace(/\x1b\[[0-9;]*m/g, "").match(/^ERROR\b/gm) ?? []).length;
    const what = errors > 0 ? `${errors} error${errors === 1 ? "" : "s"}` : oneLine(result.error.message);
    throw new UserError(`build of ${path.relative(process.cwd(), entry) || entry} failed: ${what} (see the compiler output above)`);
  }
  const wasmOut = outputs.get("out.wasm");
  if (!(wasmOut instanceof Uint8Array)) throw new UserError("the compiler produced no .wasm output");
  const withUrl: Uint8Array<ArrayBuffer> = new Uint8Array(wasmOut);
  const compiled = options.debug ? withUrl : dropStaticBlockHeaders(withoutSourceMappingUrl(withUrl), statics.headers() ?? new Set());
  // A config.schema.json beside the entry goes into a custom section (docs/config-schema.md).
  const wasm: Uint8Array<ArrayBuffer> = (await embedConfigSchema(entry, compiled)).wasm;

  let verify: VerifyResult | null = null;
  if (!options.noVerify) {
    verify = verifyModule(wasm);
    if (!verify.ok) {
      onDiagnostics(verify.problems.map((p) => `  ${p.message}\n`).join(""));
      throw new UserError(`${path.basename(outFile)} failed verification: ${verify.problems[0].message}`);
    }
  }

  await mkdir(path.dirname(outFile), { recursive: true });
  await writeFile(outFile, wasm);
  const wat = outputs.get("out.wat");
  if (wat !== undefined && textFile) {
    await mkdir(path.dirname(textFile), { recursive: true });
    await writeFile(textFile, wat);
  }
  const sourceMapFile = `${outFile}.map`;
  const map = outputs.get(mapName);
  if (map === undefined) throw new UserError("the compiler produced no source map");
  await writeFile(sourceMapFile, relocateSources(String(map), baseDir, path.dirname(outFile)));

  return {
    outFile,
    wasm,
    removedExports: [...PruneUnusedCallbacks.lastRemoved],
    verify,
    durationMs: performance.now() - started,
    warnings: diagnostics,
    sourceMapFile,
    config: project?.file ?? null,
  };
}

function projectConfig(entry: string, options: BuildOptions): ProjectConfig | null {
  const preset = path.join(SDK_ROOT, "asconfig.json");
  const file = options.config === false ? null : options.config ? path.resolve(options.config) : findAsconfig(entry);
  const target = options.target ?? (options.debug ? "debug" : "release");
  if (!file) {
    if (options.target) throw new UserError(`--target ${options.target}: no asconfig.json beside or above ${entry}: add one or drop --target`);
    return null;
  }
  // The SDK's preset itself (building the examples in this package) adds nothing to the flags above.
  if (path.resolve(file) === path.resolve(preset)) return null;
  return readProjectConfig(file, target, preset, options.target !== undefined);
}

/**
 * asc names the author's sources relative to the entry's folder under a sourceRoot of its own; the
 * written map names them relative to the map, so debuggers and the host find them. ~lib sources keep
 * their names (their text is in sourcesContent).
 */
function relocateSources(json: string, baseDir: string, mapDir: string): string {
  const map = JSON.parse(json) as { sources: string[]; sourceRoot?: string };
  map.sources = map.sources.map((s) =>
    s.startsWith("~lib/") ? s : path.relative(mapDir, path.resolve(baseDir, s)).split(path.sep).join("/"),
  );
  delete map.sourceRoot;
  return JSON.stringify(map);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** Refuses, before compiling, an output path that is a folder (writing there fails with EISDIR after the whole build). */
async function checkOutFile(outFile: string, given: string): Promise<void> {
  const st = await stat(outFile).catch(() => null);
  if (st?.isDirectory()) {
    throw new UserError(`-o ${given} is a folder: give the path of the .wasm file to write, e.g. -o ${path.join(given, "filter.wasm")}`);
  }
}
