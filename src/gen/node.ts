// The Node side of the ABI: the build's callback list (src/build/callbacks.generated.ts), the
// verifier's lookup tables (src/verify/abi-tables.generated.ts), the host's import skeleton and
// phase rules (src/host/imports.generated.ts) and the test mock host's import list
// (tests/assembly/mock-host.generated.js).
import type { AbiFunction } from "../abi.js";
import { GENERATED_NOTE, LATEST, availableIn, lit, type AbiTable } from "./table.js";

const header = (...lines: string[]): string[] => [`// ${GENERATED_NOTE}`, ...lines.map((l) => `// ${l}`)];
const file = (lines: string[]): string => `${lines.join("\n")}\n`;

export function buildCallbacks(table: AbiTable): string {
  const out = [
    ...header(
      "The callback exports the build may drop (src/build/prune-exports.ts): each with the SDK context",
      "methods it dispatches to. Exports not listed here are always kept.",
    ),
    "",
    "/** Callback export -> context methods it dispatches to. */",
    "export const CALLBACK_METHODS: Readonly<Record<string, readonly string[]>> = {",
  ];
  for (const fn of table.moduleExports) {
    if (fn.sdkMethods) out.push(`  ${fn.name}: ${lit(fn.sdkMethods)},`);
  }
  out.push("};");
  return file(out);
}

function row(fn: AbiFunction, extra: Record<string, unknown>): string {
  const fields: string[] = [`module: ${lit(fn.module)}`, `name: ${lit(fn.name)}`];
  fields.push(`params: ${lit(fn.params.map((p) => [p.name, p.type]))}`, `results: ${lit(fn.results)}`);
  fields.push(`since: ${lit(fn.since)}`);
  if (fn.until) fields.push(`until: ${lit(fn.until)}`);
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== false) fields.push(`${k}: ${lit(v)}`);
  return `{ ${fields.join(", ")} }`;
}

export function verifyTables(table: AbiTable): string {
  const out = [
    ...header(
      "The verifier's lookup tables (src/verify/): every import a proxy-wasm host provides and every export",
      "it looks up, by name, with the Wasm signature and the ABI versions that have it.",
    ),
    'import type { AbiVersion, WasmType } from "../abi/types.js";',
    "",
    "export interface VerifyRow {",
    "  readonly module: string;",
    "  readonly name: string;",
    "  /** [name, Wasm type] of each parameter. */",
    "  readonly params: readonly (readonly [string, WasmType])[];",
    "  readonly results: readonly WasmType[];",
    "  readonly since: AbiVersion;",
    "  readonly until?: AbiVersion;",
    "  /** Removed functions: what to use instead. */",
    "  readonly replacement?: string;",
    "  /** Exports: the host calls it as a callback (not an entry point or allocator). */",
    "  readonly callback?: boolean;",
    "  /** Exports Envoy looks up although the spec does not define them. */",
    "  readonly envoyOnly?: boolean;",
    "}",
    "",
    "const byName = (rows: VerifyRow[]): ReadonlyMap<string, VerifyRow> => new Map(rows.map((r) => [r.name, r]));",
    "",
    "/** Proxy-wasm host functions in module env, every version (0.1.0-only ones have until). */",
    "export const ENV_IMPORTS = byName([",
    ...table.hostFunctions.map((f) => `  ${row(f, { replacement: f.replacement })},`),
    "]);",
    "",
    "/** Non-proxy functions Envoy's host also registers in module env. */",
    "export const ENV_EXTRA_IMPORTS = byName([",
    ...table.envExtras.map((f) => `  ${row(f, {})},`),
    "]);",
    "",
    "/** WASI functions Envoy's host provides (the same under each WASI module name). */",
    "export const WASI_IMPORTS = byName([",
    ...table.wasiFunctions.map((f) => `  ${row(f, {})},`),
    "]);",
    "",
    "/** Module exports the host looks up, each with its forms (0.1.0 had other header callbacks). */",
    "export const EXPORTS: ReadonlyMap<string, readonly VerifyRow[]> = new Map(",
    "  Object.entries({",
  ];
  const forms = new Map<string, AbiFunction[]>();
  for (const f of [...table.moduleExports, ...table.legacyExports]) forms.set(f.name, [...(forms.get(f.name) ?? []), f]);
  for (const [name, fns] of forms) {
    const callback = (f: AbiFunction) => f.area !== "integration" && f.area !== "memory";
    out.push(`    ${name}: [${fns.map((f) => row(f, { callback: callback(f), envoyOnly: f.envoyOnly })).join(", ")}],`);
  }
  out.push("  }),", ");");
  return file(out);
}

