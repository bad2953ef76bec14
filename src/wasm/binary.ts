// A small, dependency-free reader of the WebAssembly binary format (core spec, binary encoding).
//
// It reads what the tools need to judge a proxy-wasm module without instantiating it: types,
// imports, functions, tables, memories, globals, exports, the start function, element/data/code
// section sizes and custom sections. It checks the structure (section order and sizes, every
// LEB128 integer, every index it reads) but does not validate function bodies; that is the
// engine's job. Any defect is reported as one WasmFormatError whose message is a single line
// naming what is wrong and where ("truncated section 'import' at offset 0x1a: ..."); nothing
// else is ever thrown for any input bytes.

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

const SECTION_NAMES = [
  "custom",
  "type",
  "import",
  "function",
  "table",
  "memory",
  "global",
  "export",
  "start",
  "element",
  "code",
  "data",
  "datacount",
  "tag",
] as const;

/** Position of each non-custom section id in the order the spec requires. */
const SECTION_ORDER: Record<number, number> = {
  1: 1, // type
  2: 2, // import
  3: 3, // function
  4: 4, // table
  5: 5, // memory
  13: 6, // tag (exception handling) sits between memory and global
  6: 7, // global
  7: 8, // export
  8: 9, // start
  9: 10, // element
  12: 11, // datacount sits before code
  10: 12, // code
  11: 13, // data
};

const VAL_TYPES: Record<number, ValType> = {
  0x7f: "i32",
  0x7e: "i64",
  0x7d: "f32",
  0x7c: "f64",
  0x7b: "v128",
  0x70: "funcref",
  0x6f: "externref",
};

const KINDS: ExternKind[] = ["function", "table", "memory", "global", "tag"];

const hex = (n: number): string => "0x" + n.toString(16);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Thrown inside a section; turned into a WasmFormatError that names the section. */
class SectionFault extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

