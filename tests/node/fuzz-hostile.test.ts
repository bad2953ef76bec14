// A hostile module (tests/fixtures/fuzz/hostile.wat) calls every host function of the ABI table
// with random pointers, lengths, enum values and ids chosen by fast-check, from every callback the
// host drives (HTTP streams in any valid order, TCP connections, ticks, foreign functions, HTTP and
// gRPC callout answers, reconfiguration, validation, shutdown). Every call must return a status
// the ABI defines, no call may throw out of the host or fail the VM, and afterwards the same host
// must still serve a normal stream. FUZZ_RUNS=<n> raises the number of runs (default 60).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { MODULE_EXPORTS, Status, WASI_FUNCTIONS, availableIn, hostFunctionsFor, type AbiFunction } from "../../src/abi.js";
import { createHost, encodePairs, Action, LogLevel, type Host } from "../../src/host/index.js";
import { RP, RS, compileWat, watModule } from "../../src/host/wat-builder.js";
import { Driver, opArb } from "./fuzz-hostile-driver.js";
import { repoRoot } from "./helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
/** FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failing one). */
const SEED = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {};
const PAGES = 4;
const LIMIT_PAGES = 16;
const RECORD = 104;

// ------------------------------------------------------------------ the module, from the ABI table

/** Every host function the module can call: env functions of 0.2.1 and WASI (proc_exit ends the VM; faults tests cover it). */
const FUNCTIONS: AbiFunction[] = [...hostFunctionsFor("0.2.1"), ...WASI_FUNCTIONS.filter((f) => f.results.length === 1)];
const isWasi = (f: AbiFunction) => f.module !== "env";

/** Callbacks the module exports; start-up callbacks return 1 so the plugin starts. */
const CALLBACKS = MODULE_EXPORTS.filter((f) => availableIn(f, "0.2.1") && f.area !== "integration" && f.area !== "memory");
const MUST_SUCCEED = new Set(["proxy_on_vm_start", "proxy_on_configure", "proxy_validate_configuration"]);

const sig = (f: AbiFunction) =>
  [
    f.params.length ? `(param ${f.params.map((p) => p.type).join(" ")})` : "",
    f.results.length ? `(result ${f.results.join(" ")})` : "",
  ].join(" ");

function hostileWat(): string {
  const template = readFileSync(path.join(repoRoot, "tests/fixtures/fuzz/hostile.wat"), "utf8");
  const imports = FUNCTIONS.map(
    (f) => `(import "${isWasi(f) ? "wasi_snapshot_preview1" : "env"}" "${f.name}" (func $${f.name} ${sig(f)}))`,
  );
  let dispatch = "(func $dispatch (param $fn i32) (param $rec i32) (result i32)\n";
  dispatch += "(block $default\n" + FUNCTIONS.map((_, i) => `(block $f${FUNCTIONS.length - 1 - i}\n`).join("");
  dispatch += `(br_table ${FUNCTIONS.map((_, i) => `$f${i}`).join(" ")} $default (local.get $fn)))\n`;
  FUNCTIONS.forEach((f, i) => {
    const args = f.params.map((p, j) => `(${p.type}.load offset=${8 + 8 * j} (local.get $rec))`).join(" ");
    dispatch += `(return (call $${f.name} ${args}))) ;; ${i}\n`;
  });
  dispatch += "(i32.const -1))";
  const exports = CALLBACKS.map((f) => {
    const body = f.name === "proxy_on_queue_ready" ? "" : "(call $run)"; // a queue notification that enqueues again would never end
    const result = f.results.length === 0 ? "" : MUST_SUCCEED.has(f.name) ? "(i32.const 1)" : "(global.get $action)";
    return `(func (export "${f.name}") ${sig(f)} ${body} ${result})`;
  });
  return template
    .replace(/^\s*@IMPORTS@\s*$/m, imports.join("\n"))
    .replace(/^\s*@DISPATCH@\s*$/m, dispatch)
    .replace(/^\s*@EXPORTS@\s*$/m, exports.join("\n"))
    .replace("(i32.const @FUNCTION_COUNT@)", `(i32.const ${FUNCTIONS.length})`);
}

