// The SDK's side of the ABI: assembly/imports.ts (one @external declaration per host function of the
// latest ABI version) and assembly/enums.generated.ts (the ABI enumerations).
import type { AbiFunction } from "../abi.js";
import { GENERATED_NOTE, LATEST, availableIn, camel, type AbiTable } from "./table.js";

export function sdkImports(table: AbiTable): string {
  const out = [
    `// ${GENERATED_NOTE}`,
    `// The raw host functions of proxy-wasm ABI ${LATEST} (import module "env"), one declaration each.`,
    "// Every function returns a proxy_status_t (see Status in types.ts); out-parameters (return*) are",
    "// pointers the host writes through. Only the functions a filter reaches end up imported by its module.",
  ];
  let area = "";
  for (const fn of table.hostFunctions.filter((f) => availableIn(f, LATEST))) {
    if (fn.area !== area) {
      out.push("", `// ---- ${fn.area}`);
      area = fn.area;
    }
    out.push(...declaration(fn));
  }
  return `${out.join("\n")}\n`;
}

function declaration(fn: AbiFunction): string[] {
  const params = fn.params.map((p) => `${camel(p.name)}: ${p.sdkType}`).join(", ");
  const result = fn.results.length === 0 ? "void" : "u32";
  return [
    `/** ${fn.doc} */`,
    "// @ts-ignore: decorator",
    `@external("${fn.module}", "${fn.name}")`,
    `export declare function ${fn.name}(${params}): ${result};`,
  ];
}

export function sdkEnums(table: AbiTable): string {
  const out = [
    `// ${GENERATED_NOTE}`,
    '// The enumerations of the proxy-wasm ABI with the numbers on the wire (spec "Types"), named as in the',
    "// Rust SDK's `types` module. assembly/types.ts re-exports them.",
  ];
  for (const e of table.enums) {
    out.push("");
    if (e.doc) out.push(`/** ${e.doc} */`);
    out.push(`export enum ${e.name} {`);
    for (const [name, value] of Object.entries(e.values)) {
      const doc = e.valueDocs?.[name];
      if (doc) out.push(`  /** ${doc} */`);
      out.push(`  ${name} = ${value},`);
    }
    out.push("}");
  }
  return `${out.join("\n")}\n`;
}