/** Bounds-checked cursor over bytes[pos, end). Every read fails cleanly past `end`. */
class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    public end: number,
  ) {}

  fail(message: string, at: number = this.pos): never {
    throw new SectionFault(message, at);
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  u8(): number {
    if (this.pos >= this.end) this.fail("unexpected end of section");
    return this.bytes[this.pos++];
  }

  skip(n: number, what: string): void {
    if (n > this.end - this.pos) {
      this.fail(`${what} of ${n} bytes runs past the end of the section (${this.end - this.pos} left)`);
    }
    this.pos += n;
  }

  take(n: number, what: string): Uint8Array {
    const start = this.pos;
    this.skip(n, what);
    return this.bytes.subarray(start, start + n);
  }

  /** Unsigned LEB128 of at most `bits` bits (32 or 64), as a JS number (64-bit values above 2^53 fail). */
  uleb(bits: 32 | 64 = 32): number {
    const start = this.pos;
    const maxBytes = Math.ceil(bits / 7);
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.fail("unexpected end of section inside a LEB128 integer", start);
      const byte = this.bytes[this.pos++];
      if (i === maxBytes - 1) {
        // Last allowed byte: no continuation, and no bits beyond `bits`.
        const usedBits = bits - 7 * i;
        if (byte & 0x80) this.fail(`LEB128 integer longer than ${maxBytes} bytes`, start);
        if (byte >> usedBits !== 0) this.fail(`LEB128 integer does not fit in u${bits}`, start);
      }
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if (!(byte & 0x80)) break;
    }
    if (!Number.isSafeInteger(result)) this.fail("LEB128 integer too large", start);
    return result;
  }

  u32(): number {
    return this.uleb(32);
  }

  /** Skips a signed LEB128 of at most `bits` bits, checking its length and unused bits. */
  sleb(bits: 32 | 33 | 64): void {
    const start = this.pos;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.fail("unexpected end of section inside a LEB128 integer", start);
      const byte = this.bytes[this.pos++];
      if (i === maxBytes - 1) {
        if (byte & 0x80) this.fail(`LEB128 integer longer than ${maxBytes} bytes`, start);
        // Bits above the value's width must all equal its sign bit.
        const usedBits = bits - 7 * i; // including the sign bit
        const high = byte >> (usedBits - 1); // sign bit and the unused bits above it
        const ones = (0x7f >> (usedBits - 1)) & 0x7f;
        if (high !== 0 && high !== ones) this.fail(`LEB128 integer does not fit in s${bits}`, start);
        break;
      }
      if (!(byte & 0x80)) break;
    }
  }

  /** A vector length, sanity-checked against the bytes left (every element takes >= minSize bytes). */
  count(what: string, minSize = 1): number {
    const start = this.pos;
    const n = this.u32();
    if (n * minSize > this.end - this.pos) {
      this.fail(`${what} count ${n} is larger than the section can hold (${this.end - this.pos} bytes left)`, start);
    }
    return n;
  }

  name(what: string): string {
    const start = this.pos;
    const len = this.u32();
    const raw = this.take(len, what);
    try {
      return utf8.decode(raw);
    } catch {
      this.fail(`${what} is not valid UTF-8`, start);
    }
  }

  valType(): ValType {
    const at = this.pos;
    const b = this.u8();
    const t = VAL_TYPES[b];
    if (!t) {
      if (b === 0x63 || b === 0x64 || (b >= 0x65 && b <= 0x6e) || b === 0x71 || b === 0x72 || b === 0x73 || b === 0x74) {
        this.fail(`unsupported value type ${hex(b)} (typed references / GC are not supported)`, at);
      }
      this.fail(`invalid value type ${hex(b)}`, at);
    }
    return t;
  }

  refType(): ValType {
    const at = this.pos;
    const t = this.valType();
    if (t !== "funcref" && t !== "externref") this.fail(`invalid reference type ${t}`, at);
    return t;
  }

  limits(kind: "memory" | "table"): Limits {
    const at = this.pos;
    const flags = this.u8();
    const allowed = kind === "memory" ? 0x07 : 0x05;
    if (flags & ~allowed) this.fail(`invalid ${kind} limits flags ${hex(flags)}`, at);
    const hasMax = (flags & 1) !== 0;
    const shared = (flags & 2) !== 0;
    const is64 = (flags & 4) !== 0;
    const min = this.uleb(is64 ? 64 : 32);
    const max = hasMax ? this.uleb(is64 ? 64 : 32) : undefined;
    if (max !== undefined && max < min) this.fail(`${kind} maximum ${max} is smaller than its minimum ${min}`, at);
    if (shared && max === undefined) this.fail("shared memory must declare a maximum", at);
    if (kind === "memory" && !is64) {
      const pages = 65536;
      if (min > pages || (max !== undefined && max > pages)) {
        this.fail(`memory of more than ${pages} pages (4 GiB) is not allowed for a 32-bit memory`, at);
      }
    }
    return max === undefined ? { min, shared, is64 } : { min, max, shared, is64 };
  }

  /** Skips a constant expression (global initializers, segment offsets) up to its `end`. */
  constExpr(): void {
    const start = this.pos;
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      switch (op) {
        case 0x0b: // end
          if (this.pos - start === 1) this.fail("empty constant expression", at);
          return;
        case 0x41: // i32.const
          this.sleb(32);
          break;
        case 0x42: // i64.const
          this.sleb(64);
          break;
        case 0x43: // f32.const
          this.skip(4, "f32 constant");
          break;
        case 0x44: // f64.const
          this.skip(8, "f64 constant");
          break;
        case 0x23: // global.get
        case 0xd2: // ref.func
          this.u32();
          break;
        case 0xd0: // ref.null heaptype
          this.sleb(33);
          break;
        case 0x6a: // i32.add, i32.sub, i32.mul (extended constant expressions)
        case 0x6b:
        case 0x6c:
        case 0x7c: // i64.add, i64.sub, i64.mul
        case 0x7d:
        case 0x7e:
          break;
        case 0xfd: {
          // v128.const: prefix 0xfd, opcode 12, 16 bytes
          const sub = this.u32();
          if (sub !== 12) this.fail(`unsupported instruction 0xfd ${sub} in a constant expression`, at);
          this.skip(16, "v128 constant");
          break;
        }
        default:
          this.fail(`unsupported instruction ${hex(op)} in a constant expression`, at);
      }
    }
  }
}