let wasmPromise: Promise<Uint8Array> | undefined;
const hostileWasm = () => (wasmPromise ??= compileWat(hostileWat()));

// ------------------------------------------------------------------ arguments

const isPointer = (n: string) =>
  n.endsWith("_data") ||
  n.startsWith("return_") ||
  ["iovs", "buf", "environ", "environ_buf", "argv", "argv_buf", "in", "out", "path"].includes(n);
const isLength = (n: string) => n.endsWith("_size") || n.endsWith("_len") || n === "nsubscriptions";

const MEMORY = PAGES * 65536;
/** Pointers: null, the free low area, the heap (where the host's copies live), the end of memory and beyond, anything. Never the module's own scratch (512..1023). */
const pointerArb = fc
  .oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 511 }),
    fc.integer({ min: 1024, max: MEMORY - 1 }),
    fc.integer({ min: MEMORY - 16, max: MEMORY + 16 }),
    fc.integer({ min: LIMIT_PAGES * 65536 - 16, max: LIMIT_PAGES * 65536 + 16 }),
    fc.constantFrom(0xffffffff, 0xfffffffc, 0x80000000, 0x7fffffff),
    fc.nat({ max: 0xffffffff }),
  )
  .filter((p) => p < 512 || p >= 1024);
const lengthArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 16 }),
  fc.integer({ min: 17, max: 600 }),
  fc.constantFrom(65536, MEMORY, 1 << 20, (1 << 20) + 1, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.nat({ max: 0xffffffff }),
);
/** Enum values and ids: the valid small range, just past it, and anything. */
const enumArb = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 12 }), weight: 4 },
  fc.constantFrom(0xffffffff, 0x7fffffff, 0x80000000),
  fc.nat({ max: 0xffffffff }),
);
const i64Arb: fc.Arbitrary<Arg> = fc.oneof(
  fc.bigInt({ min: -5n, max: 5n }),
  fc.constantFrom(-(1n << 63n), (1n << 63n) - 1n),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
);

const argArb = (p: { name: string; type: string }): fc.Arbitrary<Arg> =>
  p.type === "i64" ? i64Arb : isPointer(p.name) ? pointerArb : isLength(p.name) ? lengthArb : enumArb;

/**
 * Valid data the script carries after its records, so that calls also get past the pointer checks
 * and reach the host's real work: maps, names that exist in the fuzz host (vm id, property,
 * foreign function, queue), a property path. The script is the host's first allocation in every
 * callback (the heap is reset), so it always sits at 65536.
 */
const SCRIPT_AT = 65536;
const BLOB_ITEMS: Buffer[] = [
  encodePairs([
    [":path", "/"],
    [":method", "GET"],
    [":authority", "a"],
  ]),
  encodePairs([["x-a", "b"]]),
  encodePairs([]),
  ...["fuzz-vm", "x-prop", "f", "fail", "x-a", "cluster", "svc", "q", "hello", "plugin_name", "request\0path", ""].map((t) =>
    Buffer.from(t),
  ),
];

/** An argument: a number, or a pointer to / the length of one of the script's valid items. */
type Arg = number | bigint | { item: number; part: "ptr" | "len" };

/** Arguments for a function: each (pointer, size) pair is either random or one valid item. */
function argsArb(f: AbiFunction): fc.Arbitrary<Arg[]> {
  const parts: Array<fc.Arbitrary<Arg[]>> = [];
  for (let i = 0; i < f.params.length; i++) {
    const p = f.params[i];
    const next = f.params[i + 1];
    if (p.name.endsWith("_data") && next?.name.endsWith("_size") && !p.name.startsWith("return_")) {
      const random = fc.tuple(argArb(p), argArb(next));
      const valid = fc.nat({ max: BLOB_ITEMS.length - 1 }).map((item): Arg[] => [
        { item, part: "ptr" },
        { item, part: "len" },
      ]);
      parts.push(fc.oneof({ arbitrary: random, weight: 1 }, { arbitrary: valid, weight: 2 }));
      i++;
    } else {
      parts.push(argArb(p).map((a) => [a]));
    }
  }
  return fc.tuple(...parts).map((xs) => xs.flat());
}

interface Call {
  fn: number;
  args: Arg[];
}

