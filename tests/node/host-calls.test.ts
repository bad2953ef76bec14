// WASI, log levels, the tick timer, concurrent streams and every host function answering a valid
// call, through real modules.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Status } from "../../src/abi.js";
import { createHost, Action, LogLevel, BufferType } from "../../src/host/index.js";
import { RP, RS, R2, watModule } from "../../src/host/wat-builder.js";

test("WASI: fd_write to the logs (stdout info, stderr error, one trailing newline dropped), environ, args, clocks, random", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (local $i i32)
      (i32.store (i32.const 300) (i32.const ${w.ptr("hello ")})) (i32.store (i32.const 304) (i32.const 6))
      (i32.store (i32.const 308) (i32.const ${w.ptr("world\n")})) (i32.store (i32.const 312) (i32.const 6))
      (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 2) (i32.const ${RP})))
      ${w.logNum("written=", `(i32.load (i32.const ${RP}))`)}
      (drop (call $fd_write (i32.const 2) (i32.const 308) (i32.const 1) (i32.const ${RP})))
      (drop (call $environ_sizes_get (i32.const ${RP}) (i32.const ${RS})))
      ${w.logNum("env count=", `(i32.load (i32.const ${RP}))`)}
      ${w.logNum("env size=", `(i32.load (i32.const ${RS}))`)}
      (drop (call $environ_get (i32.const 41000) (i32.const 41100)))
      (drop (call $proxy_log (i32.const 2) (i32.load (i32.const 41004)) (i32.const 3)))
      (drop (call $args_sizes_get (i32.const ${RP}) (i32.const ${RS})))
      ${w.logNum("args=", `(i32.add (i32.load (i32.const ${RP})) (i32.load (i32.const ${RS})))`)}
      ${w.logNum("clock=", `(call $clock_time_get (i32.const 0) (i64.const 1) (i32.const ${R2}))`)}
      ${w.logNum("clock-set=", `(i64.ne (i64.load (i32.const ${R2})) (i64.const 0))`)}
      ${w.logNum("mono=", `(call $clock_time_get (i32.const 1) (i64.const 1) (i32.const ${R2}))`)}
      ${w.logNum("now=", `(call $proxy_get_current_time_nanoseconds (i32.const ${R2}))`)}
      ${w.logNum("now-2020+=", `(i64.gt_u (i64.load (i32.const ${R2})) (i64.const 1577836800000000000))`)}
      (i64.store (i32.const 41200) (i64.const 0)) (i64.store (i32.const 41208) (i64.const 0))
      ${w.logNum("random=", "(call $random_get (i32.const 41200) (i32.const 16))")}
      ${w.logNum("random-set=", "(i64.ne (i64.or (i64.load (i32.const 41200)) (i64.load (i32.const 41208))) (i64.const 0))")}
      ${w.logNum("level=", `(call $proxy_get_log_level (i32.const ${RP}))`)}
      ${w.logNum("level-value=", `(i32.load (i32.const ${RP}))`)}
      ${w.logNum("bad-level=", `(call $proxy_log (i32.const 9) ${w.str("x")})`)}
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, env: { FOO: "bar", X: "1" }, logLevel: LogLevel.Debug });
  host.httpStream().requestHeaders([]);
  const entries = host.logs.map((l) => [l.level, l.message]);
  assert.deepEqual(entries, [
    [LogLevel.Info, "hello world"],
    [LogLevel.Info, "written=12"],
    [LogLevel.Error, "world"],
    [LogLevel.Info, "env count=2"],
    [LogLevel.Info, "env size=12"],
    [LogLevel.Info, "X=1"],
    [LogLevel.Info, "args=0"],
    [LogLevel.Info, "clock=0"],
    [LogLevel.Info, "clock-set=1"],
    [LogLevel.Info, "mono=0"],
    [LogLevel.Info, "now=0"],
    [LogLevel.Info, "now-2020+=1"],
    [LogLevel.Info, "random=0"],
    [LogLevel.Info, "random-set=1"],
    [LogLevel.Info, "level=0"],
    [LogLevel.Info, `level-value=${LogLevel.Debug}`],
    [LogLevel.Info, `bad-level=${Status.BadArgument}`],
  ]);
});

