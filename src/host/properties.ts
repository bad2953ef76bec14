// Property values with Envoy's encodings (envoy context.cc serializeValue): strings and bytes raw,
// integers as 8 little-endian bytes, booleans as 1 byte, timestamps and durations as int64
// nanoseconds, maps as proxy-wasm pairs. Paths are segments joined by NUL.
import { toByteString } from "./bytes.js";
import { HeaderMap } from "./headers.js";

/** A property value as the embedder gives it. Arrays of pairs are maps (like request.headers). */
export type PropertyInput =
  | string
  | Uint8Array
  | number
  | bigint
  | boolean
  | Date
  | ReadonlyArray<readonly [string | Uint8Array, string | Uint8Array]>;

/** Stored form: raw bytes, or a map whose entries can also be read one key deeper. */
export type PropertyValue = Buffer | HeaderMap;

export function encodeInt64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt.asIntN(64, v));
  return b;
}

export function encodeProperty(v: PropertyInput): PropertyValue {
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === "bigint") return encodeInt64(v);
  if (typeof v === "number") {
    if (Number.isInteger(v)) return encodeInt64(BigInt(v));
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return b;
  }
  if (typeof v === "boolean") return Buffer.from([v ? 1 : 0]);
  if (v instanceof Date) return encodeInt64(BigInt(v.getTime()) * 1_000_000n);
  if (Array.isArray(v)) {
    const m = new HeaderMap();
    for (const [k, val] of v) m.keys.push(toByteString(k)), m.values.push(toByteString(val));
    return m;
  }
  throw new TypeError(`unsupported property value ${String(v)}`);
}

/** "source.address" -> NUL-joined byte-string path; arrays are taken as segments. */
export function propertyPath(path: string | readonly string[]): string {
  const segs = typeof path === "string" ? path.split(".") : path;
  return segs.map((s) => toByteString(s)).join("\0");
}

/** Guest path bytes -> canonical key (a trailing NUL is tolerated, like Envoy). */
export function canonicalPath(raw: string): string {
  return raw.endsWith("\0") ? raw.slice(0, -1) : raw;
}

/** Envoy's request.headers / response.headers map: multi-valued names joined by ",". */
export function headersProperty(h: HeaderMap): HeaderMap {
  const m = new HeaderMap();
  for (let i = 0; i < h.keys.length; i++) {
    const k = h.keys[i];
    const j = m.keys.indexOf(k);
    if (j >= 0) m.values[j] += "," + h.values[i];
    else m.keys.push(k), m.values.push(h.values[i]);
  }
  return m;
}

/** Looks up `key` in a store, descending one level into map values ("request.headers.x-foo"). */
export function lookupIn(store: ReadonlyMap<string, PropertyValue>, key: string): PropertyValue | undefined {
  const v = store.get(key);
  if (v !== undefined) return v;
  const cut = key.lastIndexOf("\0");
  if (cut < 0) return undefined;
  const parent = store.get(key.slice(0, cut));
  if (parent instanceof HeaderMap) {
    const inner = parent.get(key.slice(cut + 1));
    return inner === undefined ? undefined : Buffer.from(inner, "latin1");
  }
  return undefined;
}

/** Serializes a stored property for the guest. */
export function propertyBytes(v: PropertyValue): Buffer {
  if (v instanceof HeaderMap) {
    const b = Buffer.allocUnsafe(v.serializedSize());
    v.writeTo(b, 0);
    return b;
  }
  return v;
}

/** Top-level attribute names that only exist on a stream (not in root contexts). */
export const STREAM_ATTRIBUTES = new Set(["request", "response", "source", "destination", "connection", "upstream", "connection_id"]);
