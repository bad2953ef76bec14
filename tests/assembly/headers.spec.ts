// Header-map wire format (proxy-wasm spec "Serialization"; abi-and-sdks §1.7): u32 pair count N,
// then N x (u32 key length, u32 value length), then key bytes, NUL, value bytes, NUL for each pair.
import {
  Header,
  HeaderBytes,
  serializeHeaders,
  serializeHeaderBytes,
  deserializeHeaders,
  deserializeHeaderBytes,
  checkedPairCount,
} from "../../assembly/headers";
import { scratchAt, SCRATCH_MAP } from "../../assembly/memory";
import { getMap, getMapBytes, setMap, setMapBytes } from "../../assembly/hostcalls";
import { MapType, Status } from "../../assembly/types";
import * as mock from "./mock";
import { bytes, utf8, concat, memoryBytes, bufferBytes, arrayBytes, atEndOfMemory } from "./mock";

// The four pairs and their serialization used by the Rust SDK's own tests (proxy-wasm-rust-sdk
// src/hostcalls.rs, utils::tests::MAP / SERIALIZED_MAP), written out here byte by byte.
function rustPairs(): Header[] {
  return [
    new Header(":method", "GET"),
    new Header(":path", "/bytes/1"),
    new Header(":authority", "httpbin.org"),
    new Header("Powered-By", "proxy-wasm"),
  ];
}

function rustVector(): Uint8Array {
  return concat([
    bytes([4, 0, 0, 0]), // 4 pairs
    bytes([7, 0, 0, 0, 3, 0, 0, 0]), // (":method", "GET")
    bytes([5, 0, 0, 0, 8, 0, 0, 0]), // (":path", "/bytes/1")
    bytes([10, 0, 0, 0, 11, 0, 0, 0]), // (":authority", "httpbin.org")
    bytes([10, 0, 0, 0, 10, 0, 0, 0]), // ("Powered-By", "proxy-wasm")
    bytes([58, 109, 101, 116, 104, 111, 100, 0]), // ":method\0"
    bytes([71, 69, 84, 0]), // "GET\0"
    bytes([58, 112, 97, 116, 104, 0]), // ":path\0"
    bytes([47, 98, 121, 116, 101, 115, 47, 49, 0]), // "/bytes/1\0"
    bytes([58, 97, 117, 116, 104, 111, 114, 105, 116, 121, 0]), // ":authority\0"
    bytes([104, 116, 116, 112, 98, 105, 110, 46, 111, 114, 103, 0]), // "httpbin.org\0"
    bytes([80, 111, 119, 101, 114, 101, 100, 45, 66, 121, 0]), // "Powered-By\0"
    bytes([112, 114, 111, 120, 121, 45, 119, 97, 115, 109, 0]), // "proxy-wasm\0"
  ]);
}

function rustPairsAsBytes(): HeaderBytes[] {
  const text = rustPairs();
  const out: HeaderBytes[] = [];
  for (let i = 0; i < text.length; i++) {
    out.push(new HeaderBytes(String.UTF8.encode(text[i].name), String.UTF8.encode(text[i].value)));
  }
  return out;
}

function u32le(v: u32): u8[] {
  return [<u8>v, <u8>(v >> 8), <u8>(v >> 16), <u8>(v >> 24)];
}

describe("serializeHeaders (text)", () => {
  test("produces the Rust SDK's exact byte vector for its four pairs", () => {
    const size = serializeHeaders(rustPairs());
    const p = scratchAt(SCRATCH_MAP);
    expect(size).toBe(<usize>rustVector().length);
    expect(memoryBytes(p, size)).toStrictEqual(arrayBytes(rustVector()));
  });

  test("an empty map is a zero pair count and nothing else", () => {
    const size = serializeHeaders([]);
    const p = scratchAt(SCRATCH_MAP);
    expect(memoryBytes(p, size)).toStrictEqual(<u8[]>[0, 0, 0, 0]);
  });

  test("lengths count UTF-8 bytes, not UTF-16 units, and empty values keep their NUL", () => {
    const size = serializeHeaders([new Header("x-café", "€"), new Header("x-empty", "")]);
    const p = scratchAt(SCRATCH_MAP);
    const expected = concat([
      bytes([2, 0, 0, 0]),
      bytes([7, 0, 0, 0, 3, 0, 0, 0]), // "x-café" is 7 bytes, "€" is 3
      bytes([7, 0, 0, 0, 0, 0, 0, 0]),
      utf8("x-café"),
      bytes([0]),
      bytes([0xe2, 0x82, 0xac, 0]),
      utf8("x-empty"),
      bytes([0, 0]),
    ]);
    expect(memoryBytes(p, size)).toStrictEqual(arrayBytes(expected));
  });

  test("a lone surrogate in a header is sent as U+FFFD (EF BF BD), never as invalid UTF-8", () => {
    const size = serializeHeaders([new Header("k", "a\uD800b")]);
    const p = scratchAt(SCRATCH_MAP);
    const expected = concat([bytes([1, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0]), utf8("k"), bytes([0, 0x61, 0xef, 0xbf, 0xbd, 0x62, 0])]);
    expect(memoryBytes(p, size)).toStrictEqual(arrayBytes(expected));
  });
});