test("log level: messages below it are not recorded; onLog sees every recorded entry", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.log("trace", 0)} ${w.log("info", 2)} ${w.log("warn", 3)} (i32.const 0))`,
  );
  const seen: string[] = [];
  const host = await createHost({ wasm, logLevel: LogLevel.Warn, onLog: (e) => seen.push(e.message) });
  host.httpStream().requestHeaders([]);
  assert.deepEqual(host.logMessages(), ["warn"]);
  assert.deepEqual(seen, ["warn"]);
});

test("tick timer: period set by the plugin, host.tick() drives proxy_on_tick on the root; 0 stops it", async () => {
  const wasm = await watModule(
    (w) => `(global $n (mut i32) (i32.const 0))
    (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 250))) (i32.const 1))
    (func (export "proxy_on_tick") (param $root i32)
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      ${w.logNum("tick on ", "(local.get $root)")}
      (if (i32.eq (global.get $n) (i32.const 2)) (then (drop (call $proxy_set_tick_period_milliseconds (i32.const 0))))))`,
  );
  const host = await createHost({ wasm });
  host.startPlugin();
  assert.equal(host.tickPeriod, 250);
  assert.equal(host.tick(), true);
  assert.equal(host.tick(), true);
  assert.equal(host.tickPeriod, 0);
  assert.equal(host.tick(), false);
  assert.deepEqual(host.logMessages(), ["tick on 1", "tick on 1"]);
});

test("several concurrent streams keep separate state; host-call counts per function", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32)
      (drop (call $proxy_get_header_map_value (i32.const 0) ${w.str("x-n")} (i32.const ${RP}) (i32.const ${RS})))
      (drop (call $proxy_add_header_map_value (i32.const 0) ${w.str("x-copy")} (i32.load (i32.const ${RP})) (i32.load (i32.const ${RS}))))
      (i32.const 1))
    (func (export "proxy_on_response_headers") (param $id i32) (param i32 i32) (result i32)
      (drop (call $proxy_set_effective_context (local.get $id)))
      (drop (call $proxy_continue_stream (i32.const 1)))
      (i32.const 1))`,
  );
  const host = await createHost({ wasm });
  const streams = [1, 2, 3].map(() => host.httpStream());
  streams.forEach((s, i) => s.requestHeaders([["x-n", String(i)]]));
  assert.deepEqual(
    streams.map((s) => s.request.header("x-copy")),
    ["0", "1", "2"],
  );
  assert.deepEqual(
    streams.map((s) => s.request.paused),
    [true, true, true],
  );
  assert.equal(streams[2].responseHeaders([[":status", "200"]]), Action.Pause);
  assert.equal(streams[2].response.paused, false);
  assert.deepEqual(host.hostCalls(), {
    proxy_get_header_map_value: 3,
    proxy_add_header_map_value: 3,
    proxy_set_effective_context: 1,
    proxy_continue_stream: 1,
  });
  assert.equal(host.totalHostCalls, 8);
  host.resetHostCalls();
  assert.equal(host.totalHostCalls, 0);
  assert.equal(host.activeStreams.length, 3);
  streams.forEach((s) => s.complete());
  assert.equal(host.activeStreams.length, 0);
});

