// The checks on the module as a whole: the ABI version marker, the memory, the allocator and the
// start section, each as Envoy's host (proxy-wasm-cpp-host) judges it when it loads the module.
import { ABI_VERSIONS, type AbiVersion } from "../abi.js";
import type { ExportEntry, ParsedModule } from "../wasm/binary.js";
import type { Report, VerifyResult } from "./problems.js";
import { markerFor } from "./signatures.js";

export const MARKER_PREFIX = "proxy_abi_version_";
const SUPPORTED_BY_OUR_HOST: readonly AbiVersion[] = ["0.2.0", "0.2.1"];
export const LATEST: AbiVersion = ABI_VERSIONS[ABI_VERSIONS.length - 1];
const ALLOCATORS = ["malloc", "proxy_on_memory_allocate"] as const;

/** Sets r.abiVersion to the version Envoy picks, and reports every marker problem. */
export function checkMarkers(m: ParsedModule, r: VerifyResult, problem: Report): void {
  const markers = m.exports.filter((e) => e.name.startsWith(MARKER_PREFIX));
  const knownMarker = (e: ExportEntry): AbiVersion | undefined => ABI_VERSIONS.find((v) => markerFor(v) === e.name);
  const knownList = ABI_VERSIONS.join(", ");
  // Envoy scans the export section in order and takes the first known marker that is a function.
  const chosen = markers.find((e) => e.kind === "function" && knownMarker(e) !== undefined);
  r.abiVersion = chosen ? (knownMarker(chosen) ?? null) : null;

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
}

export function checkMemory(m: ParsedModule, problem: Report): void {
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
}

/** A function export of that name, if any. */
export const functionExport = (m: ParsedModule, name: string): ExportEntry | undefined =>
  m.exports.find((e) => e.name === name && e.kind === "function");

/** Sets r.allocator to the one Envoy uses (malloc first), or reports that there is none. */
export function checkAllocator(m: ParsedModule, r: VerifyResult, problem: Report): void {
  r.allocator = ALLOCATORS.find((a) => functionExport(m, a) !== undefined) ?? null;
  if (r.allocator === null) {
    problem(
      "allocator-missing",
      `no allocator: the module exports neither malloc nor proxy_on_memory_allocate, typed (i32) -> i32, which the host calls to hand data to the module; Envoy fails with "Wasm module is missing malloc function."; export one (proxy-wasm SDKs export it for you)`,
    );
  }
}

export function checkStartSection(m: ParsedModule, problem: Report): void {
  if (m.hasStart) {
    problem(
      "start-section",
      `the module has a start section (function ${m.startFunction}): its top-level code would run during instantiation, before Envoy's host has set up a context for proxy_* calls (and even in _initialize it allows only logging); export the initializer as _initialize instead (AssemblyScript: build with \`proxy-wasm-as build\` or pass asc --exportStart _initialize)`,
    );
  }
}
