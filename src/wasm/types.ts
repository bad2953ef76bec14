// The shapes the Wasm binary reader (binary.ts) returns, and its one error type.

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";
export type ExternKind = "function" | "table" | "memory" | "global" | "tag";

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export interface Limits {
  min: number;
  max?: number;
  shared: boolean;
  /** memory64 / table64: the limits are in 64-bit units. */
  is64: boolean;
}

export interface TableType {
  element: ValType;
  limits: Limits;
}

export interface GlobalType {
  type: ValType;
  mutable: boolean;
}

export interface ImportEntry {
  module: string;
  name: string;
  kind: ExternKind;
  /** function and tag imports: the type index and its signature. */
  typeIndex?: number;
  params?: ValType[];
  results?: ValType[];
  table?: TableType;
  memory?: Limits;
  global?: GlobalType;
}

export interface ExportEntry {
  name: string;
  kind: ExternKind;
  /** Index in the kind's index space (imports first, then definitions). */
  index: number;
  /** function exports: the signature. */
  params?: ValType[];
  results?: ValType[];
}

export interface SectionInfo {
  id: number;
  /** "type", "import", ..., or "custom" for custom sections. */
  name: string;
  /** Name of a custom section ("name", "producers", "sourceMappingURL", ...). */
  customName?: string;
  /** Offset of the section id byte in the file. */
  offset: number;
  /** Payload size in bytes (excluding the id byte and the size field). */
  size: number;
}

export interface MemoryInfo {
  /** Index in the memory index space. */
  index: number;
  /** Present when the memory is imported: "module.name". */
  importedFrom?: string;
  limits: Limits;
  /** Names under which the module exports this memory. */
  exportedAs: string[];
}

export interface ParsedModule {
  /** Binary format version (always 1 for a core module this reader accepts). */
  version: number;
  /** Total size of the module in bytes. */
  size: number;
  types: FuncType[];
  imports: ImportEntry[];
  exports: ExportEntry[];
  /** Functions defined in the module (function section), not counting imported functions. */
  functionCount: number;
  importedFunctionCount: number;
  /** Type index of every function in the function index space (imports first). */
  functionTypeIndices: number[];
  tables: TableType[];
  memories: MemoryInfo[];
  globals: GlobalType[];
  tagCount: number;
  hasStart: boolean;
  startFunction?: number;
  /** Value of the data count section, when present. */
  dataCount?: number;
  dataSegmentCount: number;
  /** Sum of the data segments' payload bytes. */
  dataBytes: number;
  elementSegmentCount: number;
  /** Payload size of the code section (0 when absent). */
  codeSectionSize: number;
  /** Payload size of the data section (0 when absent). */
  dataSectionSize: number;
  sections: SectionInfo[];
  customSections: { name: string; size: number }[];
}

/**
 * `text` with control and line-separator characters escaped (\n, \u0000, ...), so that names
 * taken from a module (which may contain anything) can never split a one-line message.
 */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
    c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The input is not a well-formed Wasm module. The message is one line; `offset` is where. */
export class WasmFormatError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(oneLine(message));
    this.name = "WasmFormatError";
  }
}
