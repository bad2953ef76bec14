// JSON values (what parseJson returns and what a filter builds) and their serialization. See json.ts
// for the reader and the layout choices.

import { message, hexDigitChar, M_POSITION } from "./json-messages";
import { numberFromText } from "./json-number";

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
    return this.message + message(M_POSITION, 0, 0, this.line, this.column);
  }
}

// How a Number keeps its value (JsonValue._flag).
export const NUMBER_TEXT: u8 = 0; // _p: the literal's text (an ArrayBuffer), converted when read
export const NUMBER_F64: u8 = 1; // _p: 8 bytes holding the f64 (values built in code)
export const NUMBER_INT: u8 = 2; // _n: a whole number of at most 9 digits (no box at all)

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
@inline export function slot(v: JsonValue, i: i32): usize {
  return load<usize>(changetype<usize>(v._p) + (<usize>i << alignof<usize>()));
}

/** Appends a slot to a container, doubling its StaticArray when full. */
export function append(v: JsonValue, x: usize): void {
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
