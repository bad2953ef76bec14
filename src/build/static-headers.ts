// A size pass on the compiled module: drops the allocator block headers of AssemblyScript's static
// objects (string literals, constant arrays) from the data section.
//
// The compiler lays out each static object like a heap object: a 4-byte TLSF block header (the
// block's size), the 16-byte object header (two GC words, zero here, the class id and the byte
// size), then the contents. Binaryen keeps each nonzero run of bytes as a data segment of its own, so
// every static object costs a segment of one byte (the size) plus about five bytes of segment
// framing. The minimal runtime `build` uses never reads that word of a static object: the collector
// checks `ptr < __heap_base` before it frees or sizes a block, `__renew` copies a static object by
// its object-header size, and the small-block lists ignore static pointers. Memory the data section
// does not cover is zero, so dropping the segment leaves the word 0, which is what a static object
// then reads. Only a raw `heap.realloc` of a static object's address would read it, which the SDK and
// the compiler never do; the SDK's __realloc (assembly/small-blocks.ts) traps on one.
//
// Only a segment that is exactly such a header is dropped: at the address where the compiler placed a
// static object (recordStaticObjects watches it lay them out: a constant table of the filter's own
// may hold the same bytes), at most 4 bytes, holding the block size TLSF would give the object the
// next segment (12 bytes on) describes. Segments of every form are read (passive, an explicit memory
// index, offsets that are not a plain i32.const); a data section that cannot be read is left as it is.
import { Reader, SectionFault, uleb } from "../wasm/reader.js";

interface Segment {
  /** The segment's bytes in the section, framing included. */
  raw: Uint8Array;
  /** For an active segment of memory 0 at a constant i32 address: the address and the data. */
  address: number | null;
  data: Uint8Array;
}

/** TLSF's payload size for a block of `size` bytes (AssemblyScript's rt/tlsf computeSize). */
function blockPayload(size: number): number {
  return size <= 12 ? 12 : ((size + 4 + 15) & ~15) - 4;
}

function isStaticHeader(seg: Segment, next: Segment | undefined, headers: ReadonlySet<number>): boolean {
  if (seg.address === null || next?.address == null || !headers.has(seg.address)) return false;
  if (seg.data.length === 0 || seg.data.length > 4 || (seg.address + 20) % 16 !== 0) return false;
  if (next.address !== seg.address + 12) return false;
  // Little-endian words; bytes past a segment's end are zero (an empty string's size is trimmed off).
  const word = (d: Uint8Array, at: number) => (d[at] ?? 0) + (d[at + 1] ?? 0) * 0x100 + (d[at + 2] ?? 0) * 0x10000 + (d[at + 3] ?? 0) * 0x1000000;
  const classId = word(next.data, 0);
  return classId !== 0 && word(seg.data, 0) === blockPayload(16 + word(next.data, 4));
}

/**
 * The data segments of the data section at [pos, end): each with its address when it is an active
 * segment of memory 0 at a plain `i32.const` offset. Throws SectionFault on anything it cannot read.
 */
function readSegments(wasm: Uint8Array, pos: number, end: number): Segment[] {
  const r = new Reader(wasm, pos, end);
  const segments: Segment[] = [];
  const n = r.count("data segment");
  for (let i = 0; i < n; i++) {
    const start = r.pos;
    const flags = r.u32();
    let address: number | null = null;
    if (flags === 1) {
      // passive: no memory, no offset
    } else if (flags === 0 || flags === 2) {
      const memory = flags === 2 ? r.u32() : 0;
      const expr = r.pos;
      r.constExpr();
      // `i32.const k; end`, and nothing else, is an address known here.
      if (memory === 0 && wasm[expr] === 0x41) {
        const k = new Reader(wasm, expr + 1, r.pos - 1);
        const value = k.sleb(32);
        if (k.atEnd() && value >= 0) address = value;
      }
    } else {
      r.fail(`data segment ${i} has invalid flags ${flags}`, start);
    }
    const data = r.take(r.u32(), "data segment");
    segments.push({ raw: wasm.subarray(start, r.pos), address, data });
  }
  if (!r.atEnd()) r.fail("bytes after the last data segment");
  return segments;
}

/**
 * `wasm` without the data segments that hold only a static object's block header (see above);
 * `headers` are the addresses of the static objects' block headers (recordStaticObjects).
 */
export function dropStaticBlockHeaders(wasm: Uint8Array, headers: ReadonlySet<number>): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  let dataCountAt = -1;
  let kept = -1;
  const sections = new Reader(wasm, 8, wasm.length);
  try {
    while (!sections.atEnd()) {
      const start = sections.pos;
      const id = sections.u8();
      const size = sections.u32();
      const body = sections.pos;
      sections.skip(size, "section");
      if (id === 12) dataCountAt = parts.length;
      if (id !== 11) {
        parts.push(wasm.subarray(start, sections.pos));
        continue;
      }
      const segments = readSegments(wasm, body, sections.pos);
      const left = segments.filter((s, i) => !isStaticHeader(s, segments[i + 1], headers));
      if (left.length === segments.length) return new Uint8Array(wasm);
      kept = left.length;
      const payload = Buffer.concat([Buffer.from(uleb(kept)), ...left.map((s) => s.raw)]);
      parts.push(Buffer.concat([Buffer.from([11, ...uleb(payload.length)]), payload]));
    }
  } catch (e) {
    // Not a module this pass understands (asc never writes one): leave it as it is.
    if (e instanceof SectionFault) return new Uint8Array(wasm);
    throw e;
  }
  if (kept < 0) return new Uint8Array(wasm);
  if (dataCountAt >= 0) {
    // The data count section (bulk memory) says how many segments follow.
    const count = uleb(kept);
    parts[dataCountAt] = Buffer.from([12, ...uleb(count.length), ...count]);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** The compiler's static-object segment (assemblyscript's MemorySegment: its offset is an i64). */
interface RuntimeSegment {
  offset: number | bigint | { low: number };
}
interface CompilerLike {
  program: object;
  addRuntimeMemorySegment(buffer: Uint8Array): RuntimeSegment;
}
/** Each compilation's program and the header addresses of the static objects laid out for it. */
const staticObjects = new WeakMap<object, Set<number>>();
let watching = false;

const addressOf = (offset: RuntimeSegment["offset"]): number => (typeof offset === "object" ? offset.low >>> 0 : Number(offset));

/**
 * An asc transform and the set it fills: the block-header address of every static object the
 * compiler lays out (its runtime memory segments: literals, constant arrays and buffers, function
 * objects; a `memory.data` block is not one). `headers()` is null when this compiler version could
 * not be watched, and the pass then drops nothing.
 */
export function recordStaticObjects(): { transform: unknown; headers(): Set<number> | null } {
  const headers = new Set<number>();
  let watched = false;
  class RecordStaticObjects {
    async afterInitialize(program: object): Promise<void> {
      const { Compiler } = await import("assemblyscript");
      const proto = Compiler.prototype as unknown as CompilerLike;
      const original = proto.addRuntimeMemorySegment;
      if (typeof original !== "function") return;
      if (!watching) {
        // Once per process; each compilation finds its own set by its program.
        proto.addRuntimeMemorySegment = function (this: CompilerLike, buffer: Uint8Array): RuntimeSegment {
          const segment = original.call(this, buffer);
          staticObjects.get(this.program)?.add(addressOf(segment.offset));
          return segment;
        };
        watching = true;
      }
      staticObjects.set(program, headers);
      watched = true;
    }
  }
  return { transform: RecordStaticObjects, headers: () => (watched ? headers : null) };
}
