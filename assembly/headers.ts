// Header maps (headers, trailers, gRPC metadata) and their wire format (spec "Serialization"):
//   u32 pair count N, then N x (u32 key length, u32 value length), then for each pair the key bytes,
//   a NUL, the value bytes, a NUL. Integers are little-endian; lengths exclude the NUL.
// An empty map may arrive as a null pointer / size 0 or as a single 0 byte.

import { encodeForHost, encoded, scratch, SCRATCH_MAP, SCRATCH_TEMP } from "./memory";
import { decodeUtf8 } from "./utf8";

/** A header (or trailer, or metadata entry) as text. Invalid UTF-8 from the host becomes U+FFFD. */
export class Header {
  constructor(
    public name: string,
    public value: string,
  ) {}
}

/** A header as exact bytes: what the host sent, invalid UTF-8 included. */
export class HeaderBytes {
  constructor(
    public name: ArrayBuffer,
    public value: ArrayBuffer,
  ) {}
}

/**
 * Writes `s` as UTF-8 and a NUL at `dst` (a literal's bytes are copied from its cache) and the byte
 * count without the NUL as a u32 at `lenAt`; returns the address after the NUL.
 */
export function putUtf8z(s: string, dst: usize, lenAt: usize): usize {
  const n = encodeForHost(s, SCRATCH_TEMP);
  memory.copy(dst, encoded(), n);
  store<u8>(dst + n, 0);
  store<u32>(lenAt, <u32>n);
  return dst + n + 1;
}

/** Serializes text headers into scratch `slot`; returns the size (the bytes are at scratchAt(slot)). */
export function serializeHeaders(headers: Header[], slot: usize = SCRATCH_MAP): usize {
  const n = <usize>headers.length;
  const first = headers.dataStart;
  const end = first + (n << alignof<usize>());
  // 4 bytes of count; per pair 8 bytes of lengths, two NULs and at most 3 bytes per UTF-16 unit.
  let bound: usize = 4;
  for (let at = first; at < end; at += sizeof<usize>()) {
    const h = load<Header>(at);
    bound += <usize>(h.name.length + h.value.length) * 3 + 10;
  }
  const base = scratch(bound, slot);
  store<u32>(base, <u32>n);
  let lens = base + 4;
  let data = lens + (n << 3);
  for (let at = first; at < end; at += sizeof<usize>()) {
    const h = load<Header>(at);
    data = putUtf8z(h.name, data, lens);
    data = putUtf8z(h.value, data, lens + 4);
    lens += 8;
  }
  return data - base;
}

/** Serializes byte headers into scratch `slot`; returns the size (the bytes are at scratchAt(slot)). */
export function serializeHeaderBytes(headers: HeaderBytes[], slot: usize = SCRATCH_MAP): usize {
  const n = headers.length;
  let size: usize = 4 + ((<usize>n) << 3);
  for (let i = 0; i < n; i++) {
    const h = unchecked(headers[i]);
    size += <usize>h.name.byteLength + <usize>h.value.byteLength + 2;
  }
  const base = scratch(size, slot);
  store<u32>(base, n);
  let lens = base + 4;
  let data = lens + ((<usize>n) << 3);
  for (let i = 0; i < n; i++) {
    const h = unchecked(headers[i]);
    const k = <usize>h.name.byteLength;
    const v = <usize>h.value.byteLength;
    memory.copy(data, changetype<usize>(h.name), k);
    store<u8>(data + k, 0);
    data += k + 1;
    memory.copy(data, changetype<usize>(h.value), v);
    store<u8>(data + v, 0);
    data += v + 1;
    store<u32>(lens, <u32>k);
    store<u32>(lens, <u32>v, 4);
    lens += 8;
  }
  return size;
}

/**
 * Number of pairs in a serialized map after checking that every length fits in `size` bytes, or -1
 * when the buffer is malformed. A null pointer, size 0 or a lone 0 byte is an empty map.
 */
export function checkedPairCount(ptr: usize, size: usize): i32 {
  if (ptr == 0 || size < 4) return size <= 1 ? 0 : -1;
  const n = load<u32>(ptr);
  const headerBytes = 4 + ((<u64>n) << 3);
  if (headerBytes > <u64>size) return -1;
  let total: u64 = headerBytes;
  let lens = ptr + 4;
  for (let i: u32 = 0; i < n; i++) {
    total += <u64>load<u32>(lens) + <u64>load<u32>(lens, 4) + 2;
    lens += 8;
  }
  return total <= <u64>size ? <i32>n : -1;
}

/** Deserializes a map as text headers. Malformed input gives an empty array. */
export function deserializeHeaders(ptr: usize, size: usize): Header[] {
  const n = checkedPairCount(ptr, size);
  if (n <= 0) return [];
  const out = new Array<Header>(n);
  let lens = ptr + 4;
  let data = lens + ((<usize>n) << 3);
  for (let i = 0; i < n; i++) {
    const k = <usize>load<u32>(lens);
    const v = <usize>load<u32>(lens, 4);
    lens += 8;
    const name = decodeUtf8(data, k);
    data += k + 1;
    const value = decodeUtf8(data, v);
    data += v + 1;
    unchecked((out[i] = new Header(name, value)));
  }
  return out;
}

function copyBytes(ptr: usize, len: usize): ArrayBuffer {
  const b = changetype<ArrayBuffer>(__new(len, idof<ArrayBuffer>()));
  memory.copy(changetype<usize>(b), ptr, len);
  return b;
}

/** Deserializes a map as exact bytes. Malformed input gives an empty array. */
export function deserializeHeaderBytes(ptr: usize, size: usize): HeaderBytes[] {
  const n = checkedPairCount(ptr, size);
  if (n <= 0) return [];
  const out = new Array<HeaderBytes>(n);
  let lens = ptr + 4;
  let data = lens + ((<usize>n) << 3);
  for (let i = 0; i < n; i++) {
    const k = <usize>load<u32>(lens);
    const v = <usize>load<u32>(lens, 4);
    lens += 8;
    const name = copyBytes(data, k);
    data += k + 1;
    const value = copyBytes(data, v);
    data += v + 1;
    unchecked((out[i] = new HeaderBytes(name, value)));
  }
  return out;
}
