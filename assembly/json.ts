// A small, strict JSON parser (RFC 8259) and serializer for plugin configuration and bodies.
// It reads UTF-8 bytes directly (what the host hands in), so a configuration or a body is never
// decoded to a string first. Strict means: no comments, no trailing commas, no single quotes, no
// leading zeros, no NaN/Infinity, no raw control characters or invalid UTF-8 inside strings, no
// byte-order mark, and nothing but whitespace after the document. Duplicate keys are kept in order;
// get() returns the last one, as JSON.parse does. Nesting is limited to 512 levels.
// A value remembers where it was in the input (start/end byte offsets), so a filter can splice a
// body without re-serializing the parts it does not change.

import { noteCopied } from "./gc";
import { encodeToScratch, encodedLength, SCRATCH_C } from "./memory";

/** The six kinds of JSON value. */
export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** Why the last parse failed, and where. */
export class JsonError {
  constructor(
    /** What is wrong, e.g. "unterminated string". */
    public message: string,
    /** Byte offset of the problem in the UTF-8 input. */
    public offset: i32,
    /** 1-based line of the problem. */
    public line: i32,
    /** 1-based column (in characters) of the problem. */
    public column: i32,
  ) {}

  /** "<message> at line L, column C". */
  toString(): string {
    return this.message + " at line " + decimal(this.line) + ", column " + decimal(this.column);
  }
}

/** A parsed (or built) JSON value. Objects keep their keys in document order. */
export class JsonValue {
  /** Byte offset where this value starts in the parsed input (0 for values built in code). */
  start: u32 = 0;
  /** Byte offset just past this value in the parsed input. */
  end: u32 = 0;
  // Internal: number value (booleans as 0/1), string value, array items or object values, object keys.
  _n: f64 = 0;
  _s: string | null = null;
  _items: JsonValue[] | null = null;
  _keys: string[] | null = null;

  constructor(public readonly kind: JsonKind) {}

  // ---- building ----

  static nullValue(): JsonValue {
    return new JsonValue(JsonKind.Null);
  }
  static fromBool(b: bool): JsonValue {
    const v = new JsonValue(JsonKind.Bool);
    v._n = b ? 1 : 0;
    return v;
  }
  static fromNumber(n: f64): JsonValue {
    const v = new JsonValue(JsonKind.Number);
    v._n = n;
    return v;
  }
  static fromString(s: string): JsonValue {
    const v = new JsonValue(JsonKind.String);
    v._s = s;
    return v;
  }
  /** A new empty array; add items with push(). */
  static newArray(): JsonValue {
    const v = new JsonValue(JsonKind.Array);
    v._items = [];
    return v;
  }
  /** A new empty object; add members with set(). */
  static newObject(): JsonValue {
    const v = new JsonValue(JsonKind.Object);
    v._items = [];
    v._keys = [];
    return v;
  }

  /** Appends an item to an array (does nothing on other kinds); returns this. */
  push(item: JsonValue): JsonValue {
    if (this.kind == JsonKind.Array) this._items!.push(item);
    return this;
  }

  /** Sets a member of an object: replaces the last one named `key` or appends; returns this. */
  set(key: string, value: JsonValue): JsonValue {
    if (this.kind != JsonKind.Object) return this;
    const i = this.indexOf(key);
    if (i >= 0) unchecked((this._items![i] = value));
    else {
      this._keys!.push(key);
      this._items!.push(value);
    }
    return this;
  }

  // ---- reading ----

  /** "null", "boolean", "number", "string", "array" or "object" (for error messages). */
  typeName(): string {
    switch (this.kind) {
      case JsonKind.Null:
        return "null";
      case JsonKind.Bool:
        return "boolean";
      case JsonKind.Number:
        return "number";
      case JsonKind.String:
        return "string";
      case JsonKind.Array:
        return "array";
    }
    return "object";
  }

  /** The boolean, or `missing` when this is not a boolean. */
  asBool(missing: bool = false): bool {
    return this.kind == JsonKind.Bool ? this._n != 0 : missing;
  }

  /** The number, or `missing` when this is not a number. */
  asNumber(missing: f64 = NaN): f64 {
    return this.kind == JsonKind.Number ? this._n : missing;
  }

  /** The number when it is a whole number within ±2^53, else `missing`. */
  asInteger(missing: i64 = 0): i64 {
    const n = this._n;
    if (this.kind != JsonKind.Number || Math.floor(n) != n || Math.abs(n) > 9007199254740992) return missing;
    return <i64>n;
  }

