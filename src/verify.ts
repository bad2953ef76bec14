// `verifyModule`: check any proxy-wasm module (built with this SDK or with the Rust, Go, C++ or
// another AssemblyScript SDK) against the ABI table in src/abi.ts, the way Envoy's host
// (proxy-wasm-cpp-host) will judge it when it loads the module, and explain every problem in
// one line that says what is wrong and what to do. Nothing here instantiates the module.
//
// Deliberate differences from Envoy's host are listed in docs/verify.md.
import {
  ABI_MARKERS,
  ABI_VERSIONS,
  HOST_FUNCTIONS,
  MODULE_EXPORTS,
  WASI_MODULES,
  availableIn,
  findExport,
  findHostFunction,
  findWasiFunction,
  findEnvExtra,
  signatureOf,
  signatureText,
  versionIndex,
  type AbiFunction,
  type AbiVersion,
  type WasmType,
} from "./abi.js";
import {
  oneLine,
  parseModule,
  WasmFormatError,
  type ExportEntry,
  type ImportEntry,
  type ParsedModule,
  type ValType,
} from "./wasm/binary.js";

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

const MARKER_PREFIX = "proxy_abi_version_";
const SUPPORTED_BY_OUR_HOST: readonly AbiVersion[] = ["0.2.0", "0.2.1"];
const LATEST: AbiVersion = ABI_VERSIONS[ABI_VERSIONS.length - 1];
const ALLOCATORS = ["malloc", "proxy_on_memory_allocate"] as const;

const missingImport = (m: string, n: string): string =>
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

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/**
 * The candidate `name` was most probably meant to be, or undefined when none is close. "Close"
 * is an edit distance of at most 40% of the part after the common prefix (at least 1), so
 * proxy_on_grpc_trailing_metadata finds proxy_on_grpc_receive_trailing_metadata while
 * proxy_on_foo finds nothing.
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    let prefix = 0;
    while (prefix < name.length && prefix < c.length && name[prefix] === c[prefix]) prefix++;
    const d = editDistance(name, c);
    const allowed = Math.max(1, 0.4 * (Math.max(name.length, c.length) - prefix));
    if (d <= allowed && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

const markerFor = (v: AbiVersion): string => ABI_MARKERS[v];

function sameTypes(actual: readonly ValType[] | undefined, expected: readonly WasmType[]): boolean {
  const a = actual ?? [];
  return a.length === expected.length && a.every((t, i) => t === expected[i]);
}

function sigOf(e: { params?: ValType[]; results?: ValType[] }): string {
  return signatureText((e.params ?? []) as WasmType[], (e.results ?? []) as WasmType[]);
}

function matches(e: { params?: ValType[]; results?: ValType[] }, fn: AbiFunction): boolean {
  return (
    sameTypes(e.params, fn.params.map((p) => p.type)) &&
    sameTypes(e.results, fn.results)
  );
}

function expectedText(fn: AbiFunction): string {
  const names = fn.params.map((p) => `${p.type} ${p.name}`).join(", ");
  return `(${names}) -> ${fn.results.length ? fn.results.join(", ") : "nil"}`;
}

/** Spec callbacks that Envoy looks up although the spec does not define them. */
function isEnvoyExtension(fn: AbiFunction): boolean {
  return fn.doc.startsWith("Envoy extension");
}

/** Module exports the host calls as callbacks (everything but entry points and allocators). */
function isCallback(fn: AbiFunction): boolean {
  return fn.area !== "integration" && fn.area !== "memory";
}

const KNOWN_EXPORT_NAMES: string[] = [...new Set(MODULE_EXPORTS.map((f) => f.name))];
const HOST_FUNCTION_NAMES: string[] = HOST_FUNCTIONS.map((f) => f.name);

