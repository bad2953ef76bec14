// Traps and aborts at the author's line: V8 reports a Wasm frame as `wasm-function[N]:0xOFFSET`, where
// OFFSET is a byte offset in the module. AssemblyScript (Binaryen) writes source maps whose generated
// column is that same byte offset (all on generated line 1), so one lookup per frame gives the
// TypeScript file, line and column. Decoding the mappings is @jridgewell/trace-mapping's job.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TraceMap, decodedMappings, traceSegment } from "@jridgewell/trace-mapping";
import { parseModule } from "../wasm/binary.js";

/** A position in a source file: `file` as the map names it, made relative to the working folder. */
export interface SourcePosition {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

/** One Wasm frame of a V8 stack. */
export interface WasmFrame {
  /** The function's name from the module's name section, when it has one. */
  name: string | null;
  functionIndex: number;
  /** Byte offset in the module. */
  offset: number;
}

/** A module's source map: byte offsets to TypeScript positions. */
export class ModuleSourceMap {
  private readonly map: TraceMap;
  private readonly files: string[];

  /**
   * `json` is the map's text; `mapPath` (the map's own path) resolves the map's relative source paths
   * to files, shown relative to the working folder. Throws when the text is not a source map.
   */
  constructor(json: string, mapPath?: string) {
    this.map = new TraceMap(json);
    const parsed = JSON.parse(json) as { sources: (string | null)[]; sourceRoot?: string };
    const root = parsed.sourceRoot ?? "";
    this.files = parsed.sources.map((s) => displayName(s ?? "", root, mapPath));
  }

  /**
   * The source position of a byte offset in the module, or null when no mapping covers it. Code the
   * compiler added (a null check's call to abort, say) has a mapping without a source; with
   * `nearest`, the closest mapped instruction before it is returned instead (the caller checks that
   * it is in the same function).
   */
  positionAt(offset: number, nearest = false): SourcePosition | null {
    const exact = traceSegment(this.map, 0, offset);
    if (!exact) return null;
    if (!nearest) {
      if (exact.length < 4) return null;
      const [, source, line, column] = exact as readonly [number, number, number, number];
      return { file: this.files[source], line: line + 1, column: column + 1 };
    }
    const segments = decodedMappings(this.map)[0] ?? [];
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid][0] <= offset) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo; i >= 0; i--) {
      const seg = segments[i];
      if (seg.length >= 4) {
        const [, source, line, column] = seg as readonly [number, number, number, number];
        return { file: this.files[source], line: line + 1, column: column + 1 };
      }
    }
    return null;
  }
}

/** ~lib sources (the compiler's and packages') keep their name; files are relative to the working folder. */
function displayName(source: string, root: string, mapPath?: string): string {
  if (source.startsWith("~lib/")) return source;
  const joined = root ? `${root.replace(/\/$/, "")}/${source}` : source;
  if (!mapPath) return joined;
  const abs = path.resolve(path.dirname(mapPath), joined);
  const rel = path.relative(process.cwd(), abs);
  return rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
}

/** The source map of a module file: `<file>.map` beside it, else the one its sourceMappingURL names. */
export function readSourceMap(wasmPath: string): ModuleSourceMap | null {
  const candidates = [`${wasmPath}.map`];
  try {
    const url = sourceMappingUrl(readFileSync(wasmPath));
    if (url?.startsWith("file:")) candidates.push(fileURLToPath(url));
    else if (url && !/^[a-z][a-z0-9+.-]*:/i.test(url)) candidates.push(path.resolve(path.dirname(wasmPath), url));
  } catch {
    // an unreadable or malformed module has no map; whoever loads it reports why
  }
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    try {
      return new ModuleSourceMap(readFileSync(file, "utf8"), file);
    } catch {
      return null;
    }
  }
  return null;
}

/** The URL in a module's sourceMappingURL custom section, or null. */
export function sourceMappingUrl(wasm: Uint8Array): string | null {
  const section = parseModule(wasm).sections.find((s) => s.customName === "sourceMappingURL");
  if (!section) return null;
  // payload: name (length-prefixed), then the URL (length-prefixed); lengths fit in one LEB128 byte here
  // only for short strings, so read them properly.
  let p = section.offset + 1;
  p = skipLeb(wasm, p); // section size
  const nameLen = readLeb(wasm, p);
  p = skipLeb(wasm, p) + nameLen;
  const urlLen = readLeb(wasm, p);
  p = skipLeb(wasm, p);
  return Buffer.from(wasm.subarray(p, p + urlLen)).toString("utf8");
}