const callArb: fc.Arbitrary<Call> = fc
  .integer({ min: 0, max: FUNCTIONS.length - 1 })
  .chain((fn) => argsArb(FUNCTIONS[fn]).map((args) => ({ fn, args })));

function encodeScript(calls: Call[], action: number): Buffer {
  const blobAt = 8 + calls.length * RECORD;
  const offsets: number[] = [];
  let size = blobAt;
  for (const item of BLOB_ITEMS) offsets.push(size), (size += item.length + 1);
  const b = Buffer.alloc(size);
  b.writeUInt32LE(calls.length, 0);
  b.writeUInt32LE(action >>> 0, 4);
  BLOB_ITEMS.forEach((item, i) => item.copy(b, offsets[i]));
  calls.forEach((c, i) => {
    const at = 8 + i * RECORD;
    b.writeUInt32LE(c.fn, at);
    c.args.forEach((a, j) => {
      const v = typeof a === "object" ? (a.part === "ptr" ? SCRIPT_AT + offsets[a.item] : BLOB_ITEMS[a.item].length) : a;
      b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), at + 8 + 8 * j);
    });
  });
  return b;
}

// ------------------------------------------------------------------ checks

const STATUSES = new Set<number>(Object.values(Status));
const REPORT = /^\x01fz:(\d+):(\d+):(\d+)$/;
/** "function=status" -> how often, over the whole file (FUZZ_VERBOSE=1 prints it). */
const outcomes = new Map<string, number>();
if (process.env.FUZZ_VERBOSE)
  process.on("exit", () =>
    console.error(
      [...outcomes]
        .sort()
        .map(([k, n]) => `${k} x${n}`)
        .join("\n"),
    ),
  );

/** Statuses every reported call returned; fails on a status outside the ABI's. */
function checkReports(host: Host): number {
  let calls = 0;
  for (const m of host.logMessages(LogLevel.Info)) {
    const r = REPORT.exec(m);
    if (!r) continue;
    calls++;
    const f = FUNCTIONS[Number(r[2])];
    const status = Number(r[3]);
    outcomes.set(`${f.name}=${status}`, (outcomes.get(`${f.name}=${status}`) ?? 0) + 1);
    if (isWasi(f)) assert.ok(status <= 76, `${f.name} returned errno ${status}`);
    else assert.ok(STATUSES.has(status), `${f.name} returned ${status}, not a proxy-wasm status`);
  }
  return calls;
}

/** The host still works: a plain stream through the same host, with an empty script. */
function probe(host: Host): void {
  host.setSharedData("fuzz", Buffer.alloc(8));
  const s = host.httpStream();
  assert.equal(
    s.requestHeaders(
      [
        [":path", "/probe"],
        ["x-probe", "1"],
      ],
      true,
    ),
    Action.Continue,
  );
  assert.equal(s.request.header("x-probe"), "1");
  assert.equal(s.responseHeaders([[":status", "200"]], true), Action.Continue);
  s.complete();
}

async function fuzzHost(): Promise<Host> {
  return createHost({
    wasm: await hostileWasm(),
    vmId: "fuzz-vm",
    memoryLimitPages: LIMIT_PAGES,
    foreignFunctions: { f: (args) => args, fail: () => Status.InternalFailure },
    properties: { "x-prop": "v" },
    env: { FUZZ: "1" },
  });
}

test("the hostile module loads and imports every host function of the ABI table", async () => {
  const wasm = await hostileWasm();
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>)).map((i) => i.name);
  for (const f of hostFunctionsFor("0.2.1")) assert.ok(imports.includes(f.name), f.name);
  const host = await fuzzHost();
  assert.equal(host.startPlugin(), true, JSON.stringify(host.failures));
});

