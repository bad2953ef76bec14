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
// then reads. Only a raw `heap.realloc` of a static object's address would read it, and the SDK and
// the compiler never do that.
//
// Only a segment that is exactly such a header is dropped: at most 4 bytes at an address 20 bytes
// before a 16-byte boundary, holding the block size TLSF would give the object the next segment (12
// bytes on) describes.
import { uleb } from "../wasm/reader.js";


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

function isStaticHeader(seg: Segment, next: Segment | undefined): boolean {
  if (seg.address === null || next?.address == null) return false;
  if (seg.data.length === 0 || seg.data.length > 4 || (seg.address + 20) % 16 !== 0) return false;
  if (next.address !== seg.address + 12) return false;
  // Little-endian words; bytes past a segment's end are zero (an empty string's size is trimmed off).
  const word = (d: Uint8Array, at: number) => (d[at] ?? 0) + (d[at + 1] ?? 0) * 0x100 + (d[at + 2] ?? 0) * 0x10000 + (d[at + 3] ?? 0) * 0x1000000;
  const classId = word(next.data, 0);
  return classId !== 0 && word(seg.data, 0) === blockPayload(16 + word(next.data, 4));
}

/** `wasm` without the data segments that hold only a static object's block header (see above). */
export function dropStaticBlockHeaders(wasm: Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = wasm;
  let pos = 8;
  const leb = (): number => {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
  };
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let dataCountAt = -1;
  let removed = 0;
  let dataIndex = -1;
  while (pos < bytes.length) {
    const start = pos;
    const id = bytes[pos++];
    const size = leb();
    const end = pos + size;
    if (id === 12) dataCountAt = parts.length;
    if (id !== 11) {
      parts.push(bytes.subarray(start, end));
      pos = end;
      continue;
    }
    const segments: Segment[] = [];
    const n = leb();
    for (let i = 0; i < n; i++) {
      const segStart = pos;
      const flags = leb();
      let address: number | null = null;
      if (flags === 0 && bytes[pos] === 0x41) {
        pos++;
        // i32.const: a signed LEB; static addresses are small and positive.
        address = leb();
        if (bytes[pos++] !== 0x0b) address = null;
      } else if (flags === 0 || flags === 2) {
        if (flags === 2) leb();
        while (bytes[pos++] !== 0x0b);
      }
      const len = leb();
      segments.push({ raw: bytes.subarray(segStart, pos + len), address, data: bytes.subarray(pos, pos + len) });
      pos += len;
    }
    const kept = segments.filter((s, i) => !isStaticHeader(s, segments[i + 1]));
    removed = segments.length - kept.length;
    const body = [...uleb(kept.length)];
    const payload = Buffer.concat([Buffer.from(body), ...kept.map((s) => Buffer.from(s.raw))]);
    dataIndex = parts.length;
    parts.push(Buffer.concat([Buffer.from([11, ...uleb(payload.length)]), payload]));
    pos = end;
  }
  if (removed === 0) return new Uint8Array(wasm);
  if (dataCountAt >= 0 && dataIndex >= 0) {
    // The data count section (bulk memory) says how many segments follow.
    const kept = leb2(parts[dataIndex]);
    const countBody = uleb(kept);
    parts[dataCountAt] = Buffer.from([12, ...uleb(countBody.length), ...countBody]);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** The segment count at the start of a data section's payload (after its id and size). */
function leb2(section: Uint8Array): number {
  let pos = 1;
  while (section[pos] & 0x80) pos++;
  pos++;
  let result = 0;
  for (let shift = 0; ; shift += 7) {
    const b = section[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result;
  }
}