/**
 * Parses a Wasm binary. Throws WasmFormatError (and nothing else) when the bytes are not a
 * well-formed core module.
 */
export function parseModule(bytes: Uint8Array): ParsedModule {
  try {
    return parse(bytes);
  } catch (err) {
    if (err instanceof WasmFormatError) throw err;
    // A bug in this reader must still surface as a one-line format error, never a crash.
    const e = err as Error;
    throw new WasmFormatError(`cannot read the module: ${e?.message ?? String(err)}`);
  }
}

function checkHeader(bytes: Uint8Array): void {
  if (bytes.length === 0) throw new WasmFormatError("not a Wasm module: the file is empty", 0);
  const magic = [0x00, 0x61, 0x73, 0x6d];
  const head = bytes.subarray(0, Math.min(4, bytes.length));
  const magicOk = head.every((b, i) => b === magic[i]);
  if (!magicOk) {
    const text = new TextDecoder("utf-8").decode(bytes.subarray(0, 64)).trimStart();
    if (text.startsWith("(module") || text.startsWith(";;") || text.startsWith("(;")) {
      throw new WasmFormatError(
        "not a Wasm module: bad magic (this is WebAssembly text, WAT; compile it to binary first, e.g. with wat2wasm)",
        0,
      );
    }
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      throw new WasmFormatError("not a Wasm module: bad magic (this is a gzip file; decompress it first)", 0);
    }
    const shown = Array.from(head, (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new WasmFormatError(`not a Wasm module: bad magic (starts with ${shown}, expected 00 61 73 6d)`, 0);
  }
  if (bytes.length < 8) {
    throw new WasmFormatError(`not a Wasm module: truncated header (${bytes.length} bytes, need 8)`, bytes.length);
  }
  const version = bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24);
  if (version !== 1) {
    if (bytes[6] === 0x01 && bytes[7] === 0x00) {
      throw new WasmFormatError(
        "not a Wasm core module: this is a WebAssembly component (component model); proxy-wasm hosts load core modules only",
        4,
      );
    }
    throw new WasmFormatError(`not a Wasm module: unsupported binary version ${version >>> 0} (expected 1)`, 4);
  }
}

