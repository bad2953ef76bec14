// The proxy-wasm map serialization (spec "Serialization"; proxy-wasm-cpp-host pairs_util.cc):
// u32 count, then count x (u32 key length, u32 value length), then for each pair the key bytes,
// a NUL, the value bytes, a NUL. Integers are little-endian. Lengths exclude the NUL.
import { MAX_MAP_BYTES, MAX_MAP_PAIRS } from "../abi.js";

/** Serialized size of pairs held as byte strings. */
export function pairsSize(keys: readonly string[], values: readonly string[]): number {
  let size = 4 + keys.length * 8;
  for (let i = 0; i < keys.length; i++) size += keys[i].length + values[i].length + 2;
  return size;
}

/** Writes pairs at `off` in `buf` (which must have room for pairsSize bytes). */
export function writePairs(buf: Buffer, off: number, keys: readonly string[], values: readonly string[]): void {
  const n = keys.length;
  buf.writeUInt32LE(n, off);
  let p = off + 4;
  for (let i = 0; i < n; i++) {
    buf.writeUInt32LE(keys[i].length, p);
    buf.writeUInt32LE(values[i].length, p + 4);
    p += 8;
  }
  for (let i = 0; i < n; i++) {
    p += buf.write(keys[i], p, "latin1");
    buf[p++] = 0;
    p += buf.write(values[i], p, "latin1");
    buf[p++] = 0;
  }
}

/** Serializes pairs of byte strings to a new Buffer. */
export function encodePairs(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const keys = pairs.map((p) => p[0]);
  const values = pairs.map((p) => p[1]);
  const buf = Buffer.allocUnsafe(pairsSize(keys, values));
  writePairs(buf, 0, keys, values);
  return buf;
}

export interface ParsedPairs {
  keys: string[];
  values: string[];
}

/**
 * Parses a guest-supplied map. Returns a reason string instead of pairs when the data is over
 * 1 MiB, has more than 1024 pairs, is truncated, misses a NUL terminator or has trailing bytes
 * (the checks of pairs_util.cc toPairs). An empty input (size 0) is an empty map.
 */
export function decodePairs(buf: Buffer, off: number, size: number): ParsedPairs | string {
  if (size === 0) return { keys: [], values: [] };
  if (size > MAX_MAP_BYTES) return `map of ${size} bytes is over the ${MAX_MAP_BYTES}-byte limit`;
  const end = off + size;
  if (size === 1 && buf[off] === 0) return { keys: [], values: [] }; // the spec's other empty form
  if (size < 4) return "map is shorter than its 4-byte pair count";
  const n = buf.readUInt32LE(off);
  if (n > MAX_MAP_PAIRS) return `map has ${n} pairs, over the ${MAX_MAP_PAIRS}-pair limit`;
  let p = off + 4;
  if (p + n * 8 > end) return `map declares ${n} pairs but is too short for their lengths`;
  const lens = new Array<number>(n * 2);
  for (let i = 0; i < n * 2; i++) {
    lens[i] = buf.readUInt32LE(p);
    p += 4;
  }
  const keys = new Array<string>(n);
  const values = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const kl = lens[2 * i];
    if (p + kl + 1 > end) return `map pair ${i}: key overruns the map`;
    keys[i] = buf.toString("latin1", p, p + kl);
    p += kl;
    if (buf[p++] !== 0) return `map pair ${i}: key is not NUL-terminated`;
    const vl = lens[2 * i + 1];
    if (p + vl + 1 > end) return `map pair ${i}: value overruns the map`;
    values[i] = buf.toString("latin1", p, p + vl);
    p += vl;
    if (buf[p++] !== 0) return `map pair ${i}: value is not NUL-terminated`;
  }
  if (p !== end) return `map has ${end - p} trailing bytes`;
  return { keys, values };
}
