// Protocol Buffers wire format, by hand: enough to build a gRPC request message and read a response
// without generated code. ProtoWriter appends fields (varints, fixed-width numbers, length-delimited
// strings, bytes and nested messages); ProtoReader walks fields one at a time, skipping the ones it is
// not asked about, and never traps: malformed input ends the walk and sets `malformed`.
// Both make no host call, so they are valid in every callback. Field numbers are 1 to 2^29-1.
// Wire types (protobuf encoding spec): 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit.

import { decodeUtf8, encodeUtf8Into, utf8Bound } from "./utf8";

export enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

/** Builds one message: chain the field methods, then finish(). */
export class ProtoWriter {
  private buf: ArrayBuffer = new ArrayBuffer(64);
  private len: i32 = 0;

  /** Bytes written so far. */
  get length(): i32 {
    return this.len;
  }

  /** A string field (UTF-8; unpaired surrogates become U+FFFD). proto3 skips "" by convention: so does this. */
  string(field: u32, value: string): ProtoWriter {
    if (value.length == 0) return this;
    // Reserve the worst case, write, then fix the length prefix in place.
    const bound = <i32>utf8Bound(value);
    this.tag(field, WireType.LengthDelimited);
    this.reserve(bound + 10); // varint() below must not need to grow the buffer
    const lengthAt = this.len;
    const start = lengthAt + varintSize(<u64>bound);
    const n = <i32>encodeUtf8Into(value, changetype<usize>(this.buf) + <usize>start);
    const prefix = varintSize(<u64>n);
    if (lengthAt + prefix != start)
      memory.copy(changetype<usize>(this.buf) + <usize>(lengthAt + prefix), changetype<usize>(this.buf) + <usize>start, <usize>n);
    this.len = lengthAt;
    this.varint(<u64>n);
    this.len += n;
    return this;
  }

  /** A bytes field (written even when empty, so a present-but-empty value survives). */
  bytes(field: u32, value: ArrayBuffer): ProtoWriter {
    this.tag(field, WireType.LengthDelimited);
    this.varint(<u64>value.byteLength);
    this.raw(changetype<usize>(value), value.byteLength);
    return this;
  }

  /** A nested message field, built with another writer (bytes(field, ...) takes finished bytes). */
  message(field: u32, message: ProtoWriter): ProtoWriter {
    this.tag(field, WireType.LengthDelimited);
    this.varint(<u64>message.len);
    this.raw(changetype<usize>(message.buf), message.len);
    return this;
  }

  /** uint32, uint64, enum fields (varint). 0 is skipped, as proto3 does. */
  uint64(field: u32, value: u64): ProtoWriter {
    if (value == 0) return this;
    this.tag(field, WireType.Varint);
    this.varint(value);
    return this;
  }

  /** int32 and int64 fields (negative values take 10 bytes, as in every protobuf library). */
  int64(field: u32, value: i64): ProtoWriter {
    return this.uint64(field, <u64>value);
  }

  /** sint32 and sint64 fields (zigzag varint: small negative numbers stay small). */
  sint64(field: u32, value: i64): ProtoWriter {
    return this.uint64(field, <u64>((value << 1) ^ (value >> 63)));
  }

  /** bool field (false is skipped, as proto3 does). */
  bool(field: u32, value: bool): ProtoWriter {
    return this.uint64(field, value ? 1 : 0);
  }

  /** fixed64, sfixed64 fields. */
  fixed64(field: u32, value: u64): ProtoWriter {
    if (value == 0) return this;
    this.tag(field, WireType.Fixed64);
    this.reserve(8);
    store<u64>(changetype<usize>(this.buf) + <usize>this.len, value);
    this.len += 8;
    return this;
  }

  /** double field. */
  double(field: u32, value: f64): ProtoWriter {
    return this.fixed64(field, reinterpret<u64>(value));
  }

  /** fixed32, sfixed32 fields. */
  fixed32(field: u32, value: u32): ProtoWriter {
    if (value == 0) return this;
    this.tag(field, WireType.Fixed32);
    this.reserve(4);
    store<u32>(changetype<usize>(this.buf) + <usize>this.len, value);
    this.len += 4;
    return this;
  }

  /** float field. */
  float(field: u32, value: f32): ProtoWriter {
    return this.fixed32(field, reinterpret<u32>(value));
  }

  /** The message bytes (a copy; the writer can keep going). */
  finish(): ArrayBuffer {
    return this.buf.slice(0, this.len);
  }

  private tag(field: u32, type: WireType): void {
    this.varint(((<u64>field) << 3) | <u64>type);
  }

  private varint(v: u64): void {
    this.reserve(10);
    let p = changetype<usize>(this.buf) + <usize>this.len;
    const start = p;
    while (v >= 0x80) {
      store<u8>(p++, <u8>(v | 0x80));
      v >>= 7;
    }
    store<u8>(p++, <u8>v);
    this.len += <i32>(p - start);
  }