test("every 0.2.1 host function and WASI function answers a valid call (the table must cover the ABI)", async () => {
  // name -> [WAT call with valid arguments, expected result]
  const calls = (w: import("../../src/host/wat-builder.js").WatBuilder): Record<string, [string, number]> => {
    const hdrs = w.pairs([
      [":path", "/"],
      [":method", "GET"],
      [":authority", "a"],
    ]);
    return {
      proxy_log: [`(call $proxy_log (i32.const 2) ${w.str("hi")})`, Status.Ok],
      proxy_get_log_level: [`(call $proxy_get_log_level (i32.const ${RP}))`, Status.Ok],
      proxy_get_current_time_nanoseconds: [`(call $proxy_get_current_time_nanoseconds (i32.const ${R2}))`, Status.Ok],
      proxy_set_tick_period_milliseconds: ["(call $proxy_set_tick_period_milliseconds (i32.const 10))", Status.Ok],
      proxy_set_effective_context: ["(call $proxy_set_effective_context (local.get $id))", Status.Ok],
      proxy_done: ["(call $proxy_done)", Status.NotFound],
      proxy_call_foreign_function: [
        `(call $proxy_call_foreign_function ${w.str("echo")} ${w.str("x")} (i32.const ${RP}) (i32.const ${RS}))`,
        Status.Ok,
      ],
      proxy_get_buffer_bytes: [
        `(call $proxy_get_buffer_bytes (i32.const ${BufferType.VmConfiguration}) (i32.const 1) (i32.const 2) (i32.const ${RP}) (i32.const ${RS}))`,
        Status.Ok,
      ],
      proxy_get_buffer_status: [
        `(call $proxy_get_buffer_status (i32.const ${BufferType.VmConfiguration}) (i32.const ${RP}) (i32.const ${RS}))`,
        Status.Ok,
      ],
      proxy_set_buffer_bytes: [
        `(call $proxy_set_buffer_bytes (i32.const ${BufferType.HttpRequestBody}) (i32.const 0) (i32.const 0) ${w.str("x")})`,
        Status.BadArgument,
      ],
      proxy_get_header_map_pairs: [`(call $proxy_get_header_map_pairs (i32.const 0) (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_set_header_map_pairs: [`(call $proxy_set_header_map_pairs (i32.const 0) ${hdrs})`, Status.Ok],
      proxy_get_header_map_size: [`(call $proxy_get_header_map_size (i32.const 0) (i32.const ${RP}))`, Status.Ok],
      proxy_get_header_map_value: [
        `(call $proxy_get_header_map_value (i32.const 0) ${w.str(":path")} (i32.const ${RP}) (i32.const ${RS}))`,
        Status.Ok,
      ],
      proxy_replace_header_map_value: [`(call $proxy_replace_header_map_value (i32.const 0) ${w.str("r")} ${w.str("1")})`, Status.Ok],
      proxy_remove_header_map_value: [`(call $proxy_remove_header_map_value (i32.const 0) ${w.str("r")})`, Status.Ok],
      proxy_add_header_map_value: [`(call $proxy_add_header_map_value (i32.const 0) ${w.str("a")} ${w.str("1")})`, Status.Ok],
      proxy_continue_stream: ["(call $proxy_continue_stream (i32.const 0))", Status.Ok],
      proxy_close_stream: ["(call $proxy_close_stream (i32.const 1))", Status.Ok],
      proxy_send_local_response: [
        `(call $proxy_send_local_response (i32.const 418) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1))`,
        Status.Ok,
      ],
      proxy_get_status: [`(call $proxy_get_status (i32.const ${R2}) (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_get_property: [`(call $proxy_get_property ${w.str("plugin_name")} (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_set_property: [`(call $proxy_set_property ${w.str("k")} ${w.str("v")})`, Status.Ok],
      proxy_get_shared_data: [
        `(call $proxy_get_shared_data ${w.str("k")} (i32.const ${RP}) (i32.const ${RS}) (i32.const ${R2}))`,
        Status.NotFound,
      ],
      proxy_set_shared_data: [`(call $proxy_set_shared_data ${w.str("k")} ${w.str("v")} (i32.const 0))`, Status.Ok],
      proxy_register_shared_queue: [`(call $proxy_register_shared_queue ${w.str("q")} (i32.const ${RP}))`, Status.Ok],
      proxy_resolve_shared_queue: [
        `(call $proxy_resolve_shared_queue (i32.const 0) (i32.const 0) ${w.str("q")} (i32.const ${RP}))`,
        Status.Ok,
      ],
      proxy_enqueue_shared_queue: [`(call $proxy_enqueue_shared_queue (i32.const 1) ${w.str("m")})`, Status.Ok],
      proxy_dequeue_shared_queue: [`(call $proxy_dequeue_shared_queue (i32.const 1) (i32.const ${RP}) (i32.const ${RS}))`, Status.Ok],
      proxy_define_metric: [`(call $proxy_define_metric (i32.const 0) ${w.str("c")} (i32.const ${RP}))`, Status.Ok],
      proxy_increment_metric: ["(call $proxy_increment_metric (i32.const 4) (i64.const 1))", Status.Ok],
      proxy_record_metric: ["(call $proxy_record_metric (i32.const 4) (i64.const 1))", Status.Ok],
      proxy_get_metric: [`(call $proxy_get_metric (i32.const 4) (i32.const ${R2}))`, Status.Ok],
      proxy_http_call: [
        `(call $proxy_http_call ${w.str("c")} ${hdrs} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const ${RP}))`,
        Status.Ok,
      ],
      proxy_grpc_call: [
        `(call $proxy_grpc_call ${w.str("c")} ${w.str("S")} ${w.str("M")} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const ${RP}))`,
        Status.Ok,
      ],
      proxy_grpc_stream: [
        `(call $proxy_grpc_stream ${w.str("c")} ${w.str("S")} ${w.str("M")} (i32.const 0) (i32.const 0) (i32.const ${R2}))`,
        Status.Ok,
      ],
      proxy_grpc_send: [`(call $proxy_grpc_send (i32.load (i32.const ${R2})) ${w.str("m")} (i32.const 0))`, Status.Ok],
      proxy_grpc_cancel: [`(call $proxy_grpc_cancel (i32.load (i32.const ${RP})))`, Status.Ok],
      proxy_grpc_close: [`(call $proxy_grpc_close (i32.load (i32.const ${R2})))`, Status.Ok],
      fd_write: [`(call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const ${RP}))`, 0],
      fd_read: [`(call $fd_read (i32.const 0) (i32.const 0) (i32.const 0) (i32.const ${RP}))`, 52],
      fd_seek: [`(call $fd_seek (i32.const 1) (i64.const 0) (i32.const 0) (i32.const ${R2}))`, 0],
      fd_close: ["(call $fd_close (i32.const 1))", 0],
      fd_fdstat_get: ["(call $fd_fdstat_get (i32.const 1) (i32.const 33000))", 0],
      fd_prestat_get: ["(call $fd_prestat_get (i32.const 3) (i32.const 33000))", 8],
      fd_prestat_dir_name: ["(call $fd_prestat_dir_name (i32.const 3) (i32.const 33000) (i32.const 4))", 52],
      environ_sizes_get: [`(call $environ_sizes_get (i32.const ${RP}) (i32.const ${RS}))`, 0],
      environ_get: ["(call $environ_get (i32.const 33000) (i32.const 33100))", 0],
      args_sizes_get: [`(call $args_sizes_get (i32.const ${RP}) (i32.const ${RS}))`, 0],
      args_get: ["(call $args_get (i32.const 33000) (i32.const 33100))", 0],
      clock_time_get: [`(call $clock_time_get (i32.const 1) (i64.const 0) (i32.const ${R2}))`, 0],
      clock_res_get: [`(call $clock_res_get (i32.const 0) (i32.const ${R2}))`, 0],
      random_get: ["(call $random_get (i32.const 33000) (i32.const 8))", 0],
      sched_yield: ["(call $sched_yield)", 0],
      poll_oneoff: [`(call $poll_oneoff (i32.const 33000) (i32.const 33100) (i32.const 0) (i32.const ${RP}))`, 0],
    };
  };
  let names: string[] = [];
  const wasm = await watModule((w) => {
    const table = calls(w);
    names = Object.keys(table);
    const body = Object.entries(table)
      .filter(([n]) => n !== "proc_exit")
      .map(([n, [call]]) => w.logNum(`${n}=`, call))
      .join("\n");
    return `(func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32) ${body} (i32.const 0))`;
  });
  const { HOST_FUNCTIONS, WASI_FUNCTIONS, hostFunctionsFor } = await import("../../src/abi.js");
  // Stubs (WASI calls Envoy registers only so modules load) answer ENOSYS; abi-conformance tests them.
  const expectedNames = [
    ...hostFunctionsFor("0.2.1").map((f) => f.name),
    ...WASI_FUNCTIONS.filter((f) => !f.stub)
      .map((f) => f.name)
      .filter((n) => n !== "proc_exit"),
  ];
  assert.deepEqual([...names].sort(), [...expectedNames].sort(), "the table covers every host function (proc_exit is tested separately)");
  assert.ok(HOST_FUNCTIONS.length >= hostFunctionsFor("0.2.1").length);
  const host = await createHost({ wasm, vmConfig: "vmconf", pluginName: "p", foreignFunctions: { echo: (a) => a } });
  const s = host.httpStream();
  s.requestHeaders([[":path", "/"]]);
  const w2 = new (await import("../../src/host/wat-builder.js")).WatBuilder();
  const table = calls(w2);
  const got = host.logMessages(LogLevel.Info).filter((m) => /^[a-z_]+=\d+$/.test(m));
  assert.deepEqual(
    got,
    Object.entries(table).map(([n, [, st]]) => `${n}=${st}`),
  );
  assert.equal(s.sentHttpResponse?.status, 418);
  assert.equal(s.resetReason, "wasm_close_stream");
  assert.equal(host.failures.length, 0);
  assert.deepEqual(Object.keys(host.hostCalls()).sort(), [...expectedNames].sort());
});
