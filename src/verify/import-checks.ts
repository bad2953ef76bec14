// The checks on a module's imports: each must be a function the host provides for the module's ABI
// version (src/verify/abi-tables.generated.ts), with the ABI's types.
import { WASI_MODULES, availableIn, versionIndex, type AbiVersion } from "../abi.js";
import type { ImportEntry, ParsedModule } from "../wasm/binary.js";
import { ENV_EXTRA_IMPORTS, ENV_IMPORTS, WASI_IMPORTS, type VerifyRow } from "./abi-tables.generated.js";
import { closestName } from "./names.js";
import type { ProblemCode, Report } from "./problems.js";
import { expectedText, markerFor, matches, sigOf } from "./signatures.js";

export const missingImport = (m: string, n: string): string =>
  `Envoy fails to load the module with "Failed to load Wasm module due to a missing import: ${m}.${n}"`;

/**
 * Imports that AssemblyScript's standard library adds, with the way to get rid of each.
 * (Facts about asc, not ABI functions.)
 */
const ASSEMBLYSCRIPT_IMPORTS: Record<string, { what: string; fix: string }> = {
  abort: {
    what: "is AssemblyScript's default abort handler (used by throw, assert and bounds checks)",
    fix: "build with `proxy-wasm-as build`, or pass asc `--use abort=<your handler>` (`--use abort=` makes a failure trap without a message)",
  },
  seed: {
    what: "comes from Math.random() in AssemblyScript",
    fix: "avoid Math.random() (WASI random_get gives random bytes), or pass asc `--use seed=<your function returning f64>`",
  },
  trace: {
    what: "comes from AssemblyScript's trace()",
    fix: "log through the SDK (proxy_log) instead, or pass asc `--use trace=<your function>`",
  },
  "Date.now": {
    what: "comes from Date.now() in AssemblyScript",
    fix: "read the host clock instead (proxy_get_current_time_nanoseconds, or WASI clock_time_get)",
  },
};

/** Import modules that identify a toolchain built for the browser or another runtime. */
const FOREIGN_MODULE_HINTS: Record<string, string> = {
  go: "this module was built with GOOS=js; build for WASI instead (TinyGo -target=wasi, or GOOS=wasip1)",
  gojs: "this module was built with GOOS=js; build for WASI instead (TinyGo -target=wasi, or GOOS=wasip1)",
  wbg: "this module uses wasm-bindgen, which only a JavaScript host provides; build the Rust crate for wasm32-wasip1 without wasm-bindgen",
  __wbindgen_placeholder__:
    "this module uses wasm-bindgen, which only a JavaScript host provides; build the Rust crate for wasm32-wasip1 without wasm-bindgen",
};

const HOST_FUNCTION_NAMES: string[] = [...ENV_IMPORTS.keys()];

/** Reports every import the host will not satisfy; `abiVersion` is the module's marker, if any. */
export function checkImports(m: ParsedModule, abiVersion: AbiVersion | null, problem: Report): void {
  for (const imp of m.imports) {
    const full = `${imp.module}.${imp.name}`;
    if (imp.kind === "memory") continue; // judged with the memory
    if (imp.kind !== "function") {
      problem(
        "import-not-function",
        `import ${full} is a ${imp.kind}; proxy-wasm hosts provide only functions (Envoy: "Failed to load Wasm module due to a missing import: ${full}"); define the ${imp.kind} in the module instead` +
          (imp.kind === "table" ? " (AssemblyScript: do not pass --importTable)" : ""),
      );
      continue;
    }
    if (imp.module === "env") checkEnvImport(imp, abiVersion, problem);
    else if ((WASI_MODULES as readonly string[]).includes(imp.module)) checkWasiImport(imp, problem);
    else {
      const hint = FOREIGN_MODULE_HINTS[imp.module];
      problem(
        "import-foreign-module",
        `import ${full} comes from module "${imp.module}", which no proxy-wasm host provides (only "env" and ${WASI_MODULES.map((x) => `"${x}"`).join("/")}): ${missingImport(imp.module, imp.name)}` +
          (hint ? `; ${hint}` : ""),
      );
    }
  }
}

function checkEnvImport(imp: ImportEntry, abiVersion: AbiVersion | null, problem: Report): void {
  const full = `${imp.module}.${imp.name}`;
  const extra = ENV_EXTRA_IMPORTS.get(imp.name);
  if (extra) {
    checkImportSignature(imp, extra, problem);
    return;
  }
  const fn = ENV_IMPORTS.get(imp.name);
  if (fn) {
    checkImportSignature(imp, fn, problem);
    if (abiVersion !== null && !availableIn(fn, abiVersion)) {
      const marker = markerFor(abiVersion);
      if (fn.until !== undefined && versionIndex(abiVersion) > versionIndex(fn.until)) {
        const only = fn.since === fn.until ? `exists only in ABI ${fn.until}` : `was removed after ABI ${fn.until}`;
        problem(
          "import-not-in-abi-version",
          `import ${full} ${only}, but the module exports ${marker}: ${missingImport(imp.module, imp.name)}` +
            (fn.replacement ? `; use ${fn.replacement} instead` : ""),
        );
      } else {
        problem(
          "import-not-in-abi-version",
          `import ${full} was added in ABI ${fn.since}, but the module exports ${marker}: ${missingImport(imp.module, imp.name)}; export ${markerFor(fn.since)} instead`,
        );
      }
    }
    return;
  }
  const asHint =
    ASSEMBLYSCRIPT_IMPORTS[imp.name] ??
    (imp.name.startsWith("console.")
      ? { what: `comes from ${imp.name}() in AssemblyScript`, fix: "log through the SDK (proxy_log) instead" }
      : undefined);
  if (asHint) {
    problem(
      "import-assemblyscript",
      `import ${full} ${asHint.what}, which no proxy-wasm host provides: ${missingImport(imp.module, imp.name)}; ${asHint.fix}`,
    );
    return;
  }
  const guess = closestName(imp.name, HOST_FUNCTION_NAMES);
  problem(
    "import-unknown",
    `import ${full} is not a proxy-wasm host function: ${missingImport(imp.module, imp.name)}` +
      (guess ? `; did you mean ${guess}?` : "; remove it, or provide it inside the module"),
  );
}

function checkWasiImport(imp: ImportEntry, problem: Report): void {
  const fn = WASI_IMPORTS.get(imp.name);
  if (!fn) {
    problem(
      "wasi-import-unknown",
      `import ${imp.module}.${imp.name} is not a WASI function proxy-wasm hosts provide: ${missingImport(imp.module, imp.name)}; avoid the library call that needs it (filters get no files, sockets or processes)`,
    );
  } else {
    checkImportSignature(imp, fn, problem);
  }
}

function checkImportSignature(imp: ImportEntry, fn: VerifyRow, problem: Report): void {
  if (matches(imp, fn)) return;
  const code: ProblemCode = fn.module === "env" ? "import-signature" : "wasi-import-signature";
  problem(
    code,
    `import ${imp.module}.${imp.name} has type ${sigOf(imp)}, but the host provides ${expectedText(fn)}; Envoy fails to load the module with "Failed to load Wasm module due to an import type mismatch"; declare it with the ABI's types`,
  );
}
