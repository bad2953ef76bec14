// Property-based tests of the proxy-wasm map serialization on both sides:
// - the host's encodePairs/decodePairs (src/host/pairs.ts), with arbitrary bytes, empty names and
//   values, 0 and 1024 pairs, truncated, extended, mutated and oversized buffers;
// - the SDK's parser and serializer (assembly/headers.ts), through a filter built with buildFilter
//   (tests/fixtures/fuzz/echo-headers.ts) and driven through the host: headers read as bytes and
//   written back, read as text and written as response headers, and arbitrary bytes handed to the
//   SDK's parser through a foreign function call.
// Round trips must be exact, malformed input rejected (Envoy's limits for guest maps: over 1 MiB,
// over 1024 pairs, truncated, missing NUL, trailing bytes), and nothing may throw or read out of
// bounds. FUZZ_RUNS=<n> raises the number of runs (default 200 per property).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_MAP_BYTES, MAX_MAP_PAIRS, Status } from "../../src/abi.js";
import { createHost, decodePairs, encodePairs, LogLevel, type Host } from "../../src/host/index.js";
import { built } from "./helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
/** FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failing one). */
const SEED = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {};

// ------------------------------------------------------------------ generators

/** A byte string: a JS string whose char codes are bytes (what the host keeps). */
const byteString = (maxLength = 40) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString("latin1"));

/** Names and values biased to the interesting bytes: NUL, ':', 0x80..0xff, ASCII upper case. */
const edgyByteString = (maxLength = 24) =>
  fc
    .array(
      fc.oneof(
        fc.constantFrom(0, 0x3a, 0x41, 0x5a, 0x61, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xff),
        fc.integer({ min: 0, max: 255 }),
      ),
      { maxLength },
    )
    .map((codes) => String.fromCharCode(...codes));

const pairArb = fc.tuple(fc.oneof(byteString(), edgyByteString()), fc.oneof(byteString(), edgyByteString()));
const pairsArb = fc.array(pairArb, { maxLength: 40 });

function _u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function decode(b: Buffer) {
  return decodePairs(b, 0, b.length);
}

function asPairs(r: ReturnType<typeof decodePairs>): Array<[string, string]> {
  assert.ok(typeof r !== "string", `rejected: ${String(r)}`);
  return r.keys.map((k, i) => [k, r.values[i]]);
}

// ------------------------------------------------------------------ host: encodePairs / decodePairs

