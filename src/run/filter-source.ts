// Where the proxy's filter comes from: a .wasm file, an AssemblyScript entry built first, or bytes;
// and the file watch that rebuilds or reloads it (--watch).
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { LogLevel } from "../abi.js";
import { buildFilter } from "../build/build.js";
import { UserError } from "../errors.js";
import { type ModuleSourceMap, readSourceMap } from "../sourcemap/index.js";
import type { Logger } from "./log.js";

/** A module and its source map (traps reported at the filter's TypeScript line). */
export interface FilterModule {
  wasm: Uint8Array;
  sourceMap: ModuleSourceMap | null;
}

export interface LoadedFilter extends FilterModule {
  /** Files whose change means a rebuild: the .wasm itself, or the entry's folder. */
  watchDir: string | null;
  watchFile: string | null;
  ignoreDir: string | null;
}

/** The module bytes of the filter, building a .ts entry first (its compiler output goes to `log`). */
export async function loadFilter(
  filter: string | Uint8Array,
  debug: boolean,
  logger: Logger,
  log: (s: string) => void,
): Promise<LoadedFilter> {
  if (filter instanceof Uint8Array) return { wasm: filter, sourceMap: null, watchDir: null, watchFile: null, ignoreDir: null };
  const file = path.resolve(filter);
  if (filter.endsWith(".ts")) {
    const print = (text: string) => log(text.endsWith("\n") ? text : text + "\n");
    const r = await buildFilter({ entry: file, debug }, print);
    // The compiler's warnings, as `build` prints them (e.g. fields of a shared HTTP context).
    if (r.warnings) print(r.warnings);
    const rel = path.relative(process.cwd(), r.outFile) || r.outFile;
    logger.proxy(
      LogLevel.Info,
      `built ${rel} (${r.wasm.byteLength} bytes${debug ? ", debug" : ""}) in ${(r.durationMs / 1000).toFixed(1)}s`,
    );
    return {
      wasm: r.wasm,
      sourceMap: readSourceMap(r.outFile),
      watchDir: path.dirname(file),
      watchFile: null,
      // The module just written, wherever the project's asconfig put it: not a change to rebuild for.
      ignoreDir: path.dirname(r.outFile),
    };
  }
  if (!filter.endsWith(".wasm")) {
    throw new UserError(`${filter}: give a filter module (.wasm) or its AssemblyScript entry (.ts)`);
  }
  let wasm: Uint8Array;
  try {
    wasm = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot read ${filter}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (e as Error).message}`,
    );
  }
  return { wasm, sourceMap: readSourceMap(file), watchDir: path.dirname(file), watchFile: path.basename(file), ignoreDir: null };
}

/** The plugin name the proxy gives the filter: the file's name, or its folder's for an index.ts. */
export function filterNameOf(filter: string | Uint8Array): string {
  if (typeof filter !== "string") return "filter";
  const base = path.basename(filter, path.extname(filter));
  return base === "index" ? path.basename(path.dirname(path.resolve(filter))) : base;
}

/** A running watch; close() stops it and any change waiting in the debounce. */
export interface FilterWatch {
  close(): void;
}

/**
 * Calls `onChange` (debounced by 100 ms) when the filter's sources change: the .wasm file itself,
 * or any .ts under the entry's folder except the build output and node_modules.
 */
export function watchFilter(loaded: LoadedFilter, logger: Logger, onChange: (what: string) => void): FilterWatch | null {
  const dir = loaded.watchDir;
  if (!dir) return null;
  let debounce: NodeJS.Timeout | null = null;
  let closed = false;
  const changed = (filename: string | null) => {
    if (closed) return;
    if (filename) {
      const abs = path.resolve(dir, filename);
      if (loaded.watchFile && path.basename(abs) !== loaded.watchFile) return;
      if (!loaded.watchFile && !abs.endsWith(".ts")) return;
      if (loaded.ignoreDir && (abs + path.sep).startsWith(loaded.ignoreDir + path.sep)) return;
      if (abs.split(path.sep).includes("node_modules")) return;
    }
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      logger.proxy(LogLevel.Info, `${filename ?? "a file"} changed; ${loaded.watchFile ? "reloading" : "rebuilding"}`);
      onChange(filename ?? "a file");
    }, 100);
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { recursive: !loaded.watchFile }, (_event, filename) => changed(filename ? String(filename) : null));
  } catch {
    watcher = watch(dir, (_event, filename) => changed(filename ? String(filename) : null));
  }
  watcher.on("error", (e) => logger.proxy(LogLevel.Warn, `watching ${dir}: ${e.message}`));
  return {
    close() {
      closed = true;
      watcher.close();
      if (debounce) clearTimeout(debounce);
    },
  };
}