  /** The string, or null when this is not a string. */
  asString(): string | null {
    return this.kind == JsonKind.String ? this._s : null;
  }

  /** Number of items of an array or members of an object; 0 for other kinds. */
  get length(): i32 {
    const items = this._items;
    return items === null ? 0 : items.length;
  }

  /** Item `i` of an array, or the value of member `i` of an object; null when out of range. */
  at(i: i32): JsonValue | null {
    const items = this._items;
    if (items === null || <u32>i >= <u32>items.length) return null;
    return unchecked(items[i]);
  }

  /** The key of member `i` of an object; null when out of range or not an object. */
  keyAt(i: i32): string | null {
    const keys = this._keys;
    if (keys === null || <u32>i >= <u32>keys.length) return null;
    return unchecked(keys[i]);
  }

  /** The member named `key` (the last one if repeated); null when absent or not an object. */
  get(key: string): JsonValue | null {
    const i = this.indexOf(key);
    return i < 0 ? null : unchecked(this._items![i]);
  }

  /** Whether this object has a member named `key`. */
  has(key: string): bool {
    return this.indexOf(key) >= 0;
  }

  /** The string member `key`; null when absent or not a string. */
  getString(key: string): string | null {
    const v = this.get(key);
    return v === null ? null : v.asString();
  }

  /** The number member `key`; `missing` when absent or not a number. */
  getNumber(key: string, missing: f64 = NaN): f64 {
    const v = this.get(key);
    return v === null ? missing : v.asNumber(missing);
  }

  /** The whole-number member `key` (see asInteger); `missing` when absent or not one. */
  getInteger(key: string, missing: i64 = 0): i64 {
    const v = this.get(key);
    return v === null ? missing : v.asInteger(missing);
  }

  /** The boolean member `key`; `missing` when absent or not a boolean. */
  getBool(key: string, missing: bool = false): bool {
    const v = this.get(key);
    return v === null ? missing : v.asBool(missing);
  }

  /** The array member `key`; null when absent or not an array. */
  getArray(key: string): JsonValue | null {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.Array ? v : null;
  }

  /** The object member `key`; null when absent or not an object. */
  getObject(key: string): JsonValue | null {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.Object ? v : null;
  }

  /** Compact JSON text of this value (numbers as JavaScript prints them, non-finite as null). */
  toJson(): string {
    sbLen = 0;
    writeJson(this);
    return take();
  }

  private indexOf(key: string): i32 {
    const keys = this._keys;
    if (keys === null) return -1;
    for (let i = keys.length - 1; i >= 0; i--) {
      if (unchecked(keys[i]) == key) return i;
    }
    return -1;
  }
}

// ---- parsing ----

const MAX_DEPTH: i32 = 512;

// Parser state: the input is [base, end); `at` is the cursor.
let base: usize = 0;
let end: usize = 0;
let at: usize = 0;
let depth: i32 = 0;
let errorMessage: string | null = null;
let errorAt: usize = 0;
let lastError: JsonError | null = null;

/**
 * Parses JSON text. Returns the value, or null when the text is not valid JSON: lastJsonError()
 * then says why and where (offsets are in the text's UTF-8 encoding).
 */
export function parseJson(text: string): JsonValue | null {
  const p = encodeToScratch(text, SCRATCH_C);
  return parseJsonAt(p, encodedLength);
}

/**
 * Parses JSON from UTF-8 bytes (a plugin configuration, a body). Returns null when they are not
 * valid JSON; lastJsonError() then says why and where.
 */
export function parseJsonBytes(bytes: ArrayBuffer): JsonValue | null {
  return parseJsonAt(changetype<usize>(bytes), <usize>bytes.byteLength);
}

/** Parses `len` bytes of UTF-8 JSON at `ptr` (raw memory; see parseJsonBytes). */
export function parseJsonAt(ptr: usize, len: usize): JsonValue | null {
  // The tree takes about ten times the document's size: let the collector know (gc.ts).
  noteCopied(len << 3);
  base = at = ptr;
  end = ptr + len;
  depth = 0;
  errorMessage = null;
  lastError = null;
  let v = parseValue();
  if (v !== null) {
    skipSpace();
    if (at < end) v = fail("unexpected " + found() + " after the document");
  }
  if (v === null) lastError = makeError();
  return v;
}