function emptyResult(size: number): VerifyResult {
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

  // --- ABI version marker ---------------------------------------------------------------
  const markers = m.exports.filter((e) => e.name.startsWith(MARKER_PREFIX));
  const knownMarker = (e: ExportEntry): AbiVersion | undefined =>
    ABI_VERSIONS.find((v) => markerFor(v) === e.name);
  const knownList = ABI_VERSIONS.join(", ");
  // Envoy scans the export section in order and takes the first known marker that is a function.
  const chosen = markers.find((e) => e.kind === "function" && knownMarker(e) !== undefined);
  r.abiVersion = chosen ? knownMarker(chosen)! : null;

  for (const e of markers) {
    if (knownMarker(e) === undefined) {
      problem(
        "abi-marker-unknown",
        `export ${e.name} is not a known ABI version marker (known: ${knownList}); Envoy ignores it` +
          (chosen ? "" : ` and fails with "Missing or unknown Proxy-Wasm ABI version"`) +
          `; export ${markerFor(LATEST)} instead`,
      );
    } else if (e.kind !== "function") {
      problem(
        "abi-marker-not-function",
        `export ${e.name} is a ${e.kind}, but the host only recognizes a function export as the ABI version marker; export it as a function (any body, it is never called)`,
      );
    }
  }
  if (markers.length > 1) {
    problem(
      "abi-marker-multiple",
      `the module exports ${markers.length} ABI version markers (${markers.map((e) => e.name).join(", ")}); ` +
        (chosen ? `Envoy uses the first known one (${chosen.name}) and ignores the rest; ` : "") +
        "export exactly one",
    );
  }
  if (markers.length === 0) {
    problem(
      "abi-marker-missing",
      `no ABI version marker: the module exports none of ${ABI_VERSIONS.map(markerFor).join(", ")}, so Envoy fails with "Missing or unknown Proxy-Wasm ABI version"; export a function named ${markerFor(LATEST)} (proxy-wasm SDKs export it for you)`,
    );
  }
  if (r.abiVersion !== null && !SUPPORTED_BY_OUR_HOST.includes(r.abiVersion)) {
    problem(
      "abi-version-unsupported",
      `ABI ${r.abiVersion} (export ${markerFor(r.abiVersion)}) is obsolete: Envoy still loads it, but proxy-wasm-as's host (run, tests) supports only ABI ${SUPPORTED_BY_OUR_HOST.join(" and ")}; rebuild the filter with an SDK release that targets ABI ${LATEST}`,
    );
  }
  const version: AbiVersion = r.abiVersion ?? LATEST;

  // --- memory -----------------------------------------------------------------------------
  const memExport = m.exports.find((e) => e.name === "memory");
  if (memExport && memExport.kind !== "memory") {
    problem(
      "memory-not-memory",
      `export "memory" is a ${memExport.kind}, but the host reads and writes guest memory through an exported memory of that name; export the module's memory as "memory"`,
    );
  } else if (!memExport) {
    const imported = m.memories.find((mem) => mem.importedFrom !== undefined);
    if (m.memories.length === 0) {
      problem(
        "memory-missing",
        `the module has no memory; the host passes every string and buffer through linear memory, so define one and export it as "memory"`,
      );
    } else if (imported) {
      problem(
        "memory-imported",
        `the module imports its memory (${imported.importedFrom}) instead of exporting it; proxy-wasm hosts expect the module to define and export "memory" (only Envoy's V8 runtime creates an imported memory); AssemblyScript: do not pass --importMemory`,
      );
    } else {
      const other = m.memories.flatMap((mem) => mem.exportedAs);
      problem(
        "memory-not-exported",
        other.length
          ? `the module exports its memory as "${other[0]}" but the host looks for "memory"; export it as "memory"`
          : `the module does not export its memory; the host reads and writes guest memory through an export named "memory"; export it (AssemblyScript: do not pass --noExportMemory)`,
      );
    }
  }

  // --- allocator --------------------------------------------------------------------------
  const fnExport = (name: string) => m.exports.find((e) => e.name === name && e.kind === "function");
  r.allocator = ALLOCATORS.find((a) => fnExport(a) !== undefined) ?? null;
  if (r.allocator === null) {
    problem(
      "allocator-missing",
      `no allocator: the module exports neither malloc nor proxy_on_memory_allocate, typed (i32) -> i32, which the host calls to hand data to the module; Envoy fails with "Wasm module is missing malloc function."; export one (proxy-wasm SDKs export it for you)`,
    );
  }

  // --- imports ----------------------------------------------------------------------------
  for (const imp of m.imports) {
    const full = `${imp.module}.${imp.name}`;
    if (imp.kind === "memory") continue; // judged with the memory above
    if (imp.kind !== "function") {
      problem(
        "import-not-function",
        `import ${full} is a ${imp.kind}; proxy-wasm hosts provide only functions (Envoy: "Failed to load Wasm module due to a missing import: ${full}"); define the ${imp.kind} in the module instead` +
          (imp.kind === "table" ? " (AssemblyScript: do not pass --importTable)" : ""),
      );
      continue;
    }
    if (imp.module === "env") {
      const extra = findEnvExtra(imp.name);
      if (extra) {
        checkImportSignature(imp, extra, problem);
        continue;
      }
      const fn = findHostFunction(imp.name);
      if (fn) {
        checkImportSignature(imp, fn, problem);
        if (r.abiVersion !== null && !availableIn(fn, r.abiVersion)) {
          const marker = markerFor(r.abiVersion);
          if (fn.until !== undefined && versionIndex(r.abiVersion) > versionIndex(fn.until)) {
            const only = fn.since === fn.until ? `exists only in ABI ${fn.until}` : `was removed after ABI ${fn.until}`;
            const advice = fn.doc.includes("; ") ? fn.doc.slice(fn.doc.indexOf("; ") + 2) : "";
            problem(
              "import-not-in-abi-version",
              `import ${full} ${only}, but the module exports ${marker}: ${missingImport(imp.module, imp.name)}` +
                (advice ? `; ${advice.replace(/\.$/, "")} instead` : ""),
            );
          } else {
            problem(
              "import-not-in-abi-version",
              `import ${full} was added in ABI ${fn.since}, but the module exports ${marker}: ${missingImport(imp.module, imp.name)}; export ${markerFor(fn.since)} instead`,
            );
          }
        }
        continue;
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
        continue;
      }
      const guess = closestName(imp.name, HOST_FUNCTION_NAMES);
      problem(
        "import-unknown",
        `import ${full} is not a proxy-wasm host function: ${missingImport(imp.module, imp.name)}` +
          (guess ? `; did you mean ${guess}?` : "; remove it, or provide it inside the module"),
      );
      continue;
    }
    if ((WASI_MODULES as readonly string[]).includes(imp.module)) {
      const fn = findWasiFunction(imp.name);
      if (!fn) {
        problem(
          "wasi-import-unknown",
          `import ${full} is not a WASI function proxy-wasm hosts provide: ${missingImport(imp.module, imp.name)}; avoid the library call that needs it (filters get no files, sockets or processes)`,
        );
      } else {
        checkImportSignature(imp, fn, problem);
      }
      continue;
    }
    const hint = FOREIGN_MODULE_HINTS[imp.module];
    problem(
      "import-foreign-module",
      `import ${full} comes from module "${imp.module}", which no proxy-wasm host provides (only "env" and ${WASI_MODULES.map((x) => `"${x}"`).join("/")}): ${missingImport(imp.module, imp.name)}` +
        (hint ? `; ${hint}` : ""),
    );
  }

  // --- exports ----------------------------------------------------------------------------
  for (const e of m.exports) {
    if (e.name.startsWith(MARKER_PREFIX) || e.name === "memory") continue;
    const fn = findExport(e.name, version);
    if (fn) {
      if (e.kind !== "function") {
        problem(
          "export-not-function",
          `export ${e.name} is a ${e.kind}, but the host calls it as a function ${signatureOf(fn)}; rename the ${e.kind} or export the function under this name`,
        );
        continue;
      }
      if (!matches(e, fn)) {
        const other = ABI_VERSIONS.filter((v) => v !== version).find((v) => {
          const f = findExport(e.name, v);
          return f !== undefined && f !== fn && matches(e, f);
        });
        problem(
          "export-signature",
          `export ${e.name} has type ${sigOf(e)}` +
            (other ? ` (the ABI ${other} form)` : "") +
            `, but ABI ${version} expects ${expectedText(fn)}` +
            `; Envoy fails the VM with "Bad function signature for: ${e.name}"`,
        );
        continue;
      }
      if (isCallback(fn)) r.callbacks.push(e.name);
      if (isEnvoyExtension(fn)) {
        warning(
          "export-not-in-spec",
          `export ${e.name} is not in the proxy-wasm spec: Envoy's host looks it up (so its type must match), other hosts ignore it`,
        );
      }
      continue;
    }
    const elsewhere = ABI_VERSIONS.find((v) => findExport(e.name, v) !== undefined);
    if (elsewhere !== undefined && r.abiVersion !== null) {
      const f = findExport(e.name, elsewhere)!;
      warning(
        "export-not-in-abi-version",
        `export ${e.name} is part of ABI ${f.since}${f.until ? ` to ${f.until}` : " and later"}, but the module exports ${markerFor(r.abiVersion)}, so the host never calls it`,
      );
      continue;
    }
    if (e.name.startsWith("proxy_on_")) {
      const guess = closestName(e.name, KNOWN_EXPORT_NAMES);
      problem(
        "export-unknown-callback",
        `export ${e.name} is not a proxy-wasm callback, so the host never calls it` +
          (guess ? `; did you mean ${guess}?` : "; see the callbacks of ABI " + version + " in src/abi.ts or docs/verify.md"),
      );
    } else if (e.name.startsWith("proxy_")) {
      const guess = closestName(e.name, KNOWN_EXPORT_NAMES);
      warning(
        "export-unknown-proxy",
        `export ${e.name} is not part of the proxy-wasm ABI; the host ignores it` + (guess ? ` (did you mean ${guess}?)` : ""),
      );
    }
  }
  if (fnExport("_initialize") && fnExport("_start")) {
    warning(
      "entry-both",
      "the module exports both _initialize and _start; the host calls _initialize and never _start",
    );
  }

  // --- start section ----------------------------------------------------------------------
  if (m.hasStart) {
    problem(
      "start-section",
      `the module has a start section (function ${m.startFunction}): its top-level code would run during instantiation, before Envoy's host has set up a context for proxy_* calls (and even in _initialize it allows only logging); export the initializer as _initialize instead (AssemblyScript: build with \`proxy-wasm-as build\` or pass asc --exportStart _initialize)`,
    );
  }

  r.ok = r.problems.length === 0;
  return r;
}