test("hostile module: random calls to every host function from every callback return ABI statuses, never throw, never fail the VM", async () => {
  let totalCalls = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(callArb, { minLength: 1, maxLength: 24 }),
      fc.oneof(fc.constantFrom(0, 1), fc.nat({ max: 0xffffffff })),
      fc.array(opArb, { minLength: 1, maxLength: 14 }),
      async (calls, action, ops) => {
        const host = await fuzzHost();
        host.setSharedData("fuzz", encodeScript(calls, action));
        const driver = new Driver(host);
        assert.doesNotThrow(() => {
          for (const op of ops) driver.run(op);
          driver.finish();
        });
        assert.deepEqual(host.failures, [], "no VM failure (a host_error here is a host bug)");
        const n = checkReports(host);
        // Every callback that ran the script reported each of its calls.
        assert.equal(n % calls.length, 0, `${n} reports for a script of ${calls.length} calls`);
        totalCalls += n;
        probe(host);
        assert.doesNotThrow(() => host.shutdown());
        assert.deepEqual(host.failures, []);
      },
    ),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
  assert.ok(totalCalls > RUNS, `${totalCalls} host calls made`);
});

test("hostile module: every host function gets called with hostile arguments, and the host keeps serving", async () => {
  // Each function on its own, many times, in a stream context (where maps, bodies and local replies exist).
  const host = await fuzzHost();
  let reports = 0;
  for (let fn = 0; fn < FUNCTIONS.length; fn++) {
    const calls = fc.sample(argsArb(FUNCTIONS[fn]), { numRuns: Math.max(10, RUNS >> 1), seed: fn + 1 }).map((args) => ({ fn, args }));
    host.clearLogs();
    host.setSharedData("fuzz", encodeScript(calls, 0));
    assert.doesNotThrow(() => {
      const s = host.httpStream();
      s.requestHeaders(
        [
          [":path", "/"],
          ["x-a", "b"],
        ],
        false,
      );
      s.requestBody("x", true);
      s.responseHeaders([[":status", "200"]], false);
      s.responseBody("y", true);
      s.complete();
    }, FUNCTIONS[fn].name);
    assert.deepEqual(host.failures, [], FUNCTIONS[fn].name);
    const n = checkReports(host);
    assert.ok(n >= calls.length, `${FUNCTIONS[fn].name}: ${n} reports`);
    reports += n;
    probe(host);
  }
  assert.ok(reports >= FUNCTIONS.length * 10);
  assert.equal(host.vmCount, 1, "one VM served everything");
  // The arguments reach past the first checks: calls succeed, hit bad memory, bad arguments and
  // missing things, not one early rejection every time.
  const statuses = new Set(
    [...outcomes.keys()]
      .filter((k) => !k.startsWith("fd_") && !/^(args|environ|clock|random|sched|poll)/.test(k))
      .map((k) => Number(k.split("=")[1])),
  );
  for (const st of [Status.Ok, Status.NotFound, Status.BadArgument, Status.InvalidMemoryAccess])
    assert.ok(statuses.has(st), `some call returned ${st}`);
});

test("a module that enqueues 20,000 messages in one callback gets 20,000 queue notifications, without exhausting the host's stack", async () => {
  // Found by this fuzzer (FUZZ_RUNS=10000): each pending notification ran the next one from inside
  // itself, so a few thousand pending ones overflowed the JS stack and threw out of the host.
  const COUNT = 20_000;
  const wasm = await watModule(
    (w) => `(global $seen (mut i32) (i32.const 0))
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (drop (call $proxy_register_shared_queue ${w.str("q")} (i32.const ${RP})))
        (i32.const 1))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (local $i i32)
        (loop $more
          (drop (call $proxy_enqueue_shared_queue (i32.load (i32.const ${RP})) ${w.str("m")}))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $more (i32.lt_u (local.get $i) (i32.const ${COUNT}))))
        (i32.const 0))
      (func (export "proxy_on_queue_ready") (param i32 i32)
        (drop (call $proxy_dequeue_shared_queue (local.get 1) (i32.const ${RS}) (i32.const ${RS + 4})))
        (global.set $seen (i32.add (global.get $seen) (i32.const 1)))
        (if (i32.eq (global.get $seen) (i32.const ${COUNT})) (then ${w.log("all delivered")})))`,
  );
  const host = await createHost({ wasm, vmId: "v" });
  const s = host.httpStream();
  assert.doesNotThrow(() => s.requestHeaders([[":path", "/"]], true));
  assert.deepEqual(host.failures, []);
  assert.deepEqual(host.logMessages(LogLevel.Info), ["all delivered"]);
  assert.deepEqual(host.queue("q", "v")?.messages, []);
  probe(host);
});
