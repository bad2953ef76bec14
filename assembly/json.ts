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

import { putDecimal } from "./abort";
import { noteCopied } from "./gc";
import { encodeToScratch, scratchAt, SCRATCH_C } from "./memory";

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
    messageNumber = this.line;
    messageNumber2 = this.column;
    return this.message + message(M_POSITION);
  }
}

// How a Number keeps its value (JsonValue._flag).
const NUMBER_TEXT: u8 = 0; // _p: the literal's text (an ArrayBuffer), converted when read
const NUMBER_F64: u8 = 1; // _p: 8 bytes holding the f64 (values built in code)
const NUMBER_INT: u8 = 2; // _n: a whole number of at most 9 digits (no box at all)

/** A parsed (or built) JSON value. Objects keep their keys in document order. */
export class JsonValue {
  /** Byte offset where this value starts in the parsed input (0 for values built in code). */
  start: u32 = 0;
  /** Byte offset just past this value in the parsed input. */
  end: u32 = 0;
  // Internal. Bool: its value in _flag. Number: see NUMBER_*. String: the string in _p. Array and
  // Object: a StaticArray in _p (objects: key, value, key, value...) with _n slots in use.
  _flag: u8 = 0;
  _p: Object | null = null;
  _n: i32 = 0;

  constructor(public readonly kind: JsonKind) {}

  // ---- building ----

  static nullValue(): JsonValue {
    return new JsonValue(JsonKind.Null);
  }
  static fromBool(b: bool): JsonValue {
    const v = new JsonValue(JsonKind.Bool);
    v._flag = <u8>b;
    return v;
  }
  static fromNumber(n: f64): JsonValue {
    const v = new JsonValue(JsonKind.Number);
    const box = __new(8, idof<ArrayBuffer>());
    store<f64>(box, n);
    v._flag = NUMBER_F64;
    v._p = changetype<Object>(box);
    return v;
  }
  static fromString(s: string): JsonValue {
    const v = new JsonValue(JsonKind.String);
    v._p = changetype<Object>(s);
    return v;
  }
  /** A new empty array; add items with push(). */
  static newArray(): JsonValue {
    return new JsonValue(JsonKind.Array);
  }
  /** A new empty object; add members with set(). */
  static newObject(): JsonValue {
    return new JsonValue(JsonKind.Object);
  }

  /** Appends an item to an array (does nothing on other kinds); returns this. */
  push(item: JsonValue): JsonValue {
    if (this.kind == JsonKind.Array) append(this, changetype<usize>(item));
    return this;
  }

  /** Sets a member of an object: replaces the last one named `key` or appends; returns this. */
  set(key: string, value: JsonValue): JsonValue {
    if (this.kind != JsonKind.Object) return this;
    const i = this.indexOf(key);
    if (i >= 0) unchecked((changetype<StaticArray<Object>>(this._p)[i + 1] = changetype<Object>(value)));
    else {
      append(this, changetype<usize>(key));
      append(this, changetype<usize>(value));
    }
    return this;
  }

  // ---- reading ----

  /** "null", "boolean", "number", "string", "array" or "object" (for error messages). */
  typeName(): string {
    return message(this.kind);
  }

  /** The boolean, or `missing` when this is not a boolean. */
  asBool(missing: bool = false): bool {
    return this.kind == JsonKind.Bool ? this._flag != 0 : missing;
  }

  /** The number, or `missing` when this is not a number. */
  asNumber(missing: f64 = NaN): f64 {
    if (this.kind != JsonKind.Number) return missing;
    const p = changetype<usize>(this._p);
    if (this._flag == NUMBER_INT) return <f64>this._n;
    if (p == 0) return 0; // new JsonValue(JsonKind.Number)
    if (this._flag == NUMBER_F64) return load<f64>(p);
    return numberFromText(p, <usize>changetype<ArrayBuffer>(p).byteLength);
  }

  /** The number when it is a whole number within ±2^53, else `missing`. */
  asInteger(missing: i64 = 0): i64 {
    if (this.kind != JsonKind.Number) return missing;
    const n = this.asNumber();
    if (Math.floor(n) != n || Math.abs(n) > 9007199254740992) return missing;
    return <i64>n;
  }

