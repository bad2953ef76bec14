// The checks on a module's exports: every proxy_on_* callback spelled and typed as the module's ABI
// version says (src/verify/abi-tables.generated.ts), and the entry points.
import { ABI_VERSIONS, availableIn, type AbiVersion } from "../abi.js";
import type { ParsedModule } from "../wasm/binary.js";
import { EXPORTS, type VerifyRow } from "./abi-tables.generated.js";
import { functionExport, MARKER_PREFIX } from "./module-checks.js";
import { closestName } from "./names.js";
import type { Report, VerifyResult } from "./problems.js";
import { expectedText, markerFor, matches, rowSignature, sigOf } from "./signatures.js";

const KNOWN_EXPORT_NAMES: string[] = [...EXPORTS.keys()];

/** The form of export `name` that ABI `version` has, if any. */
function exportIn(name: string, version: AbiVersion): VerifyRow | undefined {
  return EXPORTS.get(name)?.find((row) => availableIn(row, version));
}

/** Reports export problems and fills r.callbacks; `version` is the marker's (or the latest). */
export function checkExports(m: ParsedModule, r: VerifyResult, version: AbiVersion, problem: Report, warning: Report): void {
  for (const e of m.exports) {
    if (e.name.startsWith(MARKER_PREFIX) || e.name === "memory") continue;
    const fn = exportIn(e.name, version);
    if (fn) {
      if (e.kind !== "function") {
        problem(
          "export-not-function",
          `export ${e.name} is a ${e.kind}, but the host calls it as a function ${rowSignature(fn)}; rename the ${e.kind} or export the function under this name`,
        );
        continue;
      }
      if (!matches(e, fn)) {
        const other = ABI_VERSIONS.filter((v) => v !== version).find((v) => {
          const f = exportIn(e.name, v);
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
      if (fn.callback) r.callbacks.push(e.name);
      if (fn.envoyOnly) {
        warning(
          "export-not-in-spec",
          `export ${e.name} is not in the proxy-wasm spec: Envoy's host looks it up (so its type must match), other hosts ignore it`,
        );
      }
      continue;
    }
    const elsewhere = ABI_VERSIONS.map((v) => exportIn(e.name, v)).find((f) => f !== undefined);
    if (elsewhere !== undefined && r.abiVersion !== null) {
      warning(
        "export-not-in-abi-version",
        `export ${e.name} is part of ABI ${elsewhere.since}${elsewhere.until ? ` to ${elsewhere.until}` : " and later"}, but the module exports ${markerFor(r.abiVersion)}, so the host never calls it`,
      );
      continue;
    }
    if (e.name.startsWith("proxy_on_")) {
      const guess = closestName(e.name, KNOWN_EXPORT_NAMES);
      problem(
        "export-unknown-callback",
        `export ${e.name} is not a proxy-wasm callback, so the host never calls it` +
          (guess ? `; did you mean ${guess}?` : `; see the callbacks of ABI ${version} in src/abi/functions.ts or docs/verify.md`),
      );
    } else if (e.name.startsWith("proxy_")) {
      const guess = closestName(e.name, KNOWN_EXPORT_NAMES);
      warning(
        "export-unknown-proxy",
        `export ${e.name} is not part of the proxy-wasm ABI; the host ignores it` + (guess ? ` (did you mean ${guess}?)` : ""),
      );
    }
  }
  if (functionExport(m, "_initialize") && functionExport(m, "_start")) {
    warning("entry-both", "the module exports both _initialize and _start; the host calls _initialize and never _start");
  }
}
