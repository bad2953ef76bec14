// A small, strict JSON parser (RFC 8259) and serializer for plugin configuration and bodies.
// It reads UTF-8 bytes directly (what the host hands in), so a configuration or a body is never
// decoded to a string first. Strict means: no comments, no trailing commas, no single quotes, no
// leading zeros, no NaN/Infinity, no raw control characters or invalid UTF-8 inside strings, no
// byte-order mark, and nothing but whitespace after the document. Duplicate keys are kept in order;
// get() returns the last one, as JSON.parse does. Nesting is limited to 512 levels.
// A value remembers where it was in the input (start/end byte offsets), so a filter can splice a
// body without re-serializing the parts it does not change.
//
// Size matters here (every filter that reads a JSON configuration carries this file), so:
// - numbers are checked while parsing but converted to f64 only when asked (asNumber, getNumber,
//   toJson...): a filter that reads only strings and booleans never contains the conversion;
// - a value is one small object; arrays and objects hold their items (objects: key, value, key,
//   value...) in one StaticArray, trimmed to size when parsed;
// - error messages and type names are numbered parts of one ASCII table (see MESSAGES), and a
//   message is only built when a parse fails.
//
// This file is the reader; the values and their serialization are in json-value.ts, the messages
// in json-messages.ts, the number conversion in json-number.ts.

import { noteCopied } from "./gc";
import { encodeForHost, encoded, SCRATCH_C } from "./memory";
import { JsonError, JsonKind, JsonValue, NUMBER_INT, append } from "./json-value";
import {
  message,
  E_AFTER,
  E_ARRAY_SEPARATOR,
  E_COLON,
  E_CONTROL,
  E_DEPTH,
  E_ESCAPE,
  E_EXPONENT,
  E_FRACTION,
  E_INVALID,
  E_KEY,
  E_LEADING_ZERO,
  E_NUMBER,
  E_OBJECT_SEPARATOR,
  E_TRAILING_COMMA,
  E_UNEXPECTED,
  E_UNICODE_ESCAPE,
  E_UNTERMINATED,
  E_UTF8,
  E_VALUE,
} from "./json-messages";

// ---- parsing ----

const MAX_DEPTH: i32 = 512;

// Parser state: the input is [base, end); `at` is the cursor.
let base: usize = 0;
let end: usize = 0;
let at: usize = 0;
let depth: i32 = 0;
let errorCode: i32 = -1; // the first failure's message number; -1 while there is none
let errorAt: usize = 0;
// @ts-ignore: decorator
@lazy let lastError: JsonError | null = null;

/**
 * Parses JSON text. Returns the value, or null when the text is not valid JSON: lastJsonError()
 * then says why and where (offsets are in the text's UTF-8 encoding).
 */
export function parseJson(text: string): JsonValue | null {
  const n = encodeForHost(text, SCRATCH_C);
  return parseUtf8(encoded(), n);
}

/**
 * Parses JSON from UTF-8 bytes (a plugin configuration, a body): all of them, or `length` bytes from
 * `start` (clamped to the buffer), so a filter can parse part of a body without copying it. Returns
 * null when they are not valid JSON; lastJsonError() then says why and where (offsets count from
 * `start`).
 */
export function parseJsonBytes(bytes: ArrayBuffer, start: u32 = 0, length: u32 = u32.MAX_VALUE): JsonValue | null {
  const size = <u32>bytes.byteLength;
  if (start > size) start = size;
  if (length > size - start) length = size - start;
  return parseUtf8(changetype<usize>(bytes) + <usize>start, <usize>length);
}

