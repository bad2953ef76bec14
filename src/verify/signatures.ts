// Comparing a module's import and export types with the ABI's, and writing them in messages.
import { ABI_MARKERS, signatureText, type AbiVersion, type WasmType } from "../abi.js";
import type { ValType } from "../wasm/binary.js";
import type { VerifyRow } from "./abi-tables.generated.js";

type Typed = { params?: ValType[]; results?: ValType[] };

export const markerFor = (v: AbiVersion): string => ABI_MARKERS[v];

function sameTypes(actual: readonly ValType[] | undefined, expected: readonly WasmType[]): boolean {
  const a = actual ?? [];
  return a.length === expected.length && a.every((t, i) => t === expected[i]);
}

/** "(i32, i32) -> i32" of a module's import or export. */
export function sigOf(e: Typed): string {
  return signatureText((e.params ?? []) as WasmType[], (e.results ?? []) as WasmType[]);
}

/** "(i32, i32) -> i32" of a table row. */
export function rowSignature(row: VerifyRow): string {
  return signatureText(
    row.params.map(([, type]) => type),
    row.results,
  );
}

export function matches(e: Typed, row: VerifyRow): boolean {
  return (
    sameTypes(
      e.params,
      row.params.map(([, type]) => type),
    ) && sameTypes(e.results, row.results)
  );
}

/** "(i32 context_id, i32 num_headers) -> i32" */
export function expectedText(row: VerifyRow): string {
  const names = row.params.map(([name, type]) => `${type} ${name}`).join(", ");
  return `(${names}) -> ${row.results.length ? row.results.join(", ") : "nil"}`;
}
