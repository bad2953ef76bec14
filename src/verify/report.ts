// How a verify result is printed: one line per problem for people, and JSON for `verify --json`.
import { oneLine } from "../wasm/binary.js";
import type { VerifyResult } from "./problems.js";
import { sigOf } from "./signatures.js";

/**
 * Human-readable report: one line per problem ("error: ...") and per warning ("warning: ..."),
 * then a summary line ("ok: ..." or "FAILED: ...").
 */
export function formatVerifyResult(file: string, r: VerifyResult): string {
  const lines: string[] = [];
  const name = oneLine(file);
  for (const p of r.problems) lines.push(`error: ${name}: ${oneLine(p.message)}`);
  for (const w of r.warnings) lines.push(`warning: ${name}: ${oneLine(w.message)}`);
  if (r.ok) {
    const n = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
    lines.push(
      `ok: ${name}: ABI ${r.abiVersion}, ${n(r.imports.length, "import")}, ${n(r.callbacks.length, "callback")}, ${n(r.size, "byte")}`,
    );
  } else {
    const n = r.problems.length;
    lines.push(`FAILED: ${name}: ${n} problem${n === 1 ? "" : "s"}`);
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