test("host pairs: decode(encode(pairs)) is exact for arbitrary bytes, empty names and values", () => {
  fc.assert(
    fc.property(pairsArb, (pairs) => {
      const buf = encodePairs(pairs);
      let expected = 4;
      for (const [k, v] of pairs) expected += 8 + k.length + v.length + 2;
      assert.equal(buf.length, expected, "canonical size");
      assert.equal(buf.readUInt32LE(0), pairs.length);
      assert.deepEqual(asPairs(decode(buf)), pairs);
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
});

test("host pairs: 0 pairs and exactly 1024 pairs are accepted; 1025 pairs are refused even when well-formed", () => {
  assert.deepEqual(asPairs(decode(encodePairs([]))), []);
  assert.deepEqual(asPairs(decode(Buffer.alloc(0))), [], "size 0 is an empty map");
  assert.deepEqual(asPairs(decode(Buffer.from([0]))), [], "a lone 0 byte is the spec's other empty form");
  const many = (n: number) => Array.from({ length: n }, (_, i): [string, string] => [`k${i}`, i % 3 ? `v${i}` : ""]);
  assert.deepEqual(asPairs(decode(encodePairs(many(MAX_MAP_PAIRS)))), many(MAX_MAP_PAIRS));
  const over = decode(encodePairs(many(MAX_MAP_PAIRS + 1)));
  assert.equal(typeof over, "string");
  assert.match(over as string, /1025 pairs, over the 1024-pair limit/);
});

test("host pairs: a map of exactly 1 MiB is accepted, one byte more is refused", () => {
  // 4 (count) + 8 (lengths) + 0 (empty name) + 1 (NUL) + value + 1 (NUL) = 1 MiB.
  const value = "v".repeat(MAX_MAP_BYTES - 14);
  const exact = encodePairs([["", value]]);
  assert.equal(exact.length, MAX_MAP_BYTES);
  assert.equal(asPairs(decode(exact))[0][1].length, value.length);
  const over = encodePairs([["", value + "v"]]);
  assert.match(decode(over) as string, /over the 1048576-byte limit/);
});

test("host pairs: every strict prefix of a map is refused (except the empty forms), and so is any extension", () => {
  fc.assert(
    fc.property(
      fc.array(pairArb, { minLength: 1, maxLength: 8 }),
      fc.nat(),
      fc.uint8Array({ minLength: 1, maxLength: 16 }),
      (pairs, cut, extra) => {
        const buf = encodePairs(pairs);
        const len = cut % buf.length;
        const prefix = buf.subarray(0, len);
        const r = decode(prefix);
        if (len === 0 || (len === 1 && prefix[0] === 0)) assert.deepEqual(asPairs(r), []);
        else assert.equal(typeof r, "string", `prefix of ${len}/${buf.length} bytes accepted`);
        const extended = Buffer.concat([buf, extra]);
        assert.equal(typeof decode(extended), "string", "trailing bytes accepted");
      },
    ),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
});

test("host pairs: a missing NUL terminator or a wrong length field is refused", () => {
  fc.assert(
    fc.property(
      fc.array(pairArb, { minLength: 1, maxLength: 8 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.nat(),
      fc.integer({ min: 1, max: 0xffffffff }),
      (pairs, which, junk, field, delta) => {
        const buf = encodePairs(pairs);
        // The NUL after the name or value number `which`.
        const idx = which % (pairs.length * 2);
        let p = 4 + pairs.length * 8;
        for (let i = 0; i <= idx; i++) p += (i % 2 ? pairs[i >> 1][1] : pairs[i >> 1][0]).length + (i < idx ? 1 : 0);
        assert.equal(buf[p], 0);
        const noNul = Buffer.from(buf);
        noNul[p] = junk;
        assert.equal(typeof decode(noNul), "string", "non-NUL terminator accepted");
        // Any change of one length field breaks the layout.
        const f = 4 + (field % (pairs.length * 2)) * 4;
        const badLen = Buffer.from(buf);
        badLen.writeUInt32LE((buf.readUInt32LE(f) + delta) >>> 0, f);
        assert.equal(typeof decode(badLen), "string", "wrong length accepted");
      },
    ),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
});

/** Maps made by encoding random pairs and then damaging them: truncation, appended bytes, byte and u32 overwrites. */
const damagedMap = fc
  .tuple(
    pairsArb,
    fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
        fc.record({
          kind: fc.constant("u32" as const),
          at: fc.nat(),
          value: fc.oneof(fc.constantFrom(0, 1, 1024, 1025, 0x7fffffff, 0xffffffff), fc.nat()),
        }),
        fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.constant(0) }),
        fc.record({ kind: fc.constant("append" as const), at: fc.nat({ max: 32 }), value: fc.integer({ min: 0, max: 255 }) }),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([pairs, edits]) => {
    let b = Buffer.from(encodePairs(pairs));
    for (const e of edits) {
      if (b.length === 0) break;
      if (e.kind === "byte") b[e.at % b.length] = e.value;
      else if (e.kind === "u32" && b.length >= 4) b.writeUInt32LE(e.value >>> 0, e.at % (b.length - 3));
      else if (e.kind === "cut") b = b.subarray(0, e.at % b.length);
      else if (e.kind === "append") b = Buffer.concat([b, Buffer.alloc(e.at + 1, e.value)]);
    }
    return b;
  });

const anyMap = fc.oneof(
  damagedMap,
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
);

test("host pairs: on arbitrary or damaged bytes decode never throws, and whatever it accepts re-encodes to exactly those bytes", () => {
  fc.assert(
    fc.property(anyMap, (b) => {
      const r = decode(b);
      if (typeof r === "string") return;
      const pairs = asPairs(r);
      if (b.length <= 1) assert.deepEqual(pairs, []);
      else assert.ok(encodePairs(pairs).equals(b), "accepted bytes are canonical");
      assert.ok(pairs.length <= MAX_MAP_PAIRS);
    }),
    { numRuns: RUNS * 5, includeErrorInReport: true, ...SEED },
  );
});

test("host pairs: decoding a window of a larger buffer never reads outside the window", () => {
  fc.assert(
    fc.property(anyMap, fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), (b, before, after) => {
      const alone = decode(b);
      // The same bytes surrounded by two different fillers must decode identically.
      for (const fill of [Buffer.from(after), Buffer.alloc(64, 0)]) {
        const big = Buffer.concat([Buffer.from(before), b, fill]);
        const r = decodePairs(big, before.length, b.length);
        assert.deepEqual(r, alone);
      }
    }),
    { numRuns: RUNS * 2, includeErrorInReport: true, ...SEED },
  );
});

// ------------------------------------------------------------------ SDK, through the host

const echo = () => built("tests/fixtures/fuzz/echo-headers.ts");

/** What the host does to request headers: names lower-cased (ASCII only), pseudo-headers first. */
function normalize(pairs: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  const lower = pairs.map(([k, v]): [string, string] => [k.replace(/[A-Z]/g, (c) => c.toLowerCase()), v]);
  return [...lower.filter(([k]) => k.startsWith(":")), ...lower.filter(([k]) => !k.startsWith(":"))];
}

const latin1 = (s: string): Buffer => Buffer.from(s, "latin1");
/** Pairs of byte strings as the [Uint8Array, Uint8Array] pairs the host takes. */
const bytePairs = (pairs: ReadonlyArray<readonly [string, string]>): Array<[Uint8Array, Uint8Array]> =>
  pairs.map(([k, v]) => [latin1(k), latin1(v)]);
/** UTF-8 decode with U+FFFD for invalid sequences (WHATWG), then encode again. */
const utf8Normalized = (s: string) => Buffer.from(latin1(s).toString("utf8"), "utf8").toString("latin1");

async function echoHost(): Promise<Host> {
  const { wasm } = await echo();
  const host = await createHost({ wasm, logLevel: LogLevel.Info });
  assert.equal(host.startPlugin(), true, JSON.stringify(host.failures));
  return host;
}

function infoLines(host: Host): string[] {
  return host.logMessages(LogLevel.Info);
}

test("SDK maps: headers read as bytes and written back are unchanged, byte for byte (invalid UTF-8 included)", async () => {
  const host = await echoHost();
  await fc.assert(
    fc.asyncProperty(pairsArb, async (pairs) => {
      host.clearLogs();
      const s = host.httpStream();
      s.requestHeaders(bytePairs(pairs), true);
      const expected = normalize(pairs);
      const got = s.request.headerPairsBytes.map(([k, v]) => [k.toString("latin1"), v.toString("latin1")]);
      assert.deepEqual(got, expected);
      assert.deepEqual(infoLines(host), [`n=${pairs.length} bytes=${pairs.length} text=${pairs.length} set=${Status.Ok}`]);
      s.responseHeaders([[":status", "200"]], true);
      // The text path: every name and value decoded as UTF-8 (U+FFFD for invalid bytes, as
      // TextDecoder does) and encoded again.
      const text = s.response.headerPairsBytes.map(([k, v]) => [k.toString("latin1"), v.toString("latin1")]);
      assert.deepEqual(
        text,
        expected.map(([k, v]) => [utf8Normalized(k), utf8Normalized(v)]),
      );
      s.complete();
      assert.deepEqual(host.failures, []);
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
});

test("SDK maps: 0 and 1024 headers round-trip; 1025 headers or a map over 1 MiB are read in full, and writing them back is refused", async () => {
  const host = await echoHost();
  const many = (n: number) => Array.from({ length: n }, (_, i): [string, string] => [`x-h${i}`, `\xff${i}\x00`]);
  for (const n of [0, 1, MAX_MAP_PAIRS]) {
    host.clearLogs();
    const s = host.httpStream();
    s.requestHeaders(bytePairs(many(n)), true);
    assert.deepEqual(infoLines(host), [`n=${n} bytes=${n} text=${n} set=${Status.Ok}`]);
    assert.equal(s.request.headerPairsBytes.length, n);
    s.complete();
  }
  const cases: Array<[string, Array<[string, string]>]> = [
    ["1025 pairs", many(MAX_MAP_PAIRS + 1)],
    ["over 1 MiB", [["x-big", "b".repeat(MAX_MAP_BYTES)]]],
  ];
  for (const [what, pairs] of cases) {
    host.clearLogs();
    const s = host.httpStream();
    s.requestHeaders(bytePairs(pairs), true);
    // The guest gets every header (Envoy may hold more than the guest may hand back), but the host
    // refuses the map it writes back, with a warning, and the headers stay as they were.
    assert.deepEqual(infoLines(host), [`n=${pairs.length} bytes=${pairs.length} text=${pairs.length} set=${Status.BadArgument}`], what);
    assert.ok(
      host.logMessages(LogLevel.Warn).some((m) => /pairs|bytes/.test(m)),
      `${what}: a warning names the limit`,
    );
    assert.equal(s.request.headerPairsBytes.length, pairs.length);
    assert.equal(s.request.headerPairsBytes.at(-1)![1].toString("latin1"), pairs.at(-1)![1]);
    s.complete();
  }
  assert.deepEqual(host.failures, []);
});

/**
 * The SDK's documented contract for maps from the host (assembly/headers.ts checkedPairCount): the
 * declared count and lengths must fit in the buffer, otherwise the map is empty. It does not apply
 * Envoy's guest-side limits (1 MiB, 1024 pairs), since Envoy may hand a filter more than that.
 */
function sdkModel(b: Buffer): { count: number; pairs: Array<[string, string]> } {
  if (b.length < 4) return { count: b.length <= 1 ? 0 : -1, pairs: [] };
  const n = b.readUInt32LE(0);
  let total = 4 + n * 8;
  if (total > b.length) return { count: -1, pairs: [] };
  for (let i = 0; i < n; i++) total += b.readUInt32LE(4 + i * 8) + b.readUInt32LE(8 + i * 8) + 2;
  if (total > b.length) return { count: -1, pairs: [] };
  const pairs: Array<[string, string]> = [];
  let p = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const kl = b.readUInt32LE(4 + i * 8);
    const vl = b.readUInt32LE(8 + i * 8);
    pairs.push([b.toString("latin1", p, p + kl), b.toString("latin1", p + kl + 1, p + kl + 1 + vl)]);
    p += kl + vl + 2;
  }
  return { count: n, pairs };
}

test("SDK maps: the SDK's parser takes arbitrary and damaged bytes without trapping, parses exactly what fits and nothing outside it", async () => {
  const host = await echoHost();
  await fc.assert(
    fc.asyncProperty(anyMap, async (b) => {
      host.callForeignFunction(1, b);
      assert.deepEqual(host.failures, [], "no trap");
      const model = sdkModel(b);
      assert.equal(host.getSharedData("sdk-count")?.value.toString(), String(model.count));
      const out = host.getSharedData("sdk-out")!.value;
      assert.deepEqual(asPairs(decode(out)), model.pairs);
      // Whatever the host itself accepts, the SDK reads the same way.
      const hostView = decode(b);
      if (typeof hostView !== "string") assert.deepEqual(model.pairs, asPairs(hostView));
    }),
    { numRuns: RUNS * 2, includeErrorInReport: true, ...SEED },
  );
  // The process and the VM are still fine: a stream goes through.
  const s = host.httpStream();
  s.requestHeaders([["a", "b"]], true);
  assert.deepEqual(s.request.headers, [["a", "b"]]);
  assert.equal(host.vmCount, 1);
});