/** JS parameter type of a Wasm value (i64 arrives as a BigInt). */
const jsType = (t: string): string => (t === "i64" ? "bigint" : "number");
/** A parameter name usable in TypeScript (WASI's poll_oneoff has one named "in"). */
const safeName = (name: string): string => (["in", "function", "default"].includes(name) ? `${name}_` : name);

export function hostImports(table: AbiTable): string {
  // What the host registers: env functions of the versions it runs (0.2.x), Envoy's env extras, WASI.
  const env = table.hostFunctions.filter((f) => availableIn(f, "0.2.0") || availableIn(f, LATEST));
  const all = [...env, ...table.envExtras, ...table.wasiFunctions];
  const signature = (f: AbiFunction) =>
    `  ${f.name}(${["vm: HostCallState", ...f.params.map((p) => `${safeName(p.name)}: ${jsType(p.type)}`)].join(", ")}): ${f.results.length ? "number" : "void"};`;
  const out = [
    ...header(
      "The host's import skeleton (src/host/): every function the host registers, with its Wasm",
      "signature, ABI area and the phases a module may call it in; and the interfaces the host calls",
      "(src/host/calls/index.ts) must fill, so tsc fails when an ABI function has no implementation.",
    ),
    'import type { AbiVersion, Phase, WasmType } from "../abi/types.js";',
    'import type { HostCallState } from "./calls/state.js";',
    "",
    "export interface HostImport {",
    '  readonly module: "env" | "wasi_snapshot_preview1";',
    "  readonly name: HostImportName;",
    "  readonly params: readonly WasmType[];",
    "  readonly results: readonly WasmType[];",
    "  /** ABI area: the host groups implementations by it (src/host/calls/<area>.ts). */",
    "  readonly area: string;",
    "  readonly since: AbiVersion;",
    '  /** Phases a module may call it in ("start": while _initialize / main / _start run). */',
    "  readonly phases: readonly Phase[];",
    "  /** WASI functions registered only so modules load: they answer ENOSYS. */",
    "  readonly stub?: boolean;",
    "}",
    "",
    "/** Every import the host registers, in this order (WASI ones under each WASI module name). */",
    "export const HOST_IMPORTS: readonly HostImport[] = [",
  ];
  for (const f of all) {
    const fields = [
      `module: ${lit(f.module)}`,
      `name: ${lit(f.name)}`,
      `params: ${lit(f.params.map((p) => p.type))}`,
      `results: ${lit(f.results)}`,
      `area: ${lit(f.area)}`,
      `since: ${lit(f.since)}`,
      `phases: ${lit(f.phases ?? ["callback"])}`,
    ];
    if (f.stub) fields.push("stub: true");
    out.push(`  { ${fields.join(", ")} },`);
  }
  out.push(
    "];",
    "",
    "export type HostImportName =",
    ...all.map((f, i) => `  | ${lit(f.name)}${i === all.length - 1 ? ";" : ""}`),
    "",
    "/** Imports a module may call while _initialize / main / _start run (Envoy's startVm restriction). */",
    "export const ALLOWED_DURING_START: ReadonlySet<string> = new Set([",
    ...all.filter((f) => f.phases?.includes("start")).map((f) => `  ${lit(f.name)},`),
    "]);",
    "",
    "/** The proxy-wasm host functions (module env) of ABI 0.2.x, each called with the VM's state first. */",
    "export interface EnvCalls {",
    ...env.map(signature),
    "}",
    "",
    "/** Envoy's emscripten/pthread shims in module env. */",
    "export interface EnvExtraCalls {",
    ...table.envExtras.map(signature),
    "}",
    "",
    "/** The WASI functions the host implements (the stubs answer ENOSYS without an implementation). */",
    "export interface WasiCalls {",
    ...table.wasiFunctions.filter((f) => !f.stub).map(signature),
    "}",
  );
  return file(out);
}

export function mockHostImports(table: AbiTable): string {
  const fns = table.hostFunctions.filter((f) => availableIn(f, LATEST));
  return file([
    ...header(
      "Every env import of the SDK (ABI " + LATEST + ") with its parameter count, for the as-pect mock host",
      "(tests/assembly/mock-host.js): it answers the ones it implements and fails the test on the others.",
    ),
    "",
    "/** [name, number of parameters] of every host function the SDK declares. */",
    "export const ENV_IMPORTS = [",
    ...fns.map((f) => `  [${lit(f.name)}, ${f.params.length}],`),
    "];",
    "",
    "/** An env import object whose every function throws, naming the function the test reached. */",
    "export function unimplementedEnv() {",
    "  const env = {};",
    "  for (const [name] of ENV_IMPORTS) {",
    "    env[name] = () => {",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: this line is JavaScript the generator writes.
    "      throw new Error(`mock host: ${name} is not implemented; add it to tests/assembly/mock-host.js`);",
    "    };",
    "  }",
    "  return env;",
    "}",
  ]);
}