describe("serializeHeaderBytes (bytes)", () => {
  test("produces the Rust SDK's exact byte vector for its four pairs", () => {
    const size = serializeHeaderBytes(rustPairsAsBytes());
    const p = scratchAt(SCRATCH_MAP);
    expect(size).toBe(<usize>rustVector().length);
    expect(memoryBytes(p, size)).toStrictEqual(arrayBytes(rustVector()));
  });

  test("an empty map is a zero pair count", () => {
    const size = serializeHeaderBytes([]);
    const p = scratchAt(SCRATCH_MAP);
    expect(memoryBytes(p, size)).toStrictEqual(<u8[]>[0, 0, 0, 0]);
  });

  test("invalid UTF-8 and embedded bytes are sent exactly as given", () => {
    const name = bytes([0x78, 0xff]).buffer;
    const value = bytes([0xc0, 0x80, 0xed, 0xa0, 0x80]).buffer;
    const size = serializeHeaderBytes([new HeaderBytes(name, value)]);
    const p = scratchAt(SCRATCH_MAP);
    expect(memoryBytes(p, size)).toStrictEqual(<u8[]>[1, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 0x78, 0xff, 0, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0]);
  });
});

describe("deserializeHeaders / deserializeHeaderBytes", () => {
  test("the Rust SDK's vector gives its four pairs as text", () => {
    const v = rustVector();
    expect(deserializeHeaders(v.dataStart, v.length)).toStrictEqual(rustPairs());
  });

  test("the Rust SDK's vector gives its four pairs as bytes", () => {
    const v = rustVector();
    const got = deserializeHeaderBytes(v.dataStart, v.length);
    const want = rustPairsAsBytes();
    expect(got.length).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(bufferBytes(got[i].name)).toStrictEqual(bufferBytes(want[i].name));
      expect(bufferBytes(got[i].value)).toStrictEqual(bufferBytes(want[i].value));
    }
  });

  test("serialize then deserialize gives back the same non-ASCII pairs", () => {
    const pairs = [new Header("ключ", "значение 😀"), new Header("", ""), new Header("a", "b\u0000c")];
    const size = serializeHeaders(pairs);
    const p = scratchAt(SCRATCH_MAP);
    expect(deserializeHeaders(p, size)).toStrictEqual(pairs);
  });

  test("invalid UTF-8 becomes U+FFFD in text, and stays exact in bytes", () => {
    const v = concat([bytes([1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0x6b, 0]), bytes([0x61, 0xff, 0x80, 0x62, 0])]);
    expect(deserializeHeaders(v.dataStart, v.length)).toStrictEqual([new Header("k", "a\uFFFD\uFFFDb")]);
    const b = deserializeHeaderBytes(v.dataStart, v.length);
    expect(b.length).toBe(1);
    expect(bufferBytes(b[0].value)).toStrictEqual(<u8[]>[0x61, 0xff, 0x80, 0x62]);
  });

  test("empty maps: null pointer, size 0, a single 0 byte and a zero count", () => {
    const zero = bytes([0]);
    const count0 = bytes([0, 0, 0, 0]);
    expect(checkedPairCount(0, 0)).toBe(0);
    expect(checkedPairCount(zero.dataStart, 0)).toBe(0);
    expect(checkedPairCount(zero.dataStart, 1)).toBe(0);
    expect(checkedPairCount(count0.dataStart, 4)).toBe(0);
    expect(deserializeHeaders(0, 0).length).toBe(0);
    expect(deserializeHeaders(zero.dataStart, 1).length).toBe(0);
    expect(deserializeHeaderBytes(0, 0).length).toBe(0);
    expect(deserializeHeaderBytes(zero.dataStart, 1).length).toBe(0);
    expect(deserializeHeaderBytes(count0.dataStart, 4).length).toBe(0);
  });

  test("a well-formed map reports its pair count", () => {
    const v = rustVector();
    expect(checkedPairCount(v.dataStart, v.length)).toBe(4);
  });
});

