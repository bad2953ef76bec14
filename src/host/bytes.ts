// Byte helpers. Inside the host, header names and values, property paths and shared-data keys are
// "byte strings": JS strings whose every char code is one byte (0..255), i.e. latin1. This keeps
// invalid UTF-8 exact, makes comparisons plain string equality, and lets Buffer copy them in and
// out of guest memory without intermediate arrays.

export type Bytesish = string | Uint8Array;

const ASCII = /^[\x00-\x7f]*$/;
const UPPER = /[A-Z]/;

/** Text (UTF-8) or raw bytes -> byte string. */
export function toByteString(v: Bytesish): string {
  if (typeof v === "string") {
    for (let i = 0; i < v.length; i++) {
      if (v.charCodeAt(i) > 0x7f) return Buffer.from(v, "utf8").toString("latin1");
    }
    return v;
  }
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("latin1");
}

/** Byte string -> text, decoding UTF-8 (invalid sequences become U+FFFD). */
export function byteStringToText(s: string): string {
  return ASCII.test(s) ? s : Buffer.from(s, "latin1").toString("utf8");
}

/** Byte string -> bytes. */
export function byteStringToBuffer(s: string): Buffer {
  return Buffer.from(s, "latin1");
}

/** Text (UTF-8) or bytes -> Buffer (copy for strings, view for Uint8Array). */
export function toBuffer(v: Bytesish | undefined | null): Buffer {
  if (v === undefined || v === null) return Buffer.alloc(0);
  if (typeof v === "string") return Buffer.from(v, "utf8");
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** ASCII-only lower-casing (what Envoy's LowerCaseString does); other bytes are left alone. */
export function lowerAscii(s: string): string {
  if (!UPPER.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}