/** Parses `len` bytes of UTF-8 JSON at `ptr`. */
function parseUtf8(ptr: usize, len: usize): JsonValue | null {
  // The tree takes several times the document's size: let the collector know (gc.ts).
  noteCopied(len << 3);
  base = at = ptr;
  end = ptr + len;
  depth = 0;
  errorCode = -1;
  lastError = null;
  let v = parseValue();
  if (v !== null) {
    skipSpace();
    if (at < end) v = fail(E_AFTER);
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
  return new JsonError(message(errorCode < 0 ? E_INVALID : errorCode, errorAt, end), <i32>(errorAt - base), line, column);
}

/** Records the first failure (message number `code` at `where`); returns null for the caller to return. */
function failAt(code: i32, where: usize): JsonValue | null {
  if (errorCode < 0) {
    errorCode = code;
    errorAt = where;
  }
  return null;
}

/** failAt the cursor. */
// @ts-ignore: decorator
@inline function fail(code: i32): JsonValue | null {
  return failAt(code, at);
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
  if (at >= end) return fail(E_UNEXPECTED);
  const start = at;
  const c = load<u8>(at);
  let v: JsonValue | null = null;
  if (c == 0x7b || c == 0x5b) v = parseContainer(c == 0x7b);
  else if (c == 0x22) {
    const s = parseString();
    if (s === null) return null;
    v = JsonValue.fromString(s);
  } else if (c == 0x2d || <u32>c - 0x30 < 10) v = parseNumber();
  else {
    // true, false or null.
    const word = at + 4 <= end ? load<u32>(at) : 0;
    let kind = JsonKind.Bool;
    let length: usize = 4;
    if (word == 0x736c6166 && at + 5 <= end && load<u8>(at, 4) == 0x65) length = 5; // "fals" "e"
    else if (word == 0x6c6c756e) kind = JsonKind.Null; // "null"
    else if (word != 0x65757274) return fail(E_VALUE); // "true"
    at += length;
    v = new JsonValue(kind);
    v._flag = u8(word == 0x65757274);
  }
  if (v !== null) {
    v.start = <u32>(start - base);
    v.end = <u32>(at - base);
  }
  return v;
}

/** Whether `close` follows, after whitespace. */
function closesHere(close: u32): bool {
  skipSpace();
  return at < end && load<u8>(at) == close;
}

/** An array, or an object when `object` (the cursor is on its bracket). */
function parseContainer(object: bool): JsonValue | null {
  if (++depth > MAX_DEPTH) return fail(E_DEPTH);
  at++;
  const v = new JsonValue(object ? JsonKind.Object : JsonKind.Array);
  const close: u32 = object ? 0x7d : 0x5d;
  if (!closesHere(close)) {
    while (true) {
      if (object) {
        skipSpace();
        if (at >= end) return fail(E_UNEXPECTED);
        if (load<u8>(at) != 0x22) return fail(E_KEY);
        const key = parseString();
        if (key === null) return null;
        skipSpace();
        if (at >= end || load<u8>(at) != 0x3a) return fail(E_COLON);
        at++;
        append(v, changetype<usize>(key));
      }
      const item = parseValue();
      if (item === null) return null;
      append(v, changetype<usize>(item));
      skipSpace();
      if (at >= end) return fail(E_UNEXPECTED);
      const c = <u32>load<u8>(at);
      if (c == close) break;
      if (c != 0x2c) return fail(object ? E_OBJECT_SEPARATOR : E_ARRAY_SEPARATOR);
      const comma = at++;
      if (closesHere(close)) return failAt(E_TRAILING_COMMA, comma);
    }
    // Give back the unused slots.
    const items = changetype<usize>(v._p);
    const bytes = <usize>v._n << alignof<usize>();
    if (bytes < <usize>changetype<ArrayBuffer>(items).byteLength) v._p = changetype<Object>(__renew(items, bytes));
  }
  at++;
  depth--;
  return v;
}

// Escape letters and the characters they stand for, pairwise, then a 0.
// @ts-ignore: decorator
@lazy const ESCAPES = memory.data<u8>([
  0x22, 0x22, 0x5c, 0x5c, 0x2f, 0x2f, 0x62, 0x08, 0x66, 0x0c, 0x6e, 0x0a, 0x72, 0x0d, 0x74, 0x09, 0,
]);

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
  // Find the closing quote (a backslash escapes the next byte).
  while (p < end) {
    const c = load<u8>(p);
    if (c == 0x22) break;
    p += c == 0x5c ? 2 : 1;
  }
  if (p >= end) {
    failAt(E_UNTERMINATED, open);
    return null;
  }
  const close = p;
  p = open + 1;
  // At most one UTF-16 unit per input byte; trimmed at the end.
  const out = __new((close - p) << 1, idof<String>());
  let o = out;
  while (p < close) {
    let c = <u32>load<u8>(p);
    if (c == 0x5c) {
      const backslash = p;
      const e = <u32>load<u8>(p + 1);
      p += 2;
      if (e == 0x75) {
        // \uXXXX: one UTF-16 unit; a surrogate pair is two escapes and lands as two units.
        c = 0;
        for (let i = 0; i < 4; i++) {
          const d = p < close ? hexDigit(load<u8>(p++)) : -1;
          if (d < 0) {
            failAt(E_UNICODE_ESCAPE, backslash);
            return null;
          }
          c = (c << 4) | <u32>d;
        }
      } else {
        // The other escapes, by a lookup in ESCAPES.
        let q = ESCAPES;
        while (true) {
          const k = <u32>load<u8>(q);
          if (k == 0) {
            failAt(E_ESCAPE, backslash);
            return null;
          }
          if (k == e) break;
          q += 2;
        }
        c = load<u8>(q, 1);
      }
    } else if (c < 0x80) {
      if (c < 0x20) {
        failAt(E_CONTROL, p);
        return null;
      }
      p++;
    } else {
      // UTF-8 sequence: strict (no overlongs, surrogates or code points above U+10FFFF).
      const lead = p++;
      let ok = false;
      if (c - 0xc2 <= 0xf4 - 0xc2) {
        let n: u32 = 1 + u32(c >= 0xe0) + u32(c >= 0xf0);
        let lo: u32 = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        let hi: u32 = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        c &= 0x7f >> n;
        while (p < close) {
          const b = <u32>load<u8>(p);
          if (b - lo > hi - lo) break;
          lo = 0x80;
          hi = 0xbf;
          c = (c << 6) | (b & 0x3f);
          p++;
          if (--n == 0) break;
        }
        ok = n == 0;
      }
      if (!ok) {
        failAt(E_UTF8, lead);
        return null;
      }
      if (c >= 0x10000) {
        // A surrogate pair: the high half here, the low half below.
        c -= 0x10000;
        store<u16>(o, <u16>(0xd800 | (c >> 10)));
        o += 2;
        c = 0xdc00 | (c & 0x3ff);
      }
    }
    store<u16>(o, <u16>c);
    o += 2;
  }
  at = close + 1;
  return changetype<string>(__renew(out, o - out));
}