describe("malformed maps give an empty result and never read out of bounds", () => {
  test("a count larger than the buffer holds", () => {
    const v = rustVector();
    v[0] = 5; // claims 5 pairs, has 4
    const p = atEndOfMemory(v);
    expect(checkedPairCount(p, v.length)).toBe(-1);
    expect(deserializeHeaders(p, v.length).length).toBe(0);
    expect(deserializeHeaderBytes(p, v.length).length).toBe(0);
  });

  test("a huge count whose length table would not fit anywhere", () => {
    const v = bytes([0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]);
    const p = atEndOfMemory(v);
    expect(checkedPairCount(p, v.length)).toBe(-1);
    expect(deserializeHeaders(p, v.length).length).toBe(0);
  });

  test("a key length past the end of the buffer", () => {
    const v = rustVector();
    v[4] = 200; // ":method" claims 200 bytes
    const p = atEndOfMemory(v);
    expect(checkedPairCount(p, v.length)).toBe(-1);
    expect(deserializeHeaders(p, v.length).length).toBe(0);
    expect(deserializeHeaderBytes(p, v.length).length).toBe(0);
  });

  test("a value length past the end of the buffer", () => {
    const v = rustVector();
    v[4 + 3 * 8 + 4] = 11; // "proxy-wasm" (the last value) claims 11 bytes
    const p = atEndOfMemory(v);
    expect(checkedPairCount(p, v.length)).toBe(-1);
    expect(deserializeHeaderBytes(p, v.length).length).toBe(0);
  });

  test("the buffer ends before the last NUL", () => {
    const v = rustVector();
    const p = atEndOfMemory(v.subarray(0, v.length - 1));
    expect(checkedPairCount(p, v.length - 1)).toBe(-1);
    expect(deserializeHeaders(p, v.length - 1).length).toBe(0);
  });

  test("lengths whose 32-bit sum wraps around to fit the buffer", () => {
    // One pair of lengths 0xFFFFFFFF and 0xFFFFFFFF: 12 + 2 x (2^32 - 1) + 2 = 12 (mod 2^32).
    const v = concat([bytes(u32le(1)), bytes(u32le(0xffffffff)), bytes(u32le(0xffffffff))]);
    const p = atEndOfMemory(v);
    expect(checkedPairCount(p, v.length)).toBe(-1);
    expect(deserializeHeaders(p, v.length).length).toBe(0);
    expect(deserializeHeaderBytes(p, v.length).length).toBe(0);
  });

  test("a buffer of 2 or 3 bytes, and a null pointer with a size", () => {
    const v = bytes([1, 0, 0]);
    const p = atEndOfMemory(v);
    expect(checkedPairCount(p, 2)).toBe(-1);
    expect(checkedPairCount(p, 3)).toBe(-1);
    expect(checkedPairCount(0, 16)).toBe(-1);
    expect(deserializeHeaders(p, 3).length).toBe(0);
    expect(deserializeHeaders(0, 16).length).toBe(0);
  });
});

describe("maps through the host (mock)", () => {
  beforeEach(() => {
    mock.reset();
  });

  test("setMap sends the exact serialized bytes with the map type", () => {
    expect(setMap(MapType.HttpResponseHeaders, rustPairs())).toBe(Status.Ok);
    expect(mock.count(mock.SET_MAP)).toBe(1);
    expect(mock.value(mock.SET_MAP, 0)).toBe(<u32>MapType.HttpResponseHeaders);
    expect(mock.recorded(mock.SET_MAP, 0)).toStrictEqual(arrayBytes(rustVector()));
  });

  test("setMapBytes sends invalid UTF-8 untouched", () => {
    const h = [new HeaderBytes(bytes([0x6b]).buffer, bytes([0xfe, 0x00, 0xff]).buffer)];
    setMapBytes(MapType.HttpRequestTrailers, h);
    expect(mock.value(mock.SET_MAP, 0)).toBe(<u32>MapType.HttpRequestTrailers);
    expect(mock.recorded(mock.SET_MAP, 0)).toStrictEqual(<u8[]>[1, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0x6b, 0, 0xfe, 0x00, 0xff, 0]);
  });

  test("getMap reads the map the host hands over", () => {
    mock.setMap(MapType.HttpRequestHeaders, rustVector());
    expect(getMap(MapType.HttpRequestHeaders)).toStrictEqual(rustPairs());
    expect(mock.count(mock.HOST_ALLOC)).toBe(1);
  });

  test("getMapBytes keeps bytes that are not UTF-8", () => {
    mock.setMap(MapType.HttpRequestHeaders, bytes([1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x6b, 0, 0xc3, 0x28, 0]));
    const b = getMapBytes(MapType.HttpRequestHeaders);
    expect(b.length).toBe(1);
    expect(bufferBytes(b[0].name)).toStrictEqual(<u8[]>[0x6b]);
    expect(bufferBytes(b[0].value)).toStrictEqual(<u8[]>[0xc3, 0x28]);
    // The text form replaces the broken sequence (C3 then '(') with one U+FFFD.
    mock.setMap(MapType.HttpRequestHeaders, bytes([1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x6b, 0, 0xc3, 0x28, 0]));
    expect(getMap(MapType.HttpRequestHeaders)).toStrictEqual([new Header("k", "\uFFFD(")]);
  });

  test("an empty map from the host (pointer 0, size 0) is an empty array", () => {
    expect(getMap(MapType.HttpResponseTrailers).length).toBe(0);
    expect(getMapBytes(MapType.HttpResponseTrailers).length).toBe(0);
    expect(mock.count(mock.HOST_ALLOC)).toBe(0);
  });

  test("a malformed map from the host is an empty array", () => {
    const v = rustVector();
    v[0] = 9;
    mock.setMap(MapType.HttpRequestHeaders, v);
    expect(getMap(MapType.HttpRequestHeaders).length).toBe(0);
    expect(getMapBytes(MapType.HttpRequestHeaders).length).toBe(0);
  });
});
