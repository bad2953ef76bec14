// Shared data, shared queues, metrics, foreign functions and properties through a real module.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Status } from "../../src/abi.js";
import { createHost, BufferType, SharedState } from "../../src/host/index.js";
import { RP, RS, R2, watModule } from "../../src/host/wat-builder.js";

const u64 = (b: Buffer | undefined) => (b ? b.readBigUInt64LE(0) : undefined);

test("shared data: CAS semantics, keyed by vm_id, visible to every VM of that vm_id", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("get-missing=", `(call $proxy_get_shared_data ${w.str("k")} (i32.const ${RP}) (i32.const ${RS}) (i32.const ${R2}))`)}
      ${w.logNum("set=", `(call $proxy_set_shared_data ${w.str("k")} ${w.str("v1")} (i32.const 0))`)}
      (drop (call $proxy_get_shared_data ${w.str("k")} (i32.const ${RP}) (i32.const ${RS}) (i32.const ${R2})))
      ${w.logResult()}
      ${w.logNum("cas-ok=", `(call $proxy_set_shared_data ${w.str("k")} ${w.str("v2")} (i32.load (i32.const ${R2})))`)}
      ${w.logNum("cas-stale=", `(call $proxy_set_shared_data ${w.str("k")} ${w.str("v3")} (i32.load (i32.const ${R2})))`)}
      (i32.const 0))
    (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_get_shared_data ${w.str("k")} (i32.const ${RP}) (i32.const ${RS}) (i32.const ${R2})))
      ${w.logResult()}
      (i32.const 0))`,
  );
  const shared = new SharedState();
  const a = await createHost({ wasm, vmId: "vm1", shared });
  const b = await a.addVm();
  const other = await createHost({ wasm, vmId: "vm2", shared });
  a.httpStream().requestHeaders([]);
  assert.deepEqual(a.logMessages(), [`get-missing=${Status.NotFound}`, "set=0", "v1", "cas-ok=0", `cas-stale=${Status.CasMismatch}`]);
  const s = b.httpStream();
  s.requestHeaders([], true);
  b.clearLogs();
  s.responseHeaders([]);
  assert.deepEqual(b.logMessages(), ["v2"]);
  assert.equal(a.getSharedData("k")?.value.toString(), "v2");
  assert.equal(other.getSharedData("k"), undefined);
  const cas = a.getSharedData("k")!.cas;
  assert.equal(a.setSharedData("k", "from-test", cas + 100), false);
  assert.equal(a.setSharedData("k", "from-test", cas), true);
});

test("shared queues: register, resolve by vm_id, enqueue from another VM, proxy_on_queue_ready, dequeue, EMPTY", async () => {
  const consumer = await watModule(
    (w) => `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (drop (call $proxy_register_shared_queue ${w.str("jobs")} (i32.const ${RP})))
      ${w.logNum("registered=", `(i32.load (i32.const ${RP}))`)}
      (i32.const 1))
    (func (export "proxy_on_queue_ready") (param $root i32) (param $q i32)
      ${w.logNum("ready root=", "(local.get $root)")}
      (drop (call $proxy_dequeue_shared_queue (local.get $q) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      ${w.logNum("again=", `(call $proxy_dequeue_shared_queue (local.get $q) (i32.const ${RP}) (i32.const ${RS}))`)})`,
  );
  const producer = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("resolve-missing=", `(call $proxy_resolve_shared_queue ${w.str("consumer")} ${w.str("nope")} (i32.const ${RP}))`)}
      (drop (call $proxy_resolve_shared_queue ${w.str("consumer")} ${w.str("jobs")} (i32.const ${RP})))
      ${w.logNum("enqueue=", `(call $proxy_enqueue_shared_queue (i32.load (i32.const ${RP})) ${w.str("job-1")})`)}
      ${w.logNum("enqueue-bad=", `(call $proxy_enqueue_shared_queue (i32.const 77) ${w.str("x")})`)}
      (i32.const 0))`,
  );
  const shared = new SharedState();
  const c = await createHost({ wasm: consumer, vmId: "consumer", shared });
  const p = await createHost({ wasm: producer, vmId: "producer", shared });
  c.startPlugin();
  p.httpStream().requestHeaders([]);
  assert.deepEqual(p.logMessages(), [`resolve-missing=${Status.NotFound}`, "enqueue=0", `enqueue-bad=${Status.NotFound}`]);
  assert.deepEqual(c.logMessages(), ["registered=1", "ready root=1", "job-1", `again=${Status.Empty}`]);
  // The test can enqueue too, and inspect a queue.
  c.clearLogs();
  assert.equal(c.enqueueSharedQueue("jobs", "job-2"), true);
  assert.deepEqual(c.logMessages(), ["ready root=1", "job-2", `again=${Status.Empty}`]);
  assert.deepEqual(c.queue("jobs"), { token: 1, messages: [] });
});