/** Why the last parseJson/parseJsonBytes call failed (message and position); null when it succeeded. */
export function lastJsonError(): JsonError | null {
  return lastError;
}

/** The last parse error as one line ("<message> at line L, column C"); "" when it succeeded. */
export function jsonError(): string {
  const e = lastError;
  return e === null ? "" : e.toString();
}

function makeError(): JsonError {
  let line = 1;
  let column = 1;
  for (let p = base; p < errorAt; p++) {
    const c = load<u8>(p);
    if (c == 0x0a) {
      line++;
      column = 1;
    } else if ((c & 0xc0) != 0x80) column++;
  }
  const msg = errorMessage;
  return new JsonError(msg === null ? "invalid JSON" : msg, <i32>(errorAt - base), line, column);
}

function fail(message: string, where: usize = at): JsonValue | null {
  if (errorMessage === null) {
    errorMessage = message;
    errorAt = where;
  }
  return null;
}

/** What is at the cursor, for messages: 'x', byte 0xNN or end of input. */
function found(): string {
  if (at >= end) return "end of input";
  const c = <i32>load<u8>(at);
  if (c > 0x20 && c < 0x7f) return "'" + String.fromCharCode(c) + "'";
  return "byte 0x" + String.fromCharCode(HEX.charCodeAt(c >> 4)) + String.fromCharCode(HEX.charCodeAt(c & 15));
}

/** A non-negative number in decimal (small, so filters need not pull in the general formatter). */
function decimal(n: i32): string {
  let s = "";
  do {
    s = String.fromCharCode(0x30 + (n % 10)) + s;
    n /= 10;
  } while (n > 0);
  return s;
}

function skipSpace(): void {
  while (at < end) {
    const c = load<u8>(at);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    at++;
  }
}

function parseValue(): JsonValue | null {
  skipSpace();
  if (at >= end) return fail("unexpected end of input");
  const start = at;
  const c = load<u8>(at);
  let v: JsonValue | null = null;
  if (c == 0x7b) v = parseObject();
  else if (c == 0x5b) v = parseArray();
  else if (c == 0x22) {
    const s = parseString();
    if (s !== null) v = JsonValue.fromString(s);
  } else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) v = parseNumber();
  else if (at + 4 <= end && load<u32>(at) == 0x65757274) {
    at += 4; // true
    v = JsonValue.fromBool(true);
  } else if (at + 5 <= end && load<u32>(at + 1) == 0x65736c61 && c == 0x66) {
    at += 5; // false
    v = JsonValue.fromBool(false);
  } else if (at + 4 <= end && load<u32>(at) == 0x6c6c756e) {
    at += 4; // null
    v = JsonValue.nullValue();
  } else return fail("expected a value, found " + found());
  if (v !== null) {
    v.start = <u32>(start - base);
    v.end = <u32>(at - base);
  }
  return v;
}

function enter(): bool {
  if (++depth <= MAX_DEPTH) return true;
  fail("nesting deeper than 512 levels");
  return false;
}

function parseArray(): JsonValue | null {
  if (!enter()) return null;
  at++; // [
  const v = JsonValue.newArray();
  const items = v._items!;
  skipSpace();
  if (at < end && load<u8>(at) == 0x5d) {
    at++;
    depth--;
    return v;
  }
  while (true) {
    const item = parseValue();
    if (item === null) return null;
    items.push(item);
    skipSpace();
    if (at >= end) return fail("unexpected end of input");
    const c = load<u8>(at);
    if (c == 0x5d) {
      at++;
      depth--;
      return v;
    }
    if (c != 0x2c) return fail("expected ',' or ']', found " + found());
    const comma = at++;
    skipSpace();
    if (at < end && load<u8>(at) == 0x5d) return fail("trailing comma", comma);
  }
}

function parseObject(): JsonValue | null {
  if (!enter()) return null;
  at++; // {
  const v = JsonValue.newObject();
  const keys = v._keys!;
  const items = v._items!;
  skipSpace();
  if (at < end && load<u8>(at) == 0x7d) {
    at++;
    depth--;
    return v;
  }
  while (true) {
    skipSpace();
    if (at >= end) return fail("unexpected end of input");
    if (load<u8>(at) != 0x22) return fail("expected a string key, found " + found());
    const key = parseString();
    if (key === null) return null;
    skipSpace();
    if (at >= end || load<u8>(at) != 0x3a) return fail("expected ':' after the key, found " + found());
    at++;
    const item = parseValue();
    if (item === null) return null;
    keys.push(key);
    items.push(item);
    skipSpace();
    if (at >= end) return fail("unexpected end of input");
    const c = load<u8>(at);
    if (c == 0x7d) {
      at++;
      depth--;
      return v;
    }
    if (c != 0x2c) return fail("expected ',' or '}', found " + found());
    const comma = at++;
    skipSpace();
    if (at < end && load<u8>(at) == 0x7d) return fail("trailing comma", comma);
  }
}

