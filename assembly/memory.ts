// Memory shared with the host: out-parameter slots, buffers the host hands in, a scratch area for
// strings and maps handed out, and UTF-8 conversion.
//
// Contract (proxy-wasm "Memory ownership"): the host allocates through our allocator export
// (malloc / proxy_on_memory_allocate = heap.alloc, memory the GC never sees or moves), copies data in
// and gives it to us. Every such buffer is copied into a managed object and freed here, exactly once.
// A null pointer with size 0 means "empty". Data we pass out lives in the scratch area, which is raw
// heap memory too, so nothing the host may still read can be collected.

import { noteCopied } from "./gc";

// Out-parameter slots: a pointer/size pair (or a u64) that host calls write through. Every wrapper
// reads them right after its call, so one set of slots serves all calls.
export const RET: usize = memory.data(16, 8);
// @ts-ignore: decorator
@inline export const RET_PTR: usize = RET;
// @ts-ignore: decorator
@inline export const RET_SIZE: usize = RET + 4;
// @ts-ignore: decorator
@inline export const RET_EXTRA: usize = RET + 8;

/** Allocation for the host (malloc and proxy_on_memory_allocate). Never calls the host. */
export function allocateForHost(size: usize): usize {
  return heap.alloc(size);
}

/**
 * Takes ownership of the buffer the host wrote into the RET slots: copies it into a new ArrayBuffer and
 * frees the host's allocation. Null pointer or size 0 gives an empty ArrayBuffer.
 */
export function takeReturnedBytes(): ArrayBuffer {
  const ptr = load<usize>(RET_PTR);
  const size = ptr == 0 ? 0 : load<u32>(RET_SIZE);
  const out = changetype<ArrayBuffer>(__new(size, idof<ArrayBuffer>()));
  if (ptr != 0) {
    memory.copy(changetype<usize>(out), ptr, size);
    heap.free(ptr);
  }
  noteCopied(size);
  return out;
}

/** Like takeReturnedBytes, but decodes the bytes as UTF-8 (see decodeUtf8 for invalid input). */
export function takeReturnedString(): string {
  const ptr = load<usize>(RET_PTR);
  const size = load<u32>(RET_SIZE);
  if (ptr == 0) return "";
  const s = decodeUtf8(ptr, size);
  heap.free(ptr);
  return s;
}

/** Frees a buffer the host wrote into the RET slots without reading it. */
export function discardReturned(): void {
  const ptr = load<usize>(RET_PTR);
  if (ptr != 0) heap.free(ptr);
}

// ---- scratch areas for data handed to the host ----
// Independent raw buffers, so one host call can take two maps and three strings at once:
// SCRATCH_MAP and SCRATCH_MAP2 (serialized maps, property paths), SCRATCH_A, _B, _C (strings).

export const SCRATCH_MAP: i32 = 0;
export const SCRATCH_MAP2: i32 = 1;
export const SCRATCH_A: i32 = 2;
export const SCRATCH_B: i32 = 3;
export const SCRATCH_C: i32 = 4;
const SCRATCH_SLOTS: usize = memory.data(40, 4); // 5 x (pointer, capacity)

/** A raw buffer of at least `size` bytes in `slot`, valid until that slot is used again. */
export function scratch(size: usize, slot: i32 = SCRATCH_MAP): usize {
  const at = SCRATCH_SLOTS + (<usize>slot << 3);
  let ptr = load<usize>(at);
  const cap = <usize>load<u32>(at, 4);
  if (size > cap) {
    if (ptr != 0) heap.free(ptr);
    let n: usize = cap << 1;
    if (n < size) n = size;
    ptr = heap.alloc(n);
    store<usize>(at, ptr);
    store<u32>(at, <u32>n, 4);
  }
  return ptr;
}

/** Encodes `s` as UTF-8 into a scratch slot; returns the pointer, the length in `encodedLength`. */
export let encodedLength: usize = 0;
export function encodeToScratch(s: string, slot: i32): usize {
  const ptr = scratch(utf8Bound(s), slot);
  encodedLength = encodeUtf16Units(changetype<usize>(s), <usize>s.length, ptr);
  return ptr;
}

/** Upper bound of the UTF-8 size of a string (3 bytes per UTF-16 unit). */
// @ts-ignore: decorator
@inline export function utf8Bound(s: string): usize {
  return <usize>s.length * 3;
}

/**
 * Writes `s` as UTF-8 at `dst` (room for utf8Bound(s) bytes) and returns the byte count. Unpaired
 * surrogates become U+FFFD, so the output is always valid UTF-8.
 */
export function encodeUtf8Into(s: string, dst: usize): usize {
  return encodeUtf16Units(changetype<usize>(s), <usize>s.length, dst);
}