test("metrics: counters, gauges, histograms with Envoy's ids and errors", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_configure") (param i32 i32) (result i32)
      (drop (call $proxy_define_metric (i32.const 0) ${w.str("requests_total")} (i32.const ${RP})))
      (drop (call $proxy_define_metric (i32.const 1) ${w.str("in_flight")} (i32.const ${RS})))
      (drop (call $proxy_define_metric (i32.const 2) ${w.str("latency")} (i32.const ${R2})))
      ${w.logNum("ids=", `(i32.add (i32.mul (i32.load (i32.const ${RP})) (i32.const 100)) (i32.add (i32.mul (i32.load (i32.const ${RS})) (i32.const 10)) (i32.load (i32.const ${R2}))))`)}
      ${w.logNum("bad-type=", `(call $proxy_define_metric (i32.const 3) ${w.str("x")} (i32.const ${RP}))`)}
      (i32.const 1))
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("inc=", "(call $proxy_increment_metric (i32.const 4) (i64.const 2))")}
      ${w.logNum("inc-neg=", "(call $proxy_increment_metric (i32.const 4) (i64.const -1))")}
      ${w.logNum("gauge=", "(call $proxy_increment_metric (i32.const 5) (i64.const 5))")}
      ${w.logNum("gauge-dec=", "(call $proxy_increment_metric (i32.const 5) (i64.const -2))")}
      ${w.logNum("hist-inc=", "(call $proxy_increment_metric (i32.const 6) (i64.const 1))")}
      ${w.logNum("hist=", "(call $proxy_record_metric (i32.const 6) (i64.const 42))")}
      ${w.logNum("rec-counter=", "(call $proxy_record_metric (i32.const 4) (i64.const 10))")}
      ${w.logNum("unknown=", "(call $proxy_increment_metric (i32.const 8) (i64.const 1))")}
      (drop (call $proxy_get_metric (i32.const 4) (i32.const ${RP})))
      ${w.logNum("counter=", `(i32.load (i32.const ${RP}))`)}
      ${w.logNum("get-hist=", `(call $proxy_get_metric (i32.const 6) (i32.const ${RP}))`)}
      (i32.const 0))`,
  );
  const host = await createHost({ wasm });
  host.httpStream().requestHeaders([]);
  assert.deepEqual(host.logMessages(), [
    "ids=456",
    `bad-type=${Status.BadArgument}`,
    "inc=0",
    `inc-neg=${Status.BadArgument}`,
    "gauge=0",
    "gauge-dec=0",
    `hist-inc=${Status.BadArgument}`,
    "hist=0",
    "rec-counter=0",
    `unknown=${Status.NotFound}`,
    "counter=12",
    `get-hist=${Status.BadArgument}`,
  ]);
  assert.deepEqual(host.metric("requests_total"), { name: "requests_total", type: "counter", value: 12, exact: 12n, values: [] });
  assert.equal(host.metric("in_flight")?.value, 3);
  assert.deepEqual(host.metric("latency")?.values, [42]);
  assert.equal(host.metrics.length, 3);
});

test("foreign functions both ways: registered by the embedder, and proxy_on_foreign_function with its arguments buffer", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_call_foreign_function ${w.str("reverse")} ${w.str("abc")} (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      ${w.logNum("status=", `(call $proxy_call_foreign_function ${w.str("fails")} ${w.str("")} (i32.const ${RP}) (i32.const ${RS}))`)}
      ${w.logNum("missing=", `(call $proxy_call_foreign_function ${w.str("nope")} ${w.str("")} (i32.const ${RP}) (i32.const ${RS}))`)}
      (i32.const 0))
    (func (export "proxy_on_foreign_function") (param $root i32) (param $id i32) (param $n i32)
      ${w.logNum("ff id=", "(local.get $id)")}
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.ForeignFunctionArguments}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()})`,
  );
  const seen: string[] = [];
  const host = await createHost({
    wasm,
    foreignFunctions: {
      reverse: (args) => (seen.push(Buffer.from(args).toString()), Buffer.from(Buffer.from(args).toString().split("").reverse().join(""))),
      fails: () => Status.InternalFailure,
    },
  });
  host.httpStream().requestHeaders([]);
  host.callForeignFunction(3, "payload");
  assert.deepEqual(seen, ["abc"]);
  assert.deepEqual(host.logMessages(), ["cba", `status=${Status.InternalFailure}`, `missing=${Status.NotFound}`, "ff id=3", "payload"]);
});