/** Reads ASCII bytes into a string. */
function asciiString(p: usize, n: usize): string {
  const s = __new(n << 1, idof<String>());
  for (let i: usize = 0; i < n; i++) store<u16>(s + (i << 1), load<u8>(p + i));
  return changetype<string>(s);
}

function hexDigit(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  c |= 0x20;
  if (c - 0x61 < 6) return <i32>(c - 0x61 + 10);
  return -1;
}

/** Parses the string at the cursor (on its opening quote). Null on error. */
function parseString(): string | null {
  const open = at;
  let p = open + 1;
  // Find the closing quote (a backslash escapes the next byte) and whether the plain fast path applies.
  let plain = true;
  while (p < end) {
    const c = load<u8>(p);
    if (c == 0x22) break;
    if (c == 0x5c) {
      plain = false;
      p += 2;
      continue;
    }
    if (c < 0x20 || c >= 0x80) plain = false;
    p++;
  }
  if (p >= end) {
    fail("unterminated string", open);
    return null;
  }
  const close = p;
  p = open + 1;
  if (plain) {
    at = close + 1;
    return asciiString(p, close - p);
  }
  // At most one UTF-16 unit per input byte; trimmed at the end.
  const out = __new((close - p) << 1, idof<String>());
  let o = out;
  while (p < close) {
    let c = <u32>load<u8>(p);
    if (c == 0x5c) {
      const e = <u32>load<u8>(p + 1);
      let u: u32 = 0;
      if (e == 0x22 || e == 0x5c || e == 0x2f) u = e;
      else if (e == 0x62) u = 0x08;
      else if (e == 0x66) u = 0x0c;
      else if (e == 0x6e) u = 0x0a;
      else if (e == 0x72) u = 0x0d;
      else if (e == 0x74) u = 0x09;
      else if (e == 0x75) {
        // \uXXXX: one UTF-16 unit; a surrogate pair is two escapes and lands as two units.
        let h: i32 = 0;
        for (let i: usize = 2; i < 6; i++) {
          const d = p + i < close ? hexDigit(load<u8>(p + i)) : -1;
          if (d < 0) {
            fail("invalid \\u escape (needs 4 hex digits)", p);
            return null;
          }
          h = (h << 4) | d;
        }
        store<u16>(o, <u16>h);
        o += 2;
        p += 6;
        continue;
      } else {
        at = p + 1;
        fail("invalid escape \\" + (e > 0x20 && e < 0x7f ? String.fromCharCode(e) : "?"), p);
        return null;
      }
      store<u16>(o, <u16>u);
      o += 2;
      p += 2;
      continue;
    }
    if (c < 0x20) {
      fail("unescaped control character in string (write it as \\n, \\t or \\u00XX)", p);
      return null;
    }
    if (c < 0x80) {
      store<u16>(o, <u16>c);
      o += 2;
      p++;
      continue;
    }
    // UTF-8 sequence: strict (no overlongs, surrogates or code points above U+10FFFF).
    let ok = false;
    if (c >= 0xc2 && c <= 0xf4) {
      const need: u32 = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
      let lo: u32 = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
      let hi: u32 = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
      let v = c & (0x7f >> need);
      let i: u32 = 1;
      for (; i <= need && p + i < close; i++) {
        const b = <u32>load<u8>(p + i);
        if (b < lo || b > hi) break;
        lo = 0x80;
        hi = 0xbf;
        v = (v << 6) | (b & 0x3f);
      }
      if (i > need) {
        ok = true;
        p += need + 1;
        c = v;
      }
    }
    if (!ok) {
      fail("invalid UTF-8 in string", p);
      return null;
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      store<u32>(o, (0xd800 | (c >> 10)) | ((0xdc00 | (c & 0x3ff)) << 16));
      o += 4;
    } else {
      store<u16>(o, <u16>c);
      o += 2;
    }
  }
  at = close + 1;
  return changetype<string>(__renew(out, o - out));
}