/** Writes `units` UTF-16 code units from `src` as UTF-8 at `dst`; returns the byte count. */
export function encodeUtf16Units(src: usize, units: usize, dst: usize): usize {
  let p = src;
  const end = p + (units << 1);
  let o = dst;
  while (p < end) {
    let c = <u32>load<u16>(p);
    p += 2;
    if (c < 0x80) {
      store<u8>(o++, <u8>c); // ASCII: the common case, first
      continue;
    }
    if ((c & 0xf800) == 0xd800) {
      // A high surrogate followed by a low one is one code point; any other surrogate is U+FFFD.
      const c2 = p < end ? <u32>load<u16>(p) : 0;
      if (c < 0xdc00 && (c2 & 0xfc00) == 0xdc00) {
        c = 0x10000 + ((c & 0x3ff) << 10) + (c2 & 0x3ff);
        p += 2;
      } else {
        c = 0xfffd;
      }
    }
    // n continuation bytes (0 for ASCII); the lead byte is c itself, 110xxxxx, 1110xxxx or 11110xxx.
    let n: u32 = u32(c >= 0x80) + u32(c >= 0x800) + u32(c >= 0x10000);
    store<u8>(o++, <u8>((<u32>0xf0e0c000 >> (n << 3)) | (c >> (6 * n))));
    while (n != 0) {
      n--;
      store<u8>(o++, <u8>(0x80 | ((c >> (6 * n)) & 0x3f)));
    }
  }
  return o - dst;
}

/** The UTF-8 bytes of `s` in a new ArrayBuffer (unpaired surrogates become U+FFFD). */
export function encodeUtf8(s: string): ArrayBuffer {
  const tmp = scratch(utf8Bound(s), SCRATCH_C);
  const n = encodeUtf8Into(s, tmp);
  const out = changetype<ArrayBuffer>(__new(n, idof<ArrayBuffer>()));
  memory.copy(changetype<usize>(out), tmp, n);
  return out;
}

// ---- UTF-8 decoding ----

/**
 * Decodes UTF-8 bytes into a string. Invalid sequences (bad lead or continuation bytes, overlong forms,
 * surrogates, code points above U+10FFFF, truncation) become U+FFFD, one per maximal invalid subpart,
 * as the WHATWG Encoding standard and JavaScript's TextDecoder do. Use the bytes accessors when the
 * exact bytes matter: this conversion is lossy for invalid input.
 */
export function decodeUtf8(ptr: usize, len: usize): string {
  noteCopied(len << 1);
  // At most one UTF-16 unit per input byte; the string is trimmed to its size at the end.
  const out = __new(len << 1, idof<String>());
  let o = out;
  const end = ptr + len;
  let p = ptr;
  while (p < end) {
    let cp = <u32>load<u8>(p++);
    if (cp < 0x80) {
      store<u16>(o, <u16>cp); // ASCII: the common case, first
      o += 2;
      continue;
    }
    const b0 = cp;
    cp = 0xfffd;
    if (b0 - 0xc2 <= 0xf4 - 0xc2) {
      // n continuation bytes, and the valid range of the second byte (excludes overlongs,
      // surrogates and code points above U+10FFFF).
      let n: u32 = 1 + u32(b0 >= 0xe0) + u32(b0 >= 0xf0);
      let lo: u32 = b0 == 0xe0 ? 0xa0 : b0 == 0xf0 ? 0x90 : 0x80;
      let hi: u32 = b0 == 0xed ? 0x9f : b0 == 0xf4 ? 0x8f : 0xbf;
      let v = b0 & (0x7f >> n);
      while (n != 0 && p < end) {
        const b = <u32>load<u8>(p);
        if (b - lo > hi - lo) break;
        lo = 0x80;
        hi = 0xbf;
        v = (v << 6) | (b & 0x3f);
        p++;
        n--;
      }
      // A complete sequence gives its code point; a broken one (its maximal valid prefix) one U+FFFD.
      if (n == 0) cp = v;
    }
    if (cp >= 0x10000) {
      // A surrogate pair: the high half here, the low half below.
      cp -= 0x10000;
      store<u16>(o, <u16>(0xd800 | (cp >> 10)));
      o += 2;
      cp = 0xdc00 | (cp & 0x3ff);
    }
    store<u16>(o, <u16>cp);
    o += 2;
  }
  // ASCII (and any text of one unit per byte) fills the string exactly; otherwise it is trimmed.
  const size = o - out;
  return changetype<string>(size == len << 1 ? out : __renew(out, size));
}

/** Decodes the whole ArrayBuffer as UTF-8 (see decodeUtf8). */
export function bytesToString(bytes: ArrayBuffer): string {
  return decodeUtf8(changetype<usize>(bytes), <usize>bytes.byteLength);
}

/** Whether two byte ranges are equal. */
export function bytesEqual(a: usize, aLen: usize, b: usize, bLen: usize): bool {
  return aLen == bLen && memory.compare(a, b, aLen) == 0;
}
