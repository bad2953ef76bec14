// Loading a module the way Envoy does: compile, detect the ABI version from its marker export,
// refuse imports the host does not provide, then hand it to a Host.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import {
  ABI_MARKERS,
  ABI_VERSIONS,
  ENV_EXTRAS,
  HOST_FUNCTIONS,
  WASI_FUNCTIONS,
  WASI_MODULES,
  hostFunctionsFor,
  type AbiVersion,
} from "../abi.js";
import { UserError } from "../errors.js";
import { ModuleSourceMap, readSourceMap } from "../sourcemap/index.js";
import { capMemory } from "./binary.js";
import { Host } from "./host.js";
import { instrumentFuel, type Instrumented } from "./instrument.js";
import { DEFAULT_MEMORY_LIMIT_PAGES, resolveLimits } from "./limits.js";
import type { HostOptions } from "./host-options.js";
import { parseModule } from "../wasm/binary.js";

/** Reads the ABI version from the marker export, like Envoy (first marker function export wins). */
export function detectAbiVersion(module: WebAssembly.Module): AbiVersion | undefined {
  const markers = new Map<string, AbiVersion>(ABI_VERSIONS.map((v) => [ABI_MARKERS[v], v]));
  for (const e of WebAssembly.Module.exports(module)) {
    if (e.kind === "function" && markers.has(e.name)) return markers.get(e.name);
  }
  return undefined;
}

/** Every import the host will not satisfy for `version`, as one-line reasons. */
export function checkImports(module: WebAssembly.Module, version: AbiVersion): string[] {
  const env = new Set([...hostFunctionsFor(version), ...ENV_EXTRAS].map((f) => f.name));
  const wasi = new Set(WASI_FUNCTIONS.map((f) => f.name));
  const problems: string[] = [];
  for (const imp of WebAssembly.Module.imports(module)) {
    const name = `${imp.module}.${imp.name}`;
    if (imp.kind !== "function") {
      problems.push(`${name} (an imported ${imp.kind}; Envoy provides none)`);
      continue;
    }
    if (imp.module === "env") {
      if (env.has(imp.name)) continue;
      const other = HOST_FUNCTIONS.find((f) => f.name === imp.name);
      if (other) {
        problems.push(
          `${name} (ABI ${version} does not have it; it exists in ${other.since}${other.until ? `..${other.until}` : "+"} only)`,
        );
      } else if (imp.name === "abort") {
        problems.push(
          `env.abort (AssemblyScript's default abort handler; Envoy does not provide it: build with --use abort=<your handler>, as proxy-wasm-as build does)`,
        );
      } else {
        problems.push(`${name} (not a proxy-wasm host function)`);
      }
      continue;
    }
    if ((WASI_MODULES as readonly string[]).includes(imp.module)) {
      if (!wasi.has(imp.name)) problems.push(`${name} (a WASI function this host does not provide)`);
      continue;
    }
    problems.push(`${name} (unknown import module "${imp.module}")`);
  }
  return problems;
}

/** The source map the options name, or the one beside a module given by path. */
function loadSourceMap(options: HostOptions): ModuleSourceMap | null {
  const given = options.sourceMap;
  if (given === false) return null;
  if (given instanceof ModuleSourceMap) return given;
  if (typeof given === "string") {
    try {
      return new ModuleSourceMap(readFileSync(given, "utf8"), given);
    } catch (e) {
      throw new UserError(
        `sourceMap ${given}: cannot read it as a source map (${(e as Error).message}): pass the .wasm.map the build wrote`,
      );
    }
  }
  return typeof options.wasm === "string" ? readSourceMap(options.wasm) : null;
}