  private raw(ptr: usize, n: i32): void {
    this.reserve(n);
    memory.copy(changetype<usize>(this.buf) + <usize>this.len, ptr, <usize>n);
    this.len += n;
  }

  private reserve(n: i32): void {
    const need = this.len + n;
    const cap = this.buf.byteLength;
    if (need <= cap) return;
    let size = cap << 1;
    if (size < need) size = need;
    const grown = new ArrayBuffer(size);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), <usize>this.len);
    this.buf = grown;
  }
}

function varintSize(v: u64): i32 {
  let n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/**
 * Reads a message field by field:
 *   const r = new ProtoReader(bytes);
 *   while (r.next()) { if (r.field == 1) name = r.string(); }
 *   if (r.malformed) ...
 * Accessors return the current field's value; the wrong accessor for the wire type gives 0 / "".
 */
export class ProtoReader {
  /** The current field's number (valid after next() returned true). */
  field: u32 = 0;
  /** The current field's wire type. */
  wireType: WireType = WireType.Varint;
  /** Set when next() stopped because the input is not a valid message. */
  malformed: bool = false;
  private pos: i32 = 0;
  private value: u64 = 0; // varint / fixed value
  private start: i32 = 0; // length-delimited value
  private size: i32 = 0;

  constructor(public readonly data: ArrayBuffer) {}

  /** Moves to the next field; false at the end of the message or when it is malformed. */
  next(): bool {
    if (this.malformed || this.pos >= this.data.byteLength) return false;
    const key = this.readVarint();
    if (this.malformed) return false;
    const field = <u32>(key >> 3);
    const type = <u32>(key & 7);
    if (field == 0 || key >> 32 != 0) return this.fail();
    this.field = field;
    this.wireType = <WireType>type;
    const p = changetype<usize>(this.data);
    const end = this.data.byteLength;
    if (type == WireType.Varint) {
      this.value = this.readVarint();
      return !this.malformed;
    }
    if (type == WireType.Fixed64) {
      if (end - this.pos < 8) return this.fail();
      this.value = load<u64>(p + <usize>this.pos);
      this.pos += 8;
      return true;
    }
    if (type == WireType.Fixed32) {
      if (end - this.pos < 4) return this.fail();
      this.value = <u64>load<u32>(p + <usize>this.pos);
      this.pos += 4;
      return true;
    }
    if (type == WireType.LengthDelimited) {
      const n = this.readVarint();
      if (this.malformed || n > <u64>(end - this.pos)) return this.fail();
      this.start = this.pos;
      this.size = <i32>n;
      this.pos += <i32>n;
      return true;
    }
    // Groups (3, 4) are deprecated and 6, 7 do not exist.
    return this.fail();
  }

  /** A varint field as unsigned (uint32, uint64, enum). */
  uint64(): u64 {
    return this.wireType == WireType.Varint ? this.value : 0;
  }
  /** A varint field as signed (int32, int64). */
  int64(): i64 {
    return <i64>this.uint64();
  }
  /** A zigzag varint field (sint32, sint64). */
  sint64(): i64 {
    const v = this.uint64();
    return <i64>(v >> 1) ^ -(<i64>(v & 1));
  }
  bool(): bool {
    return this.uint64() != 0;
  }
  /** A fixed64 / sfixed64 / double field's bits (fixed32 / float: the low 32 bits). */
  fixed(): u64 {
    return this.wireType == WireType.Fixed64 || this.wireType == WireType.Fixed32 ? this.value : 0;
  }
  double(): f64 {
    return this.wireType == WireType.Fixed64 ? reinterpret<f64>(this.value) : 0;
  }
  float(): f32 {
    return this.wireType == WireType.Fixed32 ? reinterpret<f32>(<u32>this.value) : 0;
  }
  /** A length-delimited field's bytes (a copy); empty for other wire types. */
  bytes(): ArrayBuffer {
    if (this.wireType != WireType.LengthDelimited) return new ArrayBuffer(0);
    return this.data.slice(this.start, this.start + this.size);
  }
  /** A length-delimited field as UTF-8 text (invalid sequences become U+FFFD); "" for other wire types. */
  string(): string {
    if (this.wireType != WireType.LengthDelimited) return "";
    return decodeUtf8(changetype<usize>(this.data) + <usize>this.start, <usize>this.size);
  }
  /** A nested message field, to read with its own reader. */
  message(): ProtoReader {
    return new ProtoReader(this.bytes());
  }

  private fail(): bool {
    this.malformed = true;
    return false;
  }

  private readVarint(): u64 {
    const p = changetype<usize>(this.data);
    const end = this.data.byteLength;
    let result: u64 = 0;
    let shift: u64 = 0;
    while (true) {
      if (this.pos >= end || shift > 63) {
        this.malformed = true;
        return 0;
      }
      const b = <u64>load<u8>(p + <usize>this.pos);
      this.pos++;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }
}