function isDigitAt(p: usize): bool {
  return p < end && <u32>load<u8>(p) - 0x30 < 10;
}

function parseNumber(): JsonValue | null {
  const start = at;
  let p = at;
  const negative = load<u8>(p) == 0x2d;
  if (negative) p++;
  if (!isDigitAt(p)) return fail("invalid number", start);
  const intStart = p;
  if (load<u8>(p) == 0x30) {
    p++;
    if (isDigitAt(p)) return fail("invalid number (leading zero)", start);
  } else {
    while (isDigitAt(p)) p++;
  }
  const intEnd = p;
  if (p < end && load<u8>(p) == 0x2e) {
    p++;
    if (!isDigitAt(p)) return fail("invalid number (needs digits after '.')", start);
    while (isDigitAt(p)) p++;
  }
  const digitsEnd = p;
  let exp: i32 = 0;
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    const expNegative = p < end && load<u8>(p) == 0x2d;
    if (p < end && (load<u8>(p) == 0x2b || expNegative)) p++;
    if (!isDigitAt(p)) return fail("invalid number (needs digits in the exponent)", start);
    while (isDigitAt(p)) {
      if (exp < 100000) exp = exp * 10 + <i32>(load<u8>(p) - 0x30);
      p++;
    }
    if (expNegative) exp = -exp;
  }
  at = p;
  const fraction = digitsEnd > intEnd ? <i32>(digitsEnd - intEnd - 1) : 0;
  const n = decimalToDouble(intStart, digitsEnd, exp - fraction);
  return JsonValue.fromNumber(negative ? -n : n);
}

// ---- decimal to double, correctly rounded ----
// The value is D x 10^e10, D the digits in [from, to) (a '.' among them is skipped). Up to 19
// significant digits with a small exponent are exact in f64 arithmetic (Clinger's fast path). Other
// numbers start from an f64 estimate (a few ulps off at most) and are corrected one ulp at a time
// by comparing D x 10^e10 with the halfway points around the estimate in exact big-integer
// arithmetic, so every number rounds like JavaScript's Number() does.

const MAX_DIGITS: i32 = 800; // a double's halfway points have at most 767 significant digits
const LIMBS: i32 = 128; // 4096 bits: enough for the largest comparison (about 3000 bits)

class Big {
  d: StaticArray<u32> = new StaticArray<u32>(LIMBS);
  n: i32 = 0;

  set(v: u64): void {
    unchecked((this.d[0] = <u32>v));
    unchecked((this.d[1] = <u32>(v >> 32)));
    this.n = v == 0 ? 0 : v >> 32 != 0 ? 2 : 1;
  }

  mulAdd(mul: u32, add: u32): void {
    const d = this.d;
    let carry: u64 = add;
    for (let i = 0; i < this.n; i++) {
      const t = <u64>unchecked(d[i]) * mul + carry;
      unchecked((d[i] = <u32>t));
      carry = t >> 32;
    }
    if (carry != 0) d[this.n++] = <u32>carry;
  }

  mulPow5(e: i32): void {
    for (; e >= 13; e -= 13) this.mulAdd(1220703125, 0);
    let m: u32 = 1;
    for (; e > 0; e--) m *= 5;
    this.mulAdd(m, 0);
  }

  shl(bits: i32): void {
    if (this.n == 0) return;
    const d = this.d;
    const w = bits >>> 5;
    const b = <u32>(bits & 31);
    let n = this.n;
    if (b != 0) {
      let carry: u32 = 0;
      for (let i = 0; i < n; i++) {
        const x = unchecked(d[i]);
        unchecked((d[i] = (x << b) | carry));
        carry = x >>> (32 - b);
      }
      if (carry != 0) d[n++] = carry;
    }
    if (w != 0) {
      for (let i = n - 1; i >= 0; i--) d[i + w] = unchecked(d[i]);
      for (let i = 0; i < w; i++) unchecked((d[i] = 0));
      n += w;
    }
    this.n = n;
  }

  cmp(o: Big): i32 {
    if (this.n != o.n) return this.n > o.n ? 1 : -1;
    for (let i = this.n - 1; i >= 0; i--) {
      const a = unchecked(this.d[i]);
      const b = unchecked(o.d[i]);
      if (a != b) return a > b ? 1 : -1;
    }
    return 0;
  }
}