function checkImportSignature(imp: ImportEntry, fn: AbiFunction, problem: (code: ProblemCode, message: string) => void): void {
  if (matches(imp, fn)) return;
  const code: ProblemCode = fn.module === "env" ? "import-signature" : "wasi-import-signature";
  problem(
    code,
    `import ${imp.module}.${imp.name} has type ${sigOf(imp)}, but the host provides ${expectedText(fn)}; Envoy fails to load the module with "Failed to load Wasm module due to an import type mismatch"; declare it with the ABI's types`,
  );
}

/**
 * Human-readable report: one line per problem ("error: ...") and per warning ("warning: ..."),
 * then a summary line ("ok: ..." or "FAILED: ...").
 */
export function formatVerifyResult(file: string, r: VerifyResult): string {
  const lines: string[] = [];
  file = oneLine(file);
  for (const p of r.problems) lines.push(`error: ${file}: ${oneLine(p.message)}`);
  for (const w of r.warnings) lines.push(`warning: ${file}: ${oneLine(w.message)}`);
  if (r.ok) {
    const n = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
    lines.push(
      `ok: ${file}: ABI ${r.abiVersion}, ${n(r.imports.length, "import")}, ${n(r.callbacks.length, "callback")}, ${n(r.size, "byte")}`,
    );
  } else {
    const n = r.problems.length;
    lines.push(`FAILED: ${file}: ${n} problem${n === 1 ? "" : "s"}`);
  }
  return lines.join("\n");
}

/** The machine-readable form printed by `verify --json`. */
export function verifyResultJson(file: string, r: VerifyResult): object {
  const m = r.module;
  return {
    file,
    ok: r.ok,
    abiVersion: r.abiVersion,
    size: r.size,
    problems: r.problems,
    warnings: r.warnings,
    allocator: r.allocator,
    callbacks: r.callbacks,
    imports: r.imports.map((i) => ({
      module: i.module,
      name: i.name,
      kind: i.kind,
      ...(i.kind === "function" ? { signature: sigOf(i) } : {}),
    })),
    exports: r.exports.map((e) => ({
      name: e.name,
      kind: e.kind,
      ...(e.kind === "function" ? { signature: sigOf(e) } : {}),
    })),
    hasStart: m ? m.hasStart : null,
    sections: m ? m.sections.map((s) => ({ name: s.customName !== undefined ? `custom:${s.customName}` : s.name, size: s.size })) : [],
  };
}