/** The module without a trailing sourceMappingURL section (the map stays beside it for tools). */
export function withoutSourceMappingUrl(wasm: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const sections = parseModule(wasm).sections;
  const last = sections[sections.length - 1];
  return last?.customName === "sourceMappingURL" ? wasm.slice(0, last.offset) : wasm;
}

function readLeb(bytes: Uint8Array, p: number): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[p++];
    result |= (b & 0x7f) << shift;
    if (!(b & 0x80)) return result >>> 0;
    shift += 7;
  }
}

function skipLeb(bytes: Uint8Array, p: number): number {
  while (bytes[p] & 0x80) p++;
  return p + 1;
}

/** The Wasm frames of a V8 stack, innermost first. */
export function wasmFrames(stack: string): WasmFrame[] {
  const frames: WasmFrame[] = [];
  for (const line of stack.split("\n")) {
    const m = /^\s*at (?:(.*?) \()?wasm:\/\/wasm\/[0-9a-f]+:wasm-function\[(\d+)\]:0x([0-9a-f]+)\)?\s*$/.exec(line);
    if (m) frames.push({ name: m[1] ?? null, functionIndex: Number(m[2]), offset: parseInt(m[3], 16) });
  }
  return frames;
}

/** A trap's place in the author's sources. */
export interface SourceTrace {
  /** The innermost frame in the author's code (not ~lib), or the innermost mapped frame. */
  at: SourcePosition | null;
  /** Mapped frames, innermost first, `name (file:line:col)` or `file:line:col`, up to the SDK's dispatcher. */
  stack: string[];
}

/**
 * Maps the Wasm frames of `stack` through `map`. Frames below the author's code inside the SDK are
 * left out. `originalOffset` maps offsets of a rewritten module (memory capped, instrumented) back to
 * the built module's.
 */
export function sourceTrace(
  stack: string,
  map: ModuleSourceMap,
  limit = 8,
  originalOffset: (offset: number) => number = (o) => o,
): SourceTrace {
  const mapped: { pos: SourcePosition; name: string | null }[] = [];
  for (const f of wasmFrames(stack)) {
    const offset = originalOffset(f.offset);
    let pos = map.positionAt(offset);
    // An unmapped instruction (compiler-added code) of a named function: the nearest mapped one
    // before it, if that is in the file the function's name says it comes from.
    if (!pos && f.name) {
      const near = map.positionAt(offset, true);
      const from = f.name.slice(0, Math.max(0, f.name.lastIndexOf("/")));
      if (near && from && near.file.replace(/\\/g, "/").endsWith(`${from.replace(/^~lib\//, "")}.ts`)) pos = near;
    }
    if (pos) mapped.push({ pos, name: f.name });
  }
  // The SDK's abort handler (reached from abort, throw and failed assertions) is not the place.
  while (mapped.length > 0 && mapped[0].pos.file.startsWith("~lib/proxy-wasm-as/assembly/abort")) mapped.shift();
  const isAuthor = (p: SourcePosition) => !p.file.startsWith("~lib/");
  const first = mapped.findIndex((m) => isAuthor(m.pos));
  // After the author's outermost frame, the rest is the SDK calling in: not worth showing.
  let end = mapped.length;
  if (first >= 0) {
    let last = first;
    while (last + 1 < mapped.length && isAuthor(mapped[last + 1].pos)) last++;
    end = last + 1;
  }
  const frames = mapped.slice(0, Math.min(end, limit)).map(({ pos, name }) => {
    const where = formatPosition(pos);
    return name ? `${shortName(name)} (${where})` : where;
  });
  return { at: first >= 0 ? mapped[first].pos : (mapped[0]?.pos ?? null), stack: frames };
}

/** `file:line:col`. */
export function formatPosition(p: SourcePosition): string {
  return `${p.file}:${p.line}:${p.column}`;
}

/** `div/DivFilter#onHttpRequestHeaders` -> `DivFilter#onHttpRequestHeaders`; `~lib/...` names keep their last part. */
function shortName(name: string): string {
  const slash = name.lastIndexOf("/");
  return slash >= 0 ? name.slice(slash + 1) : name;
}