let bigD: Big | null = null;
let bigH: Big | null = null;
// The significant digits of the number being converted: [digitsFrom, digitsTo), at most
// MAX_DIGITS of them, plus a sticky 1 when nonzero digits were cut off.
let digitsFrom: usize = 0;
let digitsTo: usize = 0;
let digitsSticky = false;
let digitsExp: i32 = 0; // the value is D x 10^digitsExp

/** Sign of D x 10^digitsExp - h x 2^s. */
function compareWithHalfway(h: u64, s: i32): i32 {
  const D = bigD!;
  const H = bigH!;
  D.set(0);
  for (let q = digitsFrom; q < digitsTo; q++) {
    const c = <u32>load<u8>(q);
    if (c != 0x2e) D.mulAdd(10, c - 0x30);
  }
  if (digitsSticky) D.mulAdd(10, 1);
  H.set(h);
  const e = digitsExp;
  if (e >= 0) D.mulPow5(e);
  else H.mulPow5(-e);
  const t = e - s;
  if (t > 0) D.shl(t);
  else H.shl(-t);
  return D.cmp(H);
}

function pow10(e: i32): f64 {
  let r: f64 = 1;
  for (; e > 0; e--) r *= 10; // exact up to 1e22
  return r;
}

const HIDDEN: u64 = 1 << 52;

function decimalToDouble(from: usize, to: usize, e10: i32): f64 {
  // First 19 significant digits in m; later digits only move the exponent (and are remembered).
  let m: u64 = 0;
  let nd = 0;
  let tail = false;
  let e = e10;
  let firstDigit: usize = 0;
  let cut: usize = 0;
  for (let q = from; q < to; q++) {
    const c = <u32>load<u8>(q);
    if (c == 0x2e) continue;
    const d = c - 0x30;
    if (nd == 0) {
      if (d == 0) continue;
      firstDigit = q;
    }
    if (nd < 19) m = m * 10 + d;
    else {
      e++;
      if (d != 0) tail = true;
    }
    nd++;
    if (nd == MAX_DIGITS) cut = q + 1;
  }
  if (m == 0) return 0;
  if (!tail && m <= HIDDEN << 1 && e >= -22 && e <= 22) {
    return e >= 0 ? <f64>m * pow10(e) : <f64>m / pow10(-e);
  }
  // Magnitude is about 10^(e + 19 - 1 ... ); out of range means infinity or zero.
  const magnitude = e10 + nd; // the value is below 10^magnitude and at least 10^(magnitude - 1)
  if (magnitude > 310) return Infinity;
  if (magnitude < -324) return 0;

  digitsFrom = firstDigit;
  digitsTo = to;
  digitsSticky = false;
  digitsExp = e10;
  if (cut != 0 && cut < to) {
    // Keep MAX_DIGITS digits and a sticky 1 for any nonzero digit after them.
    digitsTo = cut;
    let dropped = 0;
    for (let q = cut; q < to; q++) {
      const c = load<u8>(q);
      if (c == 0x2e) continue;
      dropped++;
      if (c != 0x30) digitsSticky = true;
    }
    digitsExp = e10 + dropped - (digitsSticky ? 1 : 0);
  } else {
    // All digits are used; the exponent counts from the last one (trailing zeros included).
    digitsExp = e10;
  }
  if (bigD === null) {
    bigD = new Big();
    bigH = new Big();
  }

  // Estimate: a few roundings away from the answer.
  let z = <f64>m;
  for (; e > 22; e -= 22) z *= 1e22;
  for (; e < -22; e += 22) z /= 1e22;
  z = e >= 0 ? z * pow10(e) : z / pow10(-e);
  if (!isFinite(z)) z = f64.MAX_VALUE;
  const bits = reinterpret<u64>(z);
  const be = <i32>(bits >> 52);
  let M: u64 = bits & (HIDDEN - 1);
  let k: i32 = -1074;
  if (be != 0) {
    M |= HIDDEN;
    k = be - 1075;
  }
  // Walk to the nearest double (ties to even).
  while (true) {
    const up = compareWithHalfway((M << 1) + 1, k - 1);
    if (up > 0 || (up == 0 && (M & 1) != 0)) {
      M++;
      if (M == HIDDEN << 1) {
        M = HIDDEN;
        k++;
        if (k > 971) return Infinity;
      }
      if (up == 0) break;
      continue;
    }
    if (M == 0) break;
    const edge = M == HIDDEN && k > -1074;
    const down = edge ? compareWithHalfway((M << 2) - 1, k - 2) : compareWithHalfway((M << 1) - 1, k - 1);
    if (down < 0 || (down == 0 && (M & 1) != 0)) {
      M--;
      if (M < HIDDEN && k > -1074) {
        M = (M << 1) | 1;
        k--;
      }
      if (down == 0) break;
      continue;
    }
    break;
  }
  if (M < HIDDEN) return reinterpret<f64>(M); // subnormal (k is -1074)
  return reinterpret<f64>((<u64>(k + 1075) << 52) | (M & (HIDDEN - 1)));
}

