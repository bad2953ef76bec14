// The AssemblyScript side of the mock host (mock-host.js): configure what the host returns and read
// back what the SDK sent, byte for byte.

// Record kinds; the same numbers are in mock-host.js (Rec).
export const LOG: u32 = 0;
export const SET_MAP: u32 = 1;
export const GET_PROPERTY: u32 = 2;
export const SET_PROPERTY: u32 = 3;
export const SET_PROPERTY_VALUE: u32 = 4;
export const EFFECTIVE_CONTEXT: u32 = 5;
export const HTTP_CALL: u32 = 6;
export const GRPC_CALL: u32 = 7;
export const GRPC_STREAM: u32 = 8;
export const HOST_ALLOC: u32 = 9;

// @ts-ignore: decorator
@external("mock", "reset")
export declare function reset(): void;
// @ts-ignore: decorator
@external("mock", "setMap")
declare function setMapRaw(type: u32, ptr: usize, size: usize): void;
// @ts-ignore: decorator
@external("mock", "setBuffer")
declare function setBufferRaw(type: u32, ptr: usize, size: usize): void;
// @ts-ignore: decorator
@external("mock", "referenceDecode")
declare function referenceDecodeRaw(ptr: usize, len: usize, dst: usize): u32;
// @ts-ignore: decorator
@external("mock", "referenceEncode")
declare function referenceEncodeRaw(src: usize, units: usize, dst: usize): u32;
// @ts-ignore: decorator
@external("mock", "setProperty")
declare function setPropertyRaw(pathPtr: usize, pathSize: usize, valuePtr: usize, valueSize: usize): void;
// @ts-ignore: decorator
@external("mock", "setNextToken")
export declare function setNextToken(token: u32): void;
// @ts-ignore: decorator
@external("mock", "setLogLevel")
export declare function setLogLevel(level: u32): void;
// @ts-ignore: decorator
@external("mock", "count")
export declare function count(kind: u32): u32;
// @ts-ignore: decorator
@external("mock", "value")
export declare function value(kind: u32, index: u32): u32;
// @ts-ignore: decorator
@external("mock", "size")
declare function sizeRaw(kind: u32, index: u32): u32;
// @ts-ignore: decorator
@external("mock", "copy")
declare function copyRaw(kind: u32, index: u32, dst: usize): void;

/** Bytes from a list of numbers (test vectors). */
export function bytes(values: u8[]): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i];
  return out;
}

/** The UTF-8 bytes of a string, encoded by AssemblyScript's own encoder (not the SDK's). */
export function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

/** Concatenation of byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += parts[i].length;
  const out = new Uint8Array(n);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i], at);
    at += parts[i].length;
  }
  return out;
}

/** `len` bytes of memory at `ptr`, copied into a plain array (compares with toStrictEqual). */
export function memoryBytes(ptr: usize, len: usize): u8[] {
  const out = new Array<u8>(<i32>len);
  for (let i: usize = 0; i < len; i++) out[<i32>i] = load<u8>(ptr + i);
  return out;
}

/** The bytes of a buffer as a plain array. */
export function bufferBytes(b: ArrayBuffer | null): u8[] {
  if (b === null) return [];
  return memoryBytes(changetype<usize>(b), <usize>b.byteLength);
}

/** A Uint8Array as a plain array. */
export function arrayBytes(a: Uint8Array): u8[] {
  return memoryBytes(a.dataStart, <usize>a.length);
}

/** The bytes of record `index` of `kind` that the mock host kept. */
export function recorded(kind: u32, index: u32): u8[] {
  const n = sizeRaw(kind, index);
  const out = new Uint8Array(n);
  copyRaw(kind, index, out.dataStart);
  return arrayBytes(out);
}

/** The bytes of the most recent record of `kind`. */
export function lastRecorded(kind: u32): u8[] {
  const n = count(kind);
  assert(n > 0, "mock host recorded nothing of this kind");
  return recorded(kind, n - 1);
}

/** The map the host returns from proxy_get_header_map_pairs(type) from now on. */
export function setMap(type: u32, data: Uint8Array): void {
  setMapRaw(type, data.dataStart, data.length);
}

/** A property the host returns (path given as raw bytes, segments joined by NUL). */
export function setProperty(path: Uint8Array, value: Uint8Array): void {
  setPropertyRaw(path.dataStart, path.length, value.dataStart, value.length);
}

/** The buffer the host returns from proxy_get_buffer_bytes(type) from now on. */
export function setBuffer(type: u32, data: Uint8Array): void {
  setBufferRaw(type, data.dataStart, data.length);
}

/** `data` decoded by the host's TextDecoder (the WHATWG reference). */
export function referenceDecode(data: Uint8Array): string {
  const units = new Uint16Array(data.length);
  const n = referenceDecodeRaw(data.dataStart, data.length, units.dataStart);
  return String.UTF16.decodeUnsafe(units.dataStart, <usize>n << 1);
}

/** `s` encoded by the host's TextEncoder (the WHATWG reference: lone surrogates become U+FFFD). */
export function referenceEncode(s: string): u8[] {
  const out = new Uint8Array(s.length * 3);
  const n = referenceEncodeRaw(changetype<usize>(s), <usize>s.length, out.dataStart);
  return memoryBytes(out.dataStart, n);
}

/** A copy of `data` placed so that its last byte is the last byte of linear memory: any read past
 *  the end traps. The page is grown here and never handed to the allocator (TLSF only adds the pages
 *  it grows itself), so nothing else lives there. Call right before the code under test. */
export function atEndOfMemory(data: Uint8Array): usize {
  memory.grow(1);
  const end = <usize>memory.size() << 16;
  const ptr = end - <usize>data.length;
  memory.copy(ptr, data.dataStart, data.length);
  return ptr;
}

/** Record `index` of `kind` decoded as UTF-8 (by AssemblyScript's decoder, not the SDK's). */
export function recordedText(kind: u32, index: u32): string {
  const b = recorded(kind, index);
  return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.length);
}

/**
 * Whether the last buffer the mock host handed to the module (through malloc) has been freed. It reads
 * the TLSF block header (the word before the pointer; bit 0 = FREE, AssemblyScript rt/tlsf.ts), which
 * stays set after a free until the memory is reused: call it right after the code under test, before
 * anything allocates. A second free of the same block aborts in these (assert-enabled) builds.
 */
export function lastHostBufferFreed(): bool {
  const n = count(HOST_ALLOC);
  assert(n > 0, "the mock host handed out no buffer");
  return isFreed(<usize>value(HOST_ALLOC, n - 1));
}

/** The TLSF FREE bit of the block at `ptr` (see lastHostBufferFreed). */
export function isFreed(ptr: usize): bool {
  return (load<usize>(ptr - sizeof<usize>()) & 1) != 0;
}
