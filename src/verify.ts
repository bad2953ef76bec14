// `verifyModule`: check any proxy-wasm module (built with this SDK or with the Rust, Go, C++ or
// another AssemblyScript SDK) against the ABI table (src/abi/, through the lookup tables generated
// from it into src/verify/abi-tables.generated.ts), the way Envoy's host (proxy-wasm-cpp-host) will
// judge it when it loads the module, and explain every problem in one line that says what is wrong
// and what to do. Nothing here instantiates the module. The checks live in src/verify/.
//
// Deliberate differences from Envoy's host are listed in docs/verify.md.
import type { AbiVersion } from "./abi.js";
import { oneLine, parseModule, WasmFormatError, type ParsedModule } from "./wasm/binary.js";
import { checkExports } from "./verify/export-checks.js";
import { checkImports } from "./verify/import-checks.js";
import { checkAllocator, checkMarkers, checkMemory, checkStartSection, LATEST } from "./verify/module-checks.js";
import { emptyResult, type ProblemCode, type VerifyResult } from "./verify/problems.js";

export { PROBLEM_CODES, type Problem, type ProblemCode, type VerifyResult } from "./verify/problems.js";
export { closestName, editDistance } from "./verify/names.js";
export { formatVerifyResult, verifyResultJson } from "./verify/report.js";

/**
 * Checks a module against the proxy-wasm ABI. Never throws for any input bytes: a file that is
 * not a well-formed module gives one problem ("not-wasm" or "malformed").
 */
export function verifyModule(bytes: Uint8Array): VerifyResult {
  let m: ParsedModule;
  try {
    m = parseModule(bytes);
  } catch (err) {
    const r = emptyResult(bytes.length);
    const message = err instanceof WasmFormatError ? err.message : `cannot read the module: ${String(err)}`;
    r.problems.push({ code: message.startsWith("not a Wasm") ? "not-wasm" : "malformed", message });
    return r;
  }

  const r = emptyResult(bytes.length);
  r.module = m;
  r.imports = m.imports;
  r.exports = m.exports;
  // Names come from the module and may contain anything; oneLine keeps every message one line.
  const problem = (code: ProblemCode, message: string) => r.problems.push({ code, message: oneLine(message) });
  const warning = (code: ProblemCode, message: string) => r.warnings.push({ code, message: oneLine(message) });

  checkMarkers(m, r, problem);
  const version: AbiVersion = r.abiVersion ?? LATEST;
  checkMemory(m, problem);
  checkAllocator(m, r, problem);
  checkImports(m, r.abiVersion, problem);
  checkExports(m, r, version, problem, warning);
  checkStartSection(m, problem);

  r.ok = r.problems.length === 0;
  return r;
}
