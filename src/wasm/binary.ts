// A small, dependency-free reader of the WebAssembly binary format (core spec, binary encoding).
//
// It reads what the tools need to judge a proxy-wasm module without instantiating it: types,
// imports, functions, tables, memories, globals, exports, the start function, element/data/code
// section sizes and custom sections. It checks the structure (section order and sizes, every
// LEB128 integer, every index it reads) but does not validate function bodies; that is the
// engine's job. Any defect is reported as one WasmFormatError whose message is a single line
// naming what is wrong and where ("truncated section 'import' at offset 0x1a: ..."); nothing
// else is ever thrown for any input bytes.

import { hex, plural, Reader, SectionFault } from "./reader.js";
import {
  readCode,
  readData,
  readExports,
  readFunctions,
  readGlobals,
  readImports,
  readMemories,
  readStart,
  readTables,
  readTags,
  readTypes,
} from "./sections.js";
import { WasmFormatError, type FuncType, type ParsedModule, type SectionInfo } from "./types.js";

export * from "./types.js";

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
        throw new WasmFormatError(`truncated section '${name}' at offset ${hex(offset)}: the file ends inside the section header`, offset);
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
        case 3:
          readFunctions(r, m);
          break;
        case 4:
          readTables(r, m);
          break;
        case 5:
          readMemories(r, m);
          break;
        case 13:
          readTags(r, m);
          break;
        case 6:
          readGlobals(r, m);
          break;
        case 7:
          readExports(r, m);
          break;
        case 8:
          readStart(r, m);
          break;
        case 9: {
          // Element segments are not needed by any tool; only their count is read.
          m.elementSegmentCount = r.count("element segment");
          r.pos = r.end;
          break;
        }
        case 12:
          m.dataCount = r.u32();
          break;
        case 10:
          codeCount = readCode(r, m);
          m.codeSectionSize = size;
          break;
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

/** The signature of function `index` (imports first), or undefined when out of range. */
export function functionType(m: ParsedModule, index: number): FuncType | undefined {
  const t = m.functionTypeIndices[index];
  return t === undefined ? undefined : m.types[t];
}
