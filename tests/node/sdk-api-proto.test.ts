// ProtoWriter / ProtoReader integer encodings, byte for byte against the protobuf wire format.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost } from "../../src/host/index.js";
import { built } from "./helpers.js";

/** Protobuf varint of a non-negative bigint. */
function varint(v: bigint): number[] {
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const key = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const le = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
const hex = (bytes: number[]) => Buffer.from(bytes).toString("hex");

test("ProtoWriter writes uint64, int64, sint64, fixed64 and fixed32 as the wire format says", async () => {
  const { wasm } = await built("tests/fixtures/filters/api-proto-ints.ts");
  const host = await createHost({ wasm });
  host.startPlugin();
  const http = host.httpStream();
  http.requestHeaders([[":path", "/"]], true);
  const expected = [
    ...key(1, 0),
    ...varint(300n),
    ...key(2, 0),
    ...varint(2n ** 64n - 2n), // int64 -2: two's complement, 10 bytes
    ...key(3, 0),
    ...varint(5n), // sint64 -3: zigzag 5
    ...key(4, 1),
    ...le(0x0102030405060708n, 8),
    ...key(5, 5),
    ...le(0xa0b0c0d0n, 4),
  ];
  assert.equal(Object.fromEntries(http.sentHttpResponse!.headers)["x-written"], hex(expected));
});

test("ProtoReader reads uint64, int64 and sint64 fields, including 64-bit extremes", async () => {
  const { wasm } = await built("tests/fixtures/filters/api-proto-ints.ts");
  const host = await createHost({ wasm });
  host.startPlugin();
  const message = [
    ...key(1, 0),
    ...varint(2n ** 64n - 1n),
    ...key(2, 0),
    ...varint(2n ** 64n - 5n), // int64 -5
    ...key(3, 0),
    ...varint(2n ** 64n - 1n), // sint64 zigzag max: -2^63
  ];
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":path", "/"],
      ["x-proto", hex(message)],
    ],
    true,
  );
  const h = Object.fromEntries(http.sentHttpResponse!.headers);
  assert.equal(h["x-uint64"], "18446744073709551615");
  assert.equal(h["x-int64"], "-5");
  assert.equal(h["x-sint64"], "-9223372036854775808");
  assert.equal(h["x-malformed"], undefined);
  // A truncated varint is malformed, not a trap.
  const bad = host.httpStream();
  bad.requestHeaders(
    [
      [":path", "/"],
      ["x-proto", hex([...key(1, 0), 0xff, 0xff])],
    ],
    true,
  );
  assert.equal(Object.fromEntries(bad.sentHttpResponse!.headers)["x-malformed"], "1");
});
