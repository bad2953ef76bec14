// Memory shared with the host: out-parameter slots, buffers the host hands in, and a scratch area
// for strings and maps handed out.
//
// Contract (proxy-wasm "Memory ownership"): the host allocates through our allocator export
// (malloc / proxy_on_memory_allocate = heap.alloc, memory the GC never sees or moves), copies data in
// and gives it to us. Every such buffer is copied into a managed object and freed here, exactly once.
// A null pointer with size 0 means "empty". Data we pass out lives in the scratch area, which is raw
// heap memory too, so nothing the host may still read can be collected.

import { noteCopied } from "./gc";
import { decodeUtf8, encodeUtf16Units, utf8Bound } from "./utf8";

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
  const ptr = load<usize>(RET_PTR);
  if (ptr != 0) heap.free(ptr);
}

// ---- scratch areas for data handed to the host ----
// Independent raw buffers, so one host call can take two maps and three strings at once:
// SCRATCH_MAP and SCRATCH_MAP2 (serialized maps, property paths), SCRATCH_A, _B, _C (strings).
// A writer returns how many bytes it wrote; scratchAt(slot) is where they are.

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

/** Where `slot`'s buffer is now (read it after the write that sized it). */
// @ts-ignore: decorator
@inline export function scratchAt(slot: i32): usize {
  return load<usize>(SCRATCH_SLOTS + (<usize>slot << 3));
}

/** Encodes `s` as UTF-8 into a scratch slot; returns the byte count (the bytes are at scratchAt(slot)). */
export function encodeToScratch(s: string, slot: i32): usize {
  return encodeUtf16Units(changetype<usize>(s), <usize>s.length, scratch(utf8Bound(s), slot));
}

/** The UTF-8 bytes of `s` in a new ArrayBuffer (unpaired surrogates become U+FFFD). */
export function encodeUtf8(s: string): ArrayBuffer {
  const n = encodeToScratch(s, SCRATCH_C);
  const out = changetype<ArrayBuffer>(__new(n, idof<ArrayBuffer>()));
  memory.copy(changetype<usize>(out), scratchAt(SCRATCH_C), n);
  return out;
}
