// Memory shared with the host: out-parameter slots, buffers the host hands in, and a scratch area
// for strings and maps handed out.
//
// Contract (proxy-wasm "Memory ownership"): the host allocates through our allocator export
// (malloc / proxy_on_memory_allocate = heap.alloc, memory the GC never sees or moves), copies data in
// and gives it to us. Every such buffer is copied into a managed object and freed here, exactly once.
// A null pointer with size 0 means "empty". Data we pass out lives in the scratch area, or for a string
// literal in its UTF-8 copy (literals.ts), both raw heap memory, so nothing the host may still read can
// be collected; the host only reads them, it never frees them.

import { noteCopied } from "./gc";
import { decodeUtf8, encodeUtf16Units, unitsOf } from "./utf8";
import { keepLiteral, literalBytes, literalCached, literalEntry, literalFree, literalLength } from "./literals";

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
  memory.copy(changetype<usize>(out), ptr, size);
  heap.free(ptr); // the allocator ignores 0
  noteCopied(size);
  return out;
}

/** Like takeReturnedBytes, but decodes the bytes as UTF-8 (invalid input becomes U+FFFD). */
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
  heap.free(load<usize>(RET_PTR)); // the allocator ignores 0
}

// ---- scratch areas for data handed to the host ----
// Independent raw buffers, so one host call can take two maps and three strings at once:
// SCRATCH_MAP and SCRATCH_MAP2 (serialized maps, property paths), SCRATCH_A, _B, _C (strings), and
// SCRATCH_TEMP, where headers.ts's putUtf8z encodes a literal on its way into a map.
// A writer returns how many bytes it wrote; scratchAt(slot) is where they are.

// A slot is the address of its (pointer, capacity) pair.
const SCRATCH_SLOTS: usize = memory.data(48, 4); // 6 x (pointer, capacity)
export const SCRATCH_MAP: usize = SCRATCH_SLOTS;
export const SCRATCH_MAP2: usize = SCRATCH_SLOTS + 8;
export const SCRATCH_A: usize = SCRATCH_SLOTS + 16;
export const SCRATCH_B: usize = SCRATCH_SLOTS + 24;
export const SCRATCH_C: usize = SCRATCH_SLOTS + 32;
export const SCRATCH_TEMP: usize = SCRATCH_SLOTS + 40;

/** A raw buffer of at least `size` bytes in `slot`, valid until that slot is used again. */
// @ts-ignore: decorator
@inline export function scratch(size: usize, slot: usize = SCRATCH_MAP): usize {
  return bufferIn(slot, size);
}

/**
 * A raw buffer of at least `size` bytes for the (pointer, capacity) pair at `at`: the one there, or
 * a larger one that replaces it (a scratch slot, or a literal's cache entry, literals.ts).
 */
export function bufferIn(at: usize, size: usize): usize {
  let ptr = load<usize>(at);
  const cap = <usize>load<u32>(at, 4);
  if (size > cap) {
    heap.free(ptr); // nothing for the first use's 0 (the allocator ignores addresses below the heap)
    let n: usize = cap << 1;
    if (n < size) n = size;
    ptr = heap.alloc(n);
    store<usize>(at, ptr);
    store<u32>(at, <u32>n, 4);
  }
  return ptr;
}

/** Where `slot`'s buffer is now (read it after the write that sized it). */
// @ts-ignore: decorator
@inline export function scratchAt(slot: usize): usize {
  return load<usize>(slot);
}

// Where encodeForHost put the bytes of the last string it encoded.
let lastEncoded: usize = 0;

/** Where the bytes of the last string encodeForHost encoded are (read-only: input for the host). */
// @ts-ignore: decorator
@inline export function encoded(): usize {
  return lastEncoded;
}

/**
 * The UTF-8 of `s` for a host call: returns the byte count; encoded() says where the bytes are (read
 * it before the next call). They stay there until `slot` is used again: a literal's cached copy,
 * encoded once per VM (literals.ts), or for any other string the slot's scratch buffer. Unpaired
 * surrogates become U+FFFD.
 */
export function encodeForHost(s: string, slot: usize): usize {
  const e = literalEntry(s);
  let p = literalBytes(e);
  let n = literalLength(e);
  if (!literalCached(e, s)) {
    const units = unitsOf(s);
    // A literal with a free entry is encoded into a buffer of the entry's own, kept for good.
    const keep = literalFree(p, s);
    p = bufferIn(keep ? e : slot, units * 3);
    n = encodeUtf16Units(changetype<usize>(s), units, p);
    if (keep) keepLiteral(e, s, n);
  }
  lastEncoded = p;
  return n;
}

/** The UTF-8 bytes of `s` in a new ArrayBuffer (unpaired surrogates become U+FFFD). */
export function encodeUtf8(s: string): ArrayBuffer {
  const n = encodeForHost(s, SCRATCH_C);
  const out = changetype<ArrayBuffer>(__new(n, idof<ArrayBuffer>()));
  memory.copy(changetype<usize>(out), encoded(), n);
  return out;
}
