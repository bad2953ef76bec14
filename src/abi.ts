// The proxy-wasm ABI as data (`proxy-wasm-as/abi`): the table in src/abi/ (functions.ts: every
// import and export with its signature, versions and phases; enums.ts: every enumeration;
// limits.ts), and lookups over it. The table is the single source: `npm run gen` writes every other
// file that lists ABI names from it (src/gen/).
import { HOST_FUNCTIONS, LEGACY_0_1_0_EXPORTS, MODULE_EXPORTS, WASI_FUNCTIONS, ENV_EXTRAS } from "./abi/functions.js";
import { ABI_VERSIONS, type AbiFunction, type AbiVersion, type WasmType } from "./abi/types.js";

export * from "./abi/types.js";
export * from "./abi/functions.js";
export * from "./abi/enums.js";
export * from "./abi/limits.js";

export function versionIndex(v: AbiVersion): number {
  return ABI_VERSIONS.indexOf(v);
}

/** Whether `fn` exists in ABI `version`. */
export function availableIn(fn: { since: AbiVersion; until?: AbiVersion }, version: AbiVersion): boolean {
  const i = versionIndex(version);
  return versionIndex(fn.since) <= i && (fn.until === undefined || i <= versionIndex(fn.until));
}

/** Host functions a module of `version` may import from `env`. */
export function hostFunctionsFor(version: AbiVersion): AbiFunction[] {
  return HOST_FUNCTIONS.filter((f) => availableIn(f, version));
}

export function findHostFunction(name: string): AbiFunction | undefined {
  return HOST_FUNCTIONS.find((f) => f.name === name);
}

export function findExport(name: string, version: AbiVersion = "0.2.1"): AbiFunction | undefined {
  if (version === "0.1.0") {
    const legacy = LEGACY_0_1_0_EXPORTS.find((f) => f.name === name);
    if (legacy) return legacy;
  }
  return MODULE_EXPORTS.find((f) => f.name === name && availableIn(f, version));
}

export function findWasiFunction(name: string): AbiFunction | undefined {
  return WASI_FUNCTIONS.find((f) => f.name === name);
}

export function findEnvExtra(name: string): AbiFunction | undefined {
  return ENV_EXTRAS.find((f) => f.name === name);
}

/** "(i32, i64) -> i32" */
export function signatureText(params: readonly WasmType[], results: readonly WasmType[]): string {
  return `(${params.join(", ")}) -> ${results.length ? results.join(", ") : "nil"}`;
}

export function signatureOf(fn: AbiFunction): string {
  return signatureText(
    fn.params.map((x) => x.type),
    fn.results,
  );
}