test("properties: Envoy encodings for plugin_*, request.*, source.*, response.*, maps, embedder values, set/get round trip", async () => {
  const path = (...segs: string[]) => segs.join("\0");
  const props = [
    "plugin_name",
    "plugin_root_id",
    "plugin_vm_id",
    path("request", "path"),
    path("request", "url_path"),
    path("request", "method"),
    path("request", "host"),
    path("request", "headers", "x-multi"),
    path("source", "address"),
    path("source", "port"),
    path("xds", "cluster_name"),
    path("custom", "flag"),
    path("custom", "when"),
    path("response", "code"),
    "nope",
    "my_state",
  ];
  const wasm = await watModule((w) => {
    const dump = (prefix: string) =>
      props
        .map(
          (p) => `(if (i32.eqz (call $proxy_get_property ${w.str(p)} (i32.const ${RP}) (i32.const ${RS})))
          (then (call $dump ${w.str(prefix + p.replace(/\0/g, ".") + "=")})) (else ${w.log(prefix + p.replace(/\0/g, ".") + " NOT_FOUND")}))`,
        )
        .join("\n");
    return `
    ;; logs prefix + hex of the bytes at (RP, RS)
    (func $dump (param $pp i32) (param $pl i32)
      (local $i i32) (local $n i32) (local $src i32) (local $b i32)
      (memory.copy (i32.const 40000) (local.get $pp) (local.get $pl))
      (local.set $n (i32.load (i32.const ${RS})))
      (local.set $src (i32.load (i32.const ${RP})))
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $b (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (i32.store8 (i32.add (i32.add (i32.const 40000) (local.get $pl)) (i32.mul (local.get $i) (i32.const 2)))
          (i32.load8_u (i32.add (i32.const ${w.ptr("0123456789abcdef")}) (i32.shr_u (local.get $b) (i32.const 4)))))
        (i32.store8 (i32.add (i32.add (i32.const 40001) (local.get $pl)) (i32.mul (local.get $i) (i32.const 2)))
          (i32.load8_u (i32.add (i32.const ${w.ptr("0123456789abcdef")}) (i32.and (local.get $b) (i32.const 15)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (drop (call $proxy_log (i32.const 2) (i32.const 40000) (i32.add (local.get $pl) (i32.mul (local.get $n) (i32.const 2))))))
    (func (export "proxy_on_configure") (param i32 i32) (result i32)
      ${w.logNum("set-in-root=", `(call $proxy_set_property ${w.str("my_state")} ${w.str("x")})`)}
      ${dump("root:")} (i32.const 1))
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("set=", `(call $proxy_set_property ${w.str("my_state")} ${w.str("hello")})`)}
      ${dump("")} (i32.const 0))`;
  });
  const host = await createHost({
    wasm,
    pluginName: "p-name",
    rootId: "r-id",
    vmId: "v-id",
    properties: {
      "xds.cluster_name": "outbound|80||svc",
      "custom.flag": true,
      "custom.when": new Date(1_000),
      "source.address": "10.1.2.3:4567",
    },
  });
  host.startPlugin();
  const s = host.httpStream({ properties: { "source.port": 4567 } });
  s.requestHeaders([
    [":method", "GET"],
    [":path", "/a/b?q=1"],
    [":authority", "example.com"],
    ["x-multi", "1"],
    ["x-multi", "2"],
  ]);
  const hex = (x: string | Buffer) => Buffer.from(x).toString("hex");
  const le = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(n);
    return b.toString("hex");
  };
  assert.deepEqual(host.logMessages(), [
    `set-in-root=${Status.NotFound}`,
    `root:plugin_name=${hex("p-name")}`,
    `root:plugin_root_id=${hex("r-id")}`,
    `root:plugin_vm_id=${hex("v-id")}`,
    "root:request.path NOT_FOUND",
    "root:request.url_path NOT_FOUND",
    "root:request.method NOT_FOUND",
    "root:request.host NOT_FOUND",
    "root:request.headers.x-multi NOT_FOUND",
    "root:source.address NOT_FOUND",
    "root:source.port NOT_FOUND",
    `root:xds.cluster_name=${hex("outbound|80||svc")}`,
    "root:custom.flag=01",
    `root:custom.when=${le(1_000_000_000n)}`,
    "root:response.code NOT_FOUND",
    "root:nope NOT_FOUND",
    "root:my_state NOT_FOUND",
    "set=0",
    `plugin_name=${hex("p-name")}`,
    `plugin_root_id=${hex("r-id")}`,
    `plugin_vm_id=${hex("v-id")}`,
    `request.path=${hex("/a/b?q=1")}`,
    `request.url_path=${hex("/a/b")}`,
    `request.method=${hex("GET")}`,
    `request.host=${hex("example.com")}`,
    `request.headers.x-multi=${hex("1,2")}`,
    `source.address=${hex("10.1.2.3:4567")}`,
    `source.port=${le(4567n)}`,
    `xds.cluster_name=${hex("outbound|80||svc")}`,
    "custom.flag=01",
    `custom.when=${le(1_000_000_000n)}`,
    "response.code NOT_FOUND",
    "nope NOT_FOUND",
    `my_state=${hex("hello")}`,
  ]);
  // request.headers as a whole is a pairs map; the test can read properties as the guest would.
  s.responseHeaders([[":status", "404"]]);
  assert.equal(u64(s.getProperty("response.code")), 404n);
  const map = s.getProperty("request.headers")!;
  assert.equal(map.readUInt32LE(0), 4); // x-multi values joined into one entry
  assert.equal(s.getProperty(["request", "headers", "x-multi"])?.toString(), "1,2");
  assert.equal(host.getProperty("plugin_name")?.toString(), "p-name");
});
