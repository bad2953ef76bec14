// Readers of the Wasm binary's sections: each reads one section's payload into the ParsedModule,
// checking every index it reads against what the module declared before it.
import { hex, KINDS, plural, type Reader } from "./reader.js";
import type { ExportEntry, GlobalType, ImportEntry, ParsedModule, ValType } from "./types.js";

export function typeIndex(r: Reader, m: ParsedModule): number {
  const at = r.pos;
  const i = r.u32();
  if (i >= m.types.length) {
    r.fail(`type index ${i} out of range (the module has ${plural(m.types.length, "type")})`, at);
  }
  return i;
}

export function globalType(r: Reader): GlobalType {
  const type = r.valType();
  const at = r.pos;
  const mut = r.u8();
  if (mut > 1) r.fail(`invalid global mutability ${hex(mut)}`, at);
  return { type, mutable: mut === 1 };
}

export function readTypes(r: Reader, m: ParsedModule): void {
  const n = r.count("type", 3);
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const form = r.u8();
    if (form !== 0x60) {
      if (form === 0x4e || form === 0x4f || form === 0x50 || form === 0x5e || form === 0x5f) {
        r.fail(`unsupported type definition ${hex(form)} (GC proposal types are not supported)`, at);
      }
      r.fail(`invalid function type form ${hex(form)} (expected 0x60)`, at);
    }
    const np = r.count("parameter");
    const params: ValType[] = [];
    for (let j = 0; j < np; j++) params.push(r.valType());
    const nr = r.count("result");
    const results: ValType[] = [];
    for (let j = 0; j < nr; j++) results.push(r.valType());
    m.types.push({ params, results });
  }
}

export function readImports(r: Reader, m: ParsedModule): void {
  const n = r.count("import", 4);
  for (let i = 0; i < n; i++) {
    const module = r.name("import module name");
    const name = r.name("import name");
    const at = r.pos;
    const kindByte = r.u8();
    const kind = KINDS[kindByte];
    if (kind === undefined) r.fail(`import ${module}.${name} has invalid kind ${hex(kindByte)}`, at);
    const imp: ImportEntry = { module, name, kind };
    switch (kind) {
      case "function": {
        const t = typeIndex(r, m);
        imp.typeIndex = t;
        imp.params = [...m.types[t].params];
        imp.results = [...m.types[t].results];
        m.functionTypeIndices.push(t);
        m.importedFunctionCount++;
        break;
      }
      case "table": {
        const element = r.refType();
        imp.table = { element, limits: r.limits("table") };
        m.tables.push(imp.table);
        break;
      }
      case "memory":
        imp.memory = r.limits("memory");
        m.memories.push({ index: m.memories.length, importedFrom: `${module}.${name}`, limits: imp.memory, exportedAs: [] });
        break;
      case "global":
        imp.global = globalType(r);
        m.globals.push(imp.global);
        break;
      case "tag": {
        const attrAt = r.pos;
        if (r.u8() !== 0) r.fail("invalid tag attribute", attrAt);
        const t = typeIndex(r, m);
        imp.typeIndex = t;
        imp.params = [...m.types[t].params];
        imp.results = [...m.types[t].results];
        m.tagCount++;
        break;
      }
    }
    m.imports.push(imp);
  }
}

export function readExports(r: Reader, m: ParsedModule): void {
  const n = r.count("export", 3);
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const nameAt = r.pos;
    const name = r.name("export name");
    if (seen.has(name)) r.fail(`duplicate export name "${name}"`, nameAt);
    seen.add(name);
    const at = r.pos;
    const kindByte = r.u8();
    const kind = KINDS[kindByte];
    if (kind === undefined) r.fail(`export "${name}" has invalid kind ${hex(kindByte)}`, at);
    const indexAt = r.pos;
    const index = r.u32();
    const limit =
      kind === "function"
        ? m.functionTypeIndices.length
        : kind === "table"
          ? m.tables.length
          : kind === "memory"
            ? m.memories.length
            : kind === "global"
              ? m.globals.length
              : m.tagCount;
    if (index >= limit) {
      r.fail(`export "${name}" refers to ${kind} ${index}, but the module has ${plural(limit, kind)}`, indexAt);
    }
    const exp: ExportEntry = { name, kind, index };
    if (kind === "function") {
      const t = m.types[m.functionTypeIndices[index]];
      exp.params = [...t.params];
      exp.results = [...t.results];
    } else if (kind === "memory") {
      m.memories[index].exportedAs.push(name);
    }
    m.exports.push(exp);
  }
}

export function readData(r: Reader, m: ParsedModule): void {
  const n = r.count("data segment");
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const flags = r.u32();
    if (flags === 0) {
      if (m.memories.length === 0) r.fail(`data segment ${i} targets memory 0 but the module has no memory`, at);
      r.constExpr();
    } else if (flags === 2) {
      const memAt = r.pos;
      const mem = r.u32();
      if (mem >= m.memories.length) r.fail(`data segment ${i} targets memory ${mem} which does not exist`, memAt);
      r.constExpr();
    } else if (flags !== 1) {
      r.fail(`data segment ${i} has invalid flags ${flags}`, at);
    }
    const len = r.u32();
    r.skip(len, `data segment ${i}`);
    m.dataBytes += len;
  }
  m.dataSegmentCount = n;
}

export function readFunctions(r: Reader, m: ParsedModule): void {
  const n = r.count("function");
  for (let i = 0; i < n; i++) m.functionTypeIndices.push(typeIndex(r, m));
  m.functionCount = n;
}

export function readTables(r: Reader, m: ParsedModule): void {
  const n = r.count("table", 2);
  for (let i = 0; i < n; i++) {
    const element = r.refType();
    m.tables.push({ element, limits: r.limits("table") });
  }
}

export function readMemories(r: Reader, m: ParsedModule): void {
  const n = r.count("memory", 2);
  for (let i = 0; i < n; i++) {
    m.memories.push({ index: m.memories.length, limits: r.limits("memory"), exportedAs: [] });
  }
}

export function readTags(r: Reader, m: ParsedModule): void {
  const n = r.count("tag", 2);
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    if (r.u8() !== 0) r.fail("invalid tag attribute", at);
    typeIndex(r, m);
  }
  m.tagCount += n;
}

export function readGlobals(r: Reader, m: ParsedModule): void {
  const n = r.count("global", 3);
  for (let i = 0; i < n; i++) {
    m.globals.push(globalType(r));
    r.constExpr();
  }
}

export function readStart(r: Reader, m: ParsedModule): void {
  const at = r.pos;
  const fn = r.u32();
  const total = m.functionTypeIndices.length;
  if (fn >= total) r.fail(`start function ${fn} does not exist (the module has ${plural(total, "function")})`, at);
  const t = m.types[m.functionTypeIndices[fn]];
  if (t.params.length || t.results.length) {
    r.fail(`start function ${fn} must take no parameters and return nothing`, at);
  }
  m.hasStart = true;
  m.startFunction = fn;
}

/** Checks the body count against the function section and skips every body; returns the count. */
export function readCode(r: Reader, m: ParsedModule): number {
  const at = r.pos;
  const n = r.count("function body");
  if (n !== m.functionCount) {
    r.fail(`the code section has ${n} function ${n === 1 ? "body" : "bodies"} but the function section declares ${m.functionCount}`, at);
  }
  for (let i = 0; i < n; i++) {
    const bodySize = r.u32();
    if (bodySize === 0) r.fail(`function body ${i} is empty`);
    r.skip(bodySize, `function body ${i}`);
  }
  return n;
}