async function loadBytes(wasm: Uint8Array | string): Promise<Uint8Array> {
  if (typeof wasm !== "string") return wasm;
  try {
    return new Uint8Array(await readFile(wasm));
  } catch (e) {
    throw new UserError(`cannot read the module ${wasm}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Compiles and checks a module and returns a host for it (nothing runs until startVm/startPlugin). */
export async function createHost(options: HostOptions): Promise<Host> {
  if (!options || options.wasm === undefined)
    throw new UserError("createHost needs { wasm }: module bytes, a .wasm path or a WebAssembly.Module");
  let module: WebAssembly.Module;
  let shift = 0;
  const where = typeof options.wasm === "string" ? options.wasm : "the module";
  const limits = resolveLimits(options);
  let offsets: Instrumented["originalOffset"] | null = null;
  if (options.wasm instanceof WebAssembly.Module) {
    // A compiled module cannot be capped or instrumented: only the defaults are skipped silently.
    if (options.memoryLimitPages !== undefined) {
      throw new UserError("memoryLimitPages needs the module's bytes or path, not a compiled WebAssembly.Module");
    }
    if (options.timeLimitMs) throw new UserError("timeLimitMs needs the module's bytes or path, not a compiled WebAssembly.Module");
    module = options.wasm;
  } else {
    let bytes = await loadBytes(options.wasm);
    checkAllocator(bytes, where);
    const limit = options.memoryLimitPages ?? DEFAULT_MEMORY_LIMIT_PAGES;
    if (!Number.isInteger(limit) || limit < 0 || limit > 65536) {
      throw new UserError(`memoryLimitPages must be an integer from 0 to 65536, not ${limit}`);
    }
    try {
      const capped = capMemory(bytes, limit).bytes;
      // Only the memory section changes (it comes before the code): code moves by the size difference.
      shift = capped.length - bytes.length;
      bytes = capped;
      if (limits.timeLimitMs > 0) {
        const instrumented = instrumentFuel(bytes);
        bytes = instrumented.bytes;
        offsets = instrumented.originalOffset;
      }
    } catch (e) {
      const message = (e as Error).message;
      throw new UserError(
        /initial memory/.test(message) ? `${where}: ${message}` : `${where} is not a valid WebAssembly module: ${message}`,
      );
    }
    try {
      module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new UserError(`${where} is not a valid WebAssembly module: ${(e as Error).message}`);
    }
  }
  const version = detectAbiVersion(module);
  if (!version) {
    throw new UserError(
      `${where}: Missing or unknown Proxy-Wasm ABI version (no proxy_abi_version_0_2_0 or proxy_abi_version_0_2_1 export); Envoy refuses it`,
    );
  }
  if (version === "0.1.0") {
    throw new UserError(`${where} targets ABI 0.1.0, which this host does not run; rebuild it for 0.2.1`);
  }
  const problems = checkImports(module, version);
  if (problems.length > 0) {
    const more = problems.length > 3 ? ` and ${problems.length - 3} more` : "";
    throw new UserError(`${where}: Failed to load Wasm module due to a missing import: ${problems.slice(0, 3).join("; ")}${more}`);
  }
  const host = new Host(module, version, options, loadSourceMap(options));
  // Offsets in the running module back to the built module's (what its source map describes).
  const instrumented = offsets;
  if (instrumented || shift !== 0) host.codeOffsetMap = (o) => (instrumented ? instrumented(o) : o) - shift;
  return host;
}

/**
 * Envoy looks the allocator up with its exact type, (i32) -> i32, and fails the VM with "Bad function
 * signature" otherwise; calling an i64 one from here would only fail later, as a host error.
 */
function checkAllocator(bytes: Uint8Array, where: string): void {
  let exports: ReturnType<typeof parseModule>["exports"];
  try {
    exports = parseModule(bytes).exports;
  } catch {
    return; // not readable: compiling it reports the problem
  }
  for (const name of ["malloc", "proxy_on_memory_allocate"]) {
    const e = exports.find((x) => x.name === name && x.kind === "function");
    if (!e) continue;
    const sig = `(${(e.params ?? []).join(", ")}) -> ${(e.results ?? []).join(", ") || "nil"}`;
    if (sig !== "(i32) -> i32") {
      throw new UserError(
        `${where}: export ${name} has type ${sig}, but the host calls it as (i32) -> i32; Envoy fails the VM with "Bad function signature for: ${name}"`,
      );
    }
    return; // Envoy uses the first one it finds
  }
}
