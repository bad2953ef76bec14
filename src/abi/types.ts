// The shapes of the ABI table (src/abi/functions.ts, enums.ts, phases.ts): versions, Wasm types,
// one row per import or export.

export type WasmType = "i32" | "i64" | "f32" | "f64";
export type AbiVersion = "0.1.0" | "0.2.0" | "0.2.1";

/** Versions in order; index comparisons decide "introduced in" / "removed after". */
export const ABI_VERSIONS: readonly AbiVersion[] = ["0.1.0", "0.2.0", "0.2.1"];

/** The export whose presence tells the host which ABI version the module was built for. */
export const ABI_MARKERS: Readonly<Record<AbiVersion, string>> = {
  "0.1.0": "proxy_abi_version_0_1_0",
  "0.2.0": "proxy_abi_version_0_2_0",
  "0.2.1": "proxy_abi_version_0_2_1",
};

/** The AssemblyScript type the SDK declares a parameter with (all are i32 or i64 in Wasm). */
export type SdkType = "u32" | "i32" | "usize" | "u64" | "i64";

/**
 * When a module may call an import: "start" while _initialize / main / _start run (Envoy allows
 * only logging, clocks, random and environment then), "callback" inside any proxy_on_* callback.
 */
export type Phase = "start" | "callback";

export interface Param {
  name: string;
  type: WasmType;
  /** The SDK's AssemblyScript type for it (pointers and sizes are usize). */
  sdkType: SdkType;
}

export interface AbiFunction {
  /** Import module ("env", "wasi_snapshot_preview1") or "" for module exports. */
  module: string;
  name: string;
  params: readonly Param[];
  results: readonly WasmType[];
  /** First ABI version that has this function. */
  since: AbiVersion;
  /** Last ABI version that has it, when it was removed later (0.1.0-only functions). */
  until?: AbiVersion;
  /** Area of the ABI (the host groups its implementations by it, src/host/calls/<area>.ts). */
  area: string;
  doc: string;
  /** Imports: the phases in which a module may call it. */
  phases?: readonly Phase[];
  /** A WASI function the host registers only so modules load: it always answers ENOSYS. */
  stub?: boolean;
  /** Functions that were removed: what to use instead. */
  replacement?: string;
  /** Exports Envoy looks up although the spec does not define them. */
  envoyOnly?: boolean;
  /**
   * Callback exports: the SDK context methods it dispatches to. The build drops the export when
   * a filter overrides none of them (src/build/prune-exports.ts); absent means always kept.
   */
  sdkMethods?: readonly string[];
}

const SDK_TYPES: Record<SdkType, WasmType> = { u32: "i32", i32: "i32", usize: "i32", u64: "i64", i64: "i64" };

/**
 * Parameters from "name[:sdkType],...". Without a type, names that are pointers or sizes
 * (return_*, *_data, *_size) are usize and everything else u32.
 */
export function params(spec: string): Param[] {
  if (spec === "") return [];
  return spec.split(",").map((s) => {
    const [name, given] = s.trim().split(":");
    const pointerLike = name.startsWith("return_") || name.endsWith("_data") || name.endsWith("_size");
    const sdkType = (given ?? (pointerLike ? "usize" : "u32")) as SdkType;
    const type = SDK_TYPES[sdkType];
    if (type === undefined) throw new Error(`ABI table: unknown type ${given} of parameter ${name}`);
    return { name, type, sdkType };
  });
}