/** Past the digits at `p`. */
function skipDigits(p: usize): usize {
  while (p < end && <u32>load<u8>(p) - 0x30 < 10) p++;
  return p;
}

/** Checks the number at the cursor; keeps a short whole number as such, otherwise its text. */
function parseNumber(): JsonValue | null {
  const start = at;
  const intStart = start + usize(load<u8>(start) == 0x2d);
  const intEnd = skipDigits(intStart);
  if (intEnd == intStart) return failAt(E_NUMBER, start);
  if (load<u8>(intStart) == 0x30 && intEnd - intStart > 1) return failAt(E_LEADING_ZERO, start);
  let p = intEnd;
  if (p < end && load<u8>(p) == 0x2e) {
    const q = skipDigits(++p);
    if (q == p) return failAt(E_FRACTION, start);
    p = q;
  }
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    if (p < end && (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d)) p++;
    const q = skipDigits(p);
    if (q == p) return failAt(E_EXPONENT, start);
    p = q;
  }
  at = p;
  const v = new JsonValue(JsonKind.Number);
  const n = p - start;
  // At most 9 digits, nothing else but a sign, and not -0 (a double, not an integer).
  if (p == intEnd && p - intStart <= 9 && (intStart == start || load<u8>(intStart) != 0x30)) {
    let whole: i32 = 0;
    for (let q = intStart; q < p; q++) whole = whole * 10 + <i32>(load<u8>(q) - 0x30);
    v._flag = NUMBER_INT;
    v._n = intStart != start ? -whole : whole;
  } else {
    const text = __new(n, idof<ArrayBuffer>());
    memory.copy(text, start, n);
    v._p = changetype<Object>(text);
  }
  return v;
}
