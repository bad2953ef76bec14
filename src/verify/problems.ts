// What verify reports: the problem codes with their severity, and the result of one check.
import type { AbiVersion } from "../abi.js";
import type { ExportEntry, ImportEntry, ParsedModule } from "../wasm/binary.js";

/**
 * Every code verify can report, with its severity. "error" codes fail the module; "warning"
 * codes are printed but do not (unless --strict). docs/verify.md documents each one.
 */
export const PROBLEM_CODES = {
  "not-wasm": "error",
  malformed: "error",
  "abi-marker-missing": "error",
  "abi-marker-unknown": "error",
  "abi-marker-not-function": "error",
  "abi-marker-multiple": "error",
  "abi-version-unsupported": "error",
  "memory-missing": "error",
  "memory-imported": "error",
  "memory-not-exported": "error",
  "memory-not-memory": "error",
  "allocator-missing": "error",
  "import-unknown": "error",
  "import-assemblyscript": "error",
  "import-signature": "error",
  "import-not-in-abi-version": "error",
  "import-not-function": "error",
  "import-foreign-module": "error",
  "wasi-import-unknown": "error",
  "wasi-import-signature": "error",
  "export-unknown-callback": "error",
  "export-signature": "error",
  "export-not-function": "error",
  "start-section": "error",
  "export-not-in-spec": "warning",
  "export-not-in-abi-version": "warning",
  "export-unknown-proxy": "warning",
  "entry-both": "warning",
} as const;
export type ProblemCode = keyof typeof PROBLEM_CODES;

export interface Problem {
  /** Stable identifier (one of PROBLEM_CODES, documented in docs/verify.md), e.g. "import-unknown". */
  code: ProblemCode;
  /** One line: what is wrong, what the host will do, and what to do about it. */
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** ABI version the host will pick (first known marker in export order), or null. */
  abiVersion: AbiVersion | null;
  problems: Problem[];
  warnings: Problem[];
  imports: ImportEntry[];
  exports: ExportEntry[];
  /** Module size in bytes. */
  size: number;
  /** Exported callbacks the host will call (proxy_on_* and proxy_validate_configuration). */
  callbacks: string[];
  /** The allocator the host will use: Envoy looks up malloc first. */
  allocator: "malloc" | "proxy_on_memory_allocate" | null;
  /** The parsed module, or null when the bytes are not a well-formed Wasm module. */
  module: ParsedModule | null;
}

/** Adds one problem (an error or a warning, by the check that calls it). */
export type Report = (code: ProblemCode, message: string) => void;

export function emptyResult(size: number): VerifyResult {
  return {
    ok: false,
    abiVersion: null,
    problems: [],
    warnings: [],
    imports: [],
    exports: [],
    size,
    callbacks: [],
    allocator: null,
    module: null,
  };
}