function parse(bytes: Uint8Array): ParsedModule {
  checkHeader(bytes);
  const m: ParsedModule = {
    version: 1,
    size: bytes.length,
    types: [],
    imports: [],
    exports: [],
    functionCount: 0,
    importedFunctionCount: 0,
    functionTypeIndices: [],
    tables: [],
    memories: [],
    globals: [],
    tagCount: 0,
    hasStart: false,
    dataSegmentCount: 0,
    dataBytes: 0,
    elementSegmentCount: 0,
    codeSectionSize: 0,
    dataSectionSize: 0,
    sections: [],
    customSections: [],
  };
  let lastOrder = 0;
  let lastName = "";
  let codeCount: number | undefined;

  const file = new Reader(bytes, 8, bytes.length);
  while (!file.atEnd()) {
    const offset = file.pos;
    const id = bytes[file.pos++];
    const name: string | undefined = SECTION_NAMES[id];
    if (name === undefined) {
      throw new WasmFormatError(`malformed module: unknown section id ${id} at offset ${hex(offset)}`, offset);
    }
    let size: number;
    try {
      size = file.u32();
    } catch (err) {
      if (!(err instanceof SectionFault)) throw err;
      if (err.message.startsWith("unexpected end")) {
        throw new WasmFormatError(
          `truncated section '${name}' at offset ${hex(offset)}: the file ends inside the section header`,
          offset,
        );
      }
      throw new WasmFormatError(`malformed section '${name}' header at offset ${hex(offset)}: ${err.message}`, offset);
    }
    const start = file.pos;
    if (size > bytes.length - start) {
      throw new WasmFormatError(
        `truncated section '${name}' at offset ${hex(offset)}: declares ${plural(size, "byte")} but only ${plural(bytes.length - start, "byte")} remain in the file`,
        offset,
      );
    }
    if (id !== 0) {
      const order = SECTION_ORDER[id];
      if (order <= lastOrder) {
        const why = order === lastOrder ? "appears twice" : `comes after section '${lastName}'`;
        throw new WasmFormatError(`malformed module: section '${name}' at offset ${hex(offset)} ${why}`, offset);
      }
      lastOrder = order;
      lastName = name;
    }
    const info: SectionInfo = { id, name, offset, size };
    const r = new Reader(bytes, start, start + size);
    try {
      switch (id) {
        case 0: {
          const custom = r.name("custom section name");
          info.customName = custom;
          m.customSections.push({ name: custom, size });
          r.pos = r.end;
          break;
        }
        case 1:
          readTypes(r, m);
          break;
        case 2:
          readImports(r, m);
          break;
        case 3: {
          const n = r.count("function");
          for (let i = 0; i < n; i++) m.functionTypeIndices.push(typeIndex(r, m));
          m.functionCount = n;
          break;
        }
        case 4: {
          const n = r.count("table", 2);
          for (let i = 0; i < n; i++) {
            const element = r.refType();
            m.tables.push({ element, limits: r.limits("table") });
          }
          break;
        }
        case 5: {
          const n = r.count("memory", 2);
          for (let i = 0; i < n; i++) {
            m.memories.push({ index: m.memories.length, limits: r.limits("memory"), exportedAs: [] });
          }
          break;
        }
        case 13: {
          const n = r.count("tag", 2);
          for (let i = 0; i < n; i++) {
            const at = r.pos;
            if (r.u8() !== 0) r.fail("invalid tag attribute", at);
            typeIndex(r, m);
          }
          m.tagCount += n;
          break;
        }
        case 6: {
          const n = r.count("global", 3);
          for (let i = 0; i < n; i++) {
            m.globals.push(globalType(r));
            r.constExpr();
          }
          break;
        }
        case 7:
          readExports(r, m);
          break;
        case 8: {
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
          break;
        }
        case 9: {
          // Element segments are not needed by any tool; only their count is read.
          m.elementSegmentCount = r.count("element segment");
          r.pos = r.end;
          break;
        }
        case 12:
          m.dataCount = r.u32();
          break;
        case 10: {
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
          codeCount = n;
          m.codeSectionSize = size;
          break;
        }
        case 11:
          readData(r, m);
          m.dataSectionSize = size;
          break;
      }
      if (r.pos !== r.end) {
        r.fail(`${plural(r.end - r.pos, "unused byte")} at the end of the section`);
      }
    } catch (err) {
      if (!(err instanceof SectionFault)) throw err;
      const what = id === 0 && info.customName !== undefined ? `custom section '${info.customName}'` : `section '${name}'`;
      throw new WasmFormatError(`malformed ${what} at offset ${hex(err.at)}: ${err.message}`, err.at);
    }
    m.sections.push(info);
    file.pos = start + size;
  }

  if (m.functionCount > 0 && codeCount === undefined) {
    throw new WasmFormatError(
      `malformed module: the function section declares ${plural(m.functionCount, "function")} but there is no code section`,
      bytes.length,
    );
  }
  if (m.dataCount !== undefined && m.dataCount !== m.dataSegmentCount) {
    throw new WasmFormatError(
      `malformed module: the data count section says ${m.dataCount} but the data section has ${plural(m.dataSegmentCount, "segment")}`,
      bytes.length,
    );
  }
  return m;
}

function typeIndex(r: Reader, m: ParsedModule): number {
  const at = r.pos;
  const i = r.u32();
  if (i >= m.types.length) {
    r.fail(`type index ${i} out of range (the module has ${plural(m.types.length, "type")})`, at);
  }
  return i;
}

function globalType(r: Reader): GlobalType {
  const type = r.valType();
  const at = r.pos;
  const mut = r.u8();
  if (mut > 1) r.fail(`invalid global mutability ${hex(mut)}`, at);
  return { type, mutable: mut === 1 };
}

function readTypes(r: Reader, m: ParsedModule): void {
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

function readImports(r: Reader, m: ParsedModule): void {
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

function readExports(r: Reader, m: ParsedModule): void {
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

function readData(r: Reader, m: ParsedModule): void {
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

/** The signature of function `index` (imports first), or undefined when out of range. */
export function functionType(m: ParsedModule, index: number): FuncType | undefined {
  const t = m.functionTypeIndices[index];
  return t === undefined ? undefined : m.types[t];
}