  /** The string, or null when this is not a string. */
  asString(): string | null {
    return this.kind == JsonKind.String ? changetype<string | null>(this._p) : null;
  }

  /** Number of items of an array or members of an object; 0 for other kinds. */
  get length(): i32 {
    const kind = this.kind;
    return kind == JsonKind.Array ? this._n : kind == JsonKind.Object ? this._n >> 1 : 0;
  }

  /** Item `i` of an array, or the value of member `i` of an object; null when out of range. */
  at(i: i32): JsonValue | null {
    if (<u32>i >= <u32>this.length) return null;
    if (this.kind == JsonKind.Object) i = (i << 1) + 1;
    return changetype<JsonValue>(slot(this, i));
  }

  /** The key of member `i` of an object; null when out of range or not an object. */
  keyAt(i: i32): string | null {
    if (this.kind != JsonKind.Object || <u32>i >= <u32>this.length) return null;
    return changetype<string>(slot(this, i << 1));
  }

  /** The member named `key` (the last one if repeated); null when absent or not an object. */
  get(key: string): JsonValue | null {
    const i = this.indexOf(key);
    return i < 0 ? null : changetype<JsonValue>(slot(this, i + 1));
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

  /** Slot of the last key equal to `key` (an even number), or -1. */
  private indexOf(key: string): i32 {
    if (this.kind != JsonKind.Object) return -1;
    for (let i = this._n - 2; i >= 0; i -= 2) {
      if (changetype<string>(slot(this, i)) == key) return i;
    }
    return -1;
  }
}

/** Slot `i` of a container's items (a key or a value). */
// @ts-ignore: decorator
@inline function slot(v: JsonValue, i: i32): usize {
  return load<usize>(changetype<usize>(v._p) + (<usize>i << alignof<usize>()));
}

/** Appends a slot to a container, doubling its StaticArray when full. */
function append(v: JsonValue, x: usize): void {
  let items = changetype<usize>(v._p);
  const n = v._n;
  const capacity = items == 0 ? 0 : <i32>(changetype<ArrayBuffer>(items).byteLength >>> alignof<usize>());
  if (n == capacity) {
    const grown = capacity == 0 ? 4 : capacity << 1;
    const bytes = <usize>grown << alignof<usize>();
    items = items == 0 ? __new(bytes, idof<StaticArray<Object>>()) : __renew(items, bytes);
    // Unused slots stay null: the collector visits all of them.
    memory.fill(items + (<usize>capacity << alignof<usize>()), 0, <usize>(grown - capacity) << alignof<usize>());
    v._p = changetype<Object>(items);
  }
  unchecked((changetype<StaticArray<Object>>(items)[n] = changetype<Object>(x)));
  v._n = n + 1;
}

// ---- messages ----

// Type names (by JsonKind) and parse errors, numbered by their position, '|' after each. In a
// message '@' stands for what was found at the error offset ('x', byte 0xNN or end of input), '^'
// for the character after it (the letter of a bad escape). One table costs far less than one
// string per message, and ASCII bytes half as much as a string literal. The bytes spell these
// lines, concatenated (tests/node/sdk-size.test.ts checks that they match):
// > null|boolean|number|string|array|object|
// > invalid JSON|
// > unexpected @|
// > unexpected @ after the document|
// > expected a value, found @|
// > nesting deeper than 512 levels|
// > expected ',' or ']', found @|
// > expected ',' or '}', found @|
// > trailing comma|
// > expected a string key, found @|
// > expected ':' after the key, found @|
// > unterminated string|
// > invalid \u escape (needs 4 hex digits)|
// > invalid escape \^|
// > unescaped control character in string (write it as \n, \t or \u00XX)|
// > invalid UTF-8 in string|
// > invalid number|
// > invalid number (leading zero)|
// > invalid number (needs digits after '.')|
// > invalid number (needs digits in the exponent)|
// > end of input|
// > byte 0x|
// >  at line #, column #|
// @ts-ignore: decorator
@lazy const MESSAGES = memory.data<u8>([
  0x6e, 0x75, 0x6c, 0x6c, 0x7c, 0x62, 0x6f, 0x6f, 0x6c, 0x65, 0x61, 0x6e, 0x7c, 0x6e, 0x75, 0x6d,
  0x62, 0x65, 0x72, 0x7c, 0x73, 0x74, 0x72, 0x69, 0x6e, 0x67, 0x7c, 0x61, 0x72, 0x72, 0x61, 0x79,
  0x7c, 0x6f, 0x62, 0x6a, 0x65, 0x63, 0x74, 0x7c, 0x69, 0x6e, 0x76, 0x61, 0x6c, 0x69, 0x64, 0x20,
  0x4a, 0x53, 0x4f, 0x4e, 0x7c, 0x75, 0x6e, 0x65, 0x78, 0x70, 0x65, 0x63, 0x74, 0x65, 0x64, 0x20,
  0x40, 0x7c, 0x75, 0x6e, 0x65, 0x78, 0x70, 0x65, 0x63, 0x74, 0x65, 0x64, 0x20, 0x40, 0x20, 0x61,
  0x66, 0x74, 0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x64, 0x6f, 0x63, 0x75, 0x6d, 0x65, 0x6e,
  0x74, 0x7c, 0x65, 0x78, 0x70, 0x65, 0x63, 0x74, 0x65, 0x64, 0x20, 0x61, 0x20, 0x76, 0x61, 0x6c,
  0x75, 0x65, 0x2c, 0x20, 0x66, 0x6f, 0x75, 0x6e, 0x64, 0x20, 0x40, 0x7c, 0x6e, 0x65, 0x73, 0x74,
  0x69, 0x6e, 0x67, 0x20, 0x64, 0x65, 0x65, 0x70, 0x65, 0x72, 0x20, 0x74, 0x68, 0x61, 0x6e, 0x20,
  0x35, 0x31, 0x32, 0x20, 0x6c, 0x65, 0x76, 0x65, 0x6c, 0x73, 0x7c, 0x65, 0x78, 0x70, 0x65, 0x63,
  0x74, 0x65, 0x64, 0x20, 0x27, 0x2c, 0x27, 0x20, 0x6f, 0x72, 0x20, 0x27, 0x5d, 0x27, 0x2c, 0x20,
  0x66, 0x6f, 0x75, 0x6e, 0x64, 0x20, 0x40, 0x7c, 0x65, 0x78, 0x70, 0x65, 0x63, 0x74, 0x65, 0x64,
  0x20, 0x27, 0x2c, 0x27, 0x20, 0x6f, 0x72, 0x20, 0x27, 0x7d, 0x27, 0x2c, 0x20, 0x66, 0x6f, 0x75,
  0x6e, 0x64, 0x20, 0x40, 0x7c, 0x74, 0x72, 0x61, 0x69, 0x6c, 0x69, 0x6e, 0x67, 0x20, 0x63, 0x6f,
  0x6d, 0x6d, 0x61, 0x7c, 0x65, 0x78, 0x70, 0x65, 0x63, 0x74, 0x65, 0x64, 0x20, 0x61, 0x20, 0x73,
  0x74, 0x72, 0x69, 0x6e, 0x67, 0x20, 0x6b, 0x65, 0x79, 0x2c, 0x20, 0x66, 0x6f, 0x75, 0x6e, 0x64,
  0x20, 0x40, 0x7c, 0x65, 0x78, 0x70, 0x65, 0x63, 0x74, 0x65, 0x64, 0x20, 0x27, 0x3a, 0x27, 0x20,
  0x61, 0x66, 0x74, 0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6b, 0x65, 0x79, 0x2c, 0x20, 0x66,
  0x6f, 0x75, 0x6e, 0x64, 0x20, 0x40, 0x7c, 0x75, 0x6e, 0x74, 0x65, 0x72, 0x6d, 0x69, 0x6e, 0x61,
  0x74, 0x65, 0x64, 0x20, 0x73, 0x74, 0x72, 0x69, 0x6e, 0x67, 0x7c, 0x69, 0x6e, 0x76, 0x61, 0x6c,
  0x69, 0x64, 0x20, 0x5c, 0x75, 0x20, 0x65, 0x73, 0x63, 0x61, 0x70, 0x65, 0x20, 0x28, 0x6e, 0x65,
  0x65, 0x64, 0x73, 0x20, 0x34, 0x20, 0x68, 0x65, 0x78, 0x20, 0x64, 0x69, 0x67, 0x69, 0x74, 0x73,
  0x29, 0x7c, 0x69, 0x6e, 0x76, 0x61, 0x6c, 0x69, 0x64, 0x20, 0x65, 0x73, 0x63, 0x61, 0x70, 0x65,
  0x20, 0x5c, 0x5e, 0x7c, 0x75, 0x6e, 0x65, 0x73, 0x63, 0x61, 0x70, 0x65, 0x64, 0x20, 0x63, 0x6f,
  0x6e, 0x74, 0x72, 0x6f, 0x6c, 0x20, 0x63, 0x68, 0x61, 0x72, 0x61, 0x63, 0x74, 0x65, 0x72, 0x20,
  0x69, 0x6e, 0x20, 0x73, 0x74, 0x72, 0x69, 0x6e, 0x67, 0x20, 0x28, 0x77, 0x72, 0x69, 0x74, 0x65,
  0x20, 0x69, 0x74, 0x20, 0x61, 0x73, 0x20, 0x5c, 0x6e, 0x2c, 0x20, 0x5c, 0x74, 0x20, 0x6f, 0x72,
  0x20, 0x5c, 0x75, 0x30, 0x30, 0x58, 0x58, 0x29, 0x7c, 0x69, 0x6e, 0x76, 0x61, 0x6c, 0x69, 0x64,
  0x20, 0x55, 0x54, 0x46, 0x2d, 0x38, 0x20, 0x69, 0x6e, 0x20, 0x73, 0x74, 0x72, 0x69, 0x6e, 0x67,
  0x7c, 0x69, 0x6e, 0x76, 0x61, 0x6c, 0x69, 0x64, 0x20, 0x6e, 0x75, 0x6d, 0x62, 0x65, 0x72, 0x7c,
  0x69, 0x6e, 0x76, 0x61, 0x6c, 0x69, 0x64, 0x20, 0x6e, 0x75, 0x6d, 0x62, 0x65, 0x72, 0x20, 0x28,
  0x6c, 0x65, 0x61, 0x64, 0x69, 0x6e, 0x67, 0x20, 0x7a, 0x65, 0x72, 0x6f, 0x29, 0x7c, 0x69, 0x6e,
  0x76, 0x61, 0x6c, 0x69, 0x64, 0x20, 0x6e, 0x75, 0x6d, 0x62, 0x65, 0x72, 0x20, 0x28, 0x6e, 0x65,
  0x65, 0x64, 0x73, 0x20, 0x64, 0x69, 0x67, 0x69, 0x74, 0x73, 0x20, 0x61, 0x66, 0x74, 0x65, 0x72,
  0x20, 0x27, 0x2e, 0x27, 0x29, 0x7c, 0x69, 0x6e, 0x76, 0x61, 0x6c, 0x69, 0x64, 0x20, 0x6e, 0x75,
  0x6d, 0x62, 0x65, 0x72, 0x20, 0x28, 0x6e, 0x65, 0x65, 0x64, 0x73, 0x20, 0x64, 0x69, 0x67, 0x69,
  0x74, 0x73, 0x20, 0x69, 0x6e, 0x20, 0x74, 0x68, 0x65, 0x20, 0x65, 0x78, 0x70, 0x6f, 0x6e, 0x65,
  0x6e, 0x74, 0x29, 0x7c, 0x65, 0x6e, 0x64, 0x20, 0x6f, 0x66, 0x20, 0x69, 0x6e, 0x70, 0x75, 0x74,
  0x7c, 0x62, 0x79, 0x74, 0x65, 0x20, 0x30, 0x78, 0x7c, 0x20, 0x61, 0x74, 0x20, 0x6c, 0x69, 0x6e,
  0x65, 0x20, 0x23, 0x2c, 0x20, 0x63, 0x6f, 0x6c, 0x75, 0x6d, 0x6e, 0x20, 0x23, 0x7c,
]);
const E_INVALID: i32 = 6;
const E_UNEXPECTED: i32 = 7; // only at the end of the input: "unexpected end of input"
const E_AFTER: i32 = 8;
const E_VALUE: i32 = 9;
const E_DEPTH: i32 = 10;
const E_ARRAY_SEPARATOR: i32 = 11;
const E_OBJECT_SEPARATOR: i32 = 12;
const E_TRAILING_COMMA: i32 = 13;
const E_KEY: i32 = 14;
const E_COLON: i32 = 15;
const E_UNTERMINATED: i32 = 16;
const E_UNICODE_ESCAPE: i32 = 17;
const E_ESCAPE: i32 = 18;
const E_CONTROL: i32 = 19;
const E_UTF8: i32 = 20;
const E_NUMBER: i32 = 21;
const E_LEADING_ZERO: i32 = 22;
const E_FRACTION: i32 = 23;
const E_EXPONENT: i32 = 24;
const M_END_OF_INPUT: i32 = 25;
const M_BYTE: i32 = 26;
const M_POSITION: i32 = 27;

// The message being built, in ASCII (messages are short: at most about 90 characters).
const MESSAGE_BUFFER: usize = memory.data(128);
let messageEnd: usize = 0;
// The numbers for '#' placeholders, in order.
let messageNumber: u32 = 0;
let messageNumber2: u32 = 0;

function putMessageUnit(c: u32): void {
  store<u8>(messageEnd++, <u8>c);
}

/** Appends part `k` of MESSAGES, placeholders expanded. */
function putMessage(k: i32): void {
  let p = MESSAGES;
  while (k > 0) {
    if (load<u8>(p++) == 0x7c) k--;
  }
  while (true) {
    const c = <u32>load<u8>(p++);
    if (c == 0x7c) return;
    if (c == 0x40) {
      // '@': what was found at the error offset.
      if (errorAt >= end) putMessage(M_END_OF_INPUT);
      else {
        const b = <u32>load<u8>(errorAt);
        if (b - 0x21 < 0x7f - 0x21) {
          putMessageUnit(0x27);
          putMessageUnit(b);
          putMessageUnit(0x27);
        } else {
          putMessage(M_BYTE);
          putMessageUnit(hexDigitChar(b >> 4));
          putMessageUnit(hexDigitChar(b & 15));
        }
      }
    } else if (c == 0x23) {
      // '#': the next number, in decimal (the abort handler's formatter).
      messageEnd = putDecimal(messageNumber, messageEnd);
      messageNumber = messageNumber2;
    } else if (c == 0x5e) {
      // '^': the character after the error offset, or '?' when it is not printable.
      const e = <u32>load<u8>(errorAt + 1);
      putMessageUnit(e - 0x21 < 0x7f - 0x21 ? e : 0x3f);
    } else putMessageUnit(c);
  }
}

/** Part `k` of MESSAGES as a new string. */
function message(k: i32): string {
  messageEnd = MESSAGE_BUFFER;
  putMessage(k);
  const n = messageEnd - MESSAGE_BUFFER;
  const s = __new(n << 1, idof<String>());
  for (let i: usize = 0; i < n; i++) store<u16>(s + (i << 1), load<u8>(MESSAGE_BUFFER + i));
  return changetype<string>(s);
}

function hexDigitChar(d: u32): u32 {
  return d < 10 ? 0x30 + d : 0x57 + d;
}

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
  const n = encodeToScratch(text, SCRATCH_C);
  return parseUtf8(scratchAt(SCRATCH_C), n);
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
  return new JsonError(message(errorCode < 0 ? E_INVALID : errorCode), <i32>(errorAt - base), line, column);
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

// ---- decimal to double, correctly rounded (compiled only into filters that read numbers) ----
// The value is D x 10^e, D the significant digits. Up to 19 significant digits with a small
// exponent are exact in f64 arithmetic (Clinger's fast path). Other numbers start from an f64
// estimate (a few ulps off at most) and are corrected one ulp at a time by comparing D x 10^e with
// the halfway points around the estimate in exact big-integer arithmetic, so every number rounds
// like JavaScript's Number() does.

const MAX_DIGITS: i32 = 800; // a double's halfway points have at most 767 significant digits
const LIMBS: usize = 128; // 4096 bits: enough for the largest comparison (about 2700 bits)
const HIDDEN: u64 = 1 << 52;

// The significant digits of the number being converted are [digitsFrom, digitsTo) (a '.' among
// them is skipped); the value is those digits x 10^digitsExp.
let digitsFrom: usize = 0;
let digitsTo: usize = 0;
let digitsExp: i32 = 0;

/** The value of a checked JSON number literal of `len` bytes at `p`. */
function numberFromText(p: usize, len: usize): f64 {
  const stop = p + len;
  const negative = load<u8>(p) == 0x2d;
  if (negative) p++;
  // The first 19 significant digits in m; nd counts them all; tail: a nonzero digit after the 19th.
  let m: u64 = 0;
  let nd = 0;
  let e10 = 0;
  let tail = false;
  let dot = false;
  for (; p < stop; p++) {
    const c = <u32>load<u8>(p);
    if (c == 0x2e) {
      dot = true;
      continue;
    }
    const d = c - 0x30;
    if (d >= 10) break;
    if (dot) e10--;
    if (nd == 0) {
      if (d == 0) continue;
      digitsFrom = p;
    }
    if (nd < 19) m = m * 10 + d;
    else if (d != 0) tail = true;
    nd++;
  }
  digitsTo = p;
  if (p < stop) {
    // e or E, an optional sign, digits.
    const expNegative = load<u8>(++p) == 0x2d;
    if (expNegative || load<u8>(p) == 0x2b) p++;
    let exp = 0;
    for (; p < stop; p++) {
      if (exp < 100000) exp = exp * 10 + <i32>(load<u8>(p) - 0x30);
    }
    e10 += expNegative ? -exp : exp;
  }
  digitsExp = e10;
  // m x 10^e is the value, give or take the digits after the 19th. In f64 arithmetic: exact operands
  // and one rounding when e is small (Clinger's fast path), otherwise an estimate a few roundings
  // away from the answer.
  let e = nd > 19 ? e10 + nd - 19 : e10;
  const exact = m == 0 || (!tail && m <= HIDDEN << 1 && e >= -22 && e <= 22);
  let n = <f64>m;
  for (; e > 22; e -= 22) n *= 1e22;
  for (; e < -22; e += 22) n /= 1e22;
  n = e >= 0 ? n * pow10(e) : n / pow10(-e);
  if (!exact) {
    if (e10 + nd > 310) n = Infinity; // at least 10^310
    else if (e10 + nd < -324) n = 0; // below 10^-324
    else {
      // Walk to the nearest double, one ulp at a time, comparing with the halfway points in exact
      // big-integer arithmetic (ties to even). Neighbouring doubles are neighbouring bit patterns,
      // binade and subnormal edges included.
      let bits = reinterpret<u64>(isFinite(n) ? n : f64.MAX_VALUE);
      while (true) {
        const up = compareWithHalfway(bits);
        if (up > 0 || (up == 0 && (bits & 1) != 0)) {
          bits++;
          if (up == 0 || bits == 0x7ff0000000000000) break; // a tie, or past the largest double
          continue;
        }
        if (bits == 0) break;
        const down = compareWithHalfway(bits - 1);
        if (down < 0 || (down == 0 && (bits & 1) != 0)) {
          bits--;
          if (down == 0) break;
          continue;
        }
        break;
      }
      n = reinterpret<f64>(bits);
    }
  }
  return negative ? -n : n;
}

function pow10(e: i32): f64 {
  let r: f64 = 1;
  for (; e > 0; e--) r *= 10; // exact up to 1e22
  return r;
}

/** Sign of (the number's digits x 10^digitsExp) - (the halfway point between `bits` and `bits` + 1). */
function compareWithHalfway(bits: u64): i32 {
  // The double is M x 2^k; the halfway point above it is (2M + 1) x 2^(k - 1).
  const be = <i32>(bits >> 52);
  let M = bits & (HIDDEN - 1);
  let k = -1074;
  if (be != 0) {
    M |= HIDDEN;
    k = be - 1075;
  }
  // D: at most MAX_DIGITS significant digits, then a sticky 1 for any nonzero digit cut off.
  bigSet(BIG_D, 0);
  let e = digitsExp;
  let count = 0;
  let sticky = false;
  for (let q = digitsFrom; q < digitsTo; q++) {
    const c = <u32>load<u8>(q);
    if (c == 0x2e) continue;
    if (count++ < MAX_DIGITS) bigMulAdd(BIG_D, 10, c - 0x30);
    else {
      e++;
      if (c != 0x30) sticky = true;
    }
  }
  if (sticky) {
    bigMulAdd(BIG_D, 10, 1);
    e--;
  }
  bigSet(BIG_H, (M << 1) + 1);
  // D x 5^e x 2^e against H x 2^(k - 1): the power of 5 goes to one side, the power of 2 to one side.
  if (e >= 0) bigMulPow5(BIG_D, e);
  else bigMulPow5(BIG_H, -e);
  const t = e - k + 1;
  if (t > 0) bigShl(BIG_D, t);
  else bigShl(BIG_H, -t);
  return bigCompare(BIG_D, BIG_H);
}

// Two big integers in static memory: a limb count, then LIMBS little-endian 32-bit limbs.
// @ts-ignore: decorator
@lazy const BIG_D: usize = memory.data(<i32>((LIMBS + 1) << 2), 4);
// @ts-ignore: decorator
@lazy const BIG_H: usize = memory.data(<i32>((LIMBS + 1) << 2), 4);

function bigSet(b: usize, v: u64): void {
  store<u64>(b, v, 4);
  store<i32>(b, v == 0 ? 0 : v >> 32 != 0 ? 2 : 1);
}

/** b = b * mul + add. */
function bigMulAdd(b: usize, mul: u32, add: u32): void {
  const n = load<i32>(b);
  let carry: u64 = add;
  let q = b + 4;
  const stop = q + (<usize>n << 2);
  for (; q < stop; q += 4) {
    const t = <u64>load<u32>(q) * mul + carry;
    store<u32>(q, <u32>t);
    carry = t >> 32;
  }
  if (carry != 0) {
    store<u32>(q, <u32>carry);
    store<i32>(b, n + 1);
  }
}

/** b = b * 5^e. */
function bigMulPow5(b: usize, e: i32): void {
  for (; e >= 13; e -= 13) bigMulAdd(b, 1220703125, 0);
  let m: u32 = 1;
  for (; e > 0; e--) m *= 5;
  bigMulAdd(b, m, 0);
}

/** b = b * 2^bits. */
function bigShl(b: usize, bits: i32): void {
  for (; bits >= 31; bits -= 31) bigMulAdd(b, <u32>1 << 31, 0);
  bigMulAdd(b, <u32>1 << bits, 0);
}

function bigCompare(a: usize, b: usize): i32 {
  let n = load<i32>(a);
  if (n != load<i32>(b)) return n > load<i32>(b) ? 1 : -1;
  while (n > 0) {
    const x = load<u32>(a + (<usize>n << 2));
    const y = load<u32>(b + (<usize>n << 2));
    if (x != y) return x > y ? 1 : -1;
    n--;
  }
  return 0;
}

// ---- serializing ----
// Output goes to one growing UTF-16 buffer (a global, so the GC sees it). Not Array#join: release
// builds (shrink level >= 1) compile it as repeated concatenation, quadratic in memory.

// @ts-ignore: decorator
@lazy let sb: ArrayBuffer | null = null;
let sbLen: i32 = 0; // in UTF-16 units

function reserve(units: i32): usize {
  let b = sb;
  const need = (sbLen + units) << 1;
  if (b === null || need > b.byteLength) {
    let cap = b === null ? 256 : b.byteLength << 1;
    if (cap < need) cap = need;
    const nb = changetype<ArrayBuffer>(__new(cap, idof<ArrayBuffer>()));
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
      for (let shift = 12; shift >= 0; shift -= 4) putUnit(hexDigitChar((c >> shift) & 15));
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
      put(v._flag != 0 ? "true" : "false");
      return;
    case JsonKind.Number:
      put(numberText(v.asNumber()));
      return;
    case JsonKind.String:
      quoteInto(changetype<string>(v._p));
      return;
  }
  const object = v.kind == JsonKind.Object;
  putUnit(object ? 0x7b : 0x5b);
  for (let i = 0, n = v._n; i < n; i++) {
    if (i > 0) putUnit(0x2c);
    if (object) {
      quoteInto(changetype<string>(slot(v, i++)));
      putUnit(0x3a);
    }
    writeJson(changetype<JsonValue>(slot(v, i)));
  }
  putUnit(object ? 0x7d : 0x5d);
}