// ---- serializing ----
// Output goes to one growing UTF-16 buffer (a global, so the GC sees it). Not Array#join: release
// builds (shrink level >= 1) compile it as repeated concatenation, quadratic in memory.

let sb: ArrayBuffer | null = null;
let sbLen: i32 = 0; // in UTF-16 units

function reserve(units: i32): usize {
  let b = sb;
  const need = (sbLen + units) << 1;
  if (b === null || need > b.byteLength) {
    let cap = b === null ? 256 : b.byteLength << 1;
    if (cap < need) cap = need;
    const nb = new ArrayBuffer(cap);
    if (b !== null) memory.copy(changetype<usize>(nb), changetype<usize>(b), <usize>sbLen << 1);
    sb = b = nb;
  }
  return changetype<usize>(b) + (<usize>sbLen << 1);
}

function put(s: string): void {
  const n = s.length;
  memory.copy(reserve(n), changetype<usize>(s), <usize>n << 1);
  sbLen += n;
}

function putUnit(c: u32): void {
  store<u16>(reserve(1), <u16>c);
  sbLen++;
}

function take(): string {
  const n = <usize>sbLen << 1;
  const s = __new(n, idof<String>());
  memory.copy(s, changetype<usize>(sb), n);
  sbLen = 0;
  // Do not keep a big buffer alive after a big document.
  if (n > 65536) sb = null;
  return changetype<string>(s);
}

/** `s` as a JSON string literal, quotes included (control characters and lone surrogates escaped). */
export function quoteJson(s: string): string {
  sbLen = 0;
  quoteInto(s);
  return take();
}

// @ts-ignore: decorator (lazy: a plain global would put the string in every filter's data)
@lazy const HEX = "0123456789abcdef";

function quoteInto(s: string): void {
  putUnit(0x22);
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = <u32>s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c && (c & 0xf800) != 0xd800) {
      putUnit(c);
      continue;
    }
    if ((c & 0xf800) == 0xd800 && c < 0xdc00 && i + 1 < n && (<u32>s.charCodeAt(i + 1) & 0xfc00) == 0xdc00) {
      // A well-formed surrogate pair stays as it is.
      putUnit(c);
      putUnit(s.charCodeAt(++i));
      continue;
    }
    putUnit(0x5c);
    if (c == 0x22 || c == 0x5c) putUnit(c);
    else if (c == 0x0a) putUnit(0x6e);
    else if (c == 0x0d) putUnit(0x72);
    else if (c == 0x09) putUnit(0x74);
    else {
      // Other control characters and lone surrogates: \uXXXX.
      putUnit(0x75);
      for (let shift = 12; shift >= 0; shift -= 4) putUnit(HEX.charCodeAt((c >> shift) & 15));
    }
  }
  putUnit(0x22);
}

function numberText(n: f64): string {
  if (!isFinite(n)) return "null";
  // Whole numbers print without the ".0" AssemblyScript adds (as JavaScript prints them).
  const s = n.toString();
  return s.endsWith(".0") ? s.substring(0, s.length - 2) : s;
}

function writeJson(v: JsonValue): void {
  switch (v.kind) {
    case JsonKind.Null:
      put("null");
      return;
    case JsonKind.Bool:
      put(v._n != 0 ? "true" : "false");
      return;
    case JsonKind.Number:
      put(numberText(v._n));
      return;
    case JsonKind.String:
      quoteInto(v._s!);
      return;
  }
  const items = v._items!;
  const keys = v._keys;
  putUnit(keys === null ? 0x5b : 0x7b);
  for (let i = 0, n = items.length; i < n; i++) {
    if (i > 0) putUnit(0x2c);
    if (keys !== null) {
      quoteInto(unchecked(keys[i]));
      putUnit(0x3a);
    }
    writeJson(unchecked(items[i]));
  }
  putUnit(keys === null ? 0x5d : 0x7d);
}
