// A plugin's configuration over its life: canary checks on reconfigure, proxy_done,
// validateConfiguration, several plugins on one VM.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Status } from "../../src/abi.js";
import { createHost, Action, LogLevel, MapType, BufferType } from "../../src/host/index.js";
import { RP, RS, watModule } from "../../src/host/wat-builder.js";

test("reconfigure: a canary VM tries the configuration first; then a new root context is created and configured, the old one gets done and delete; proxy_done", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_context_create") (param $id i32) (param $p i32) ${w.logNum("create ", "(local.get $id)")})
    (func (export "proxy_on_configure") (param $id i32) (param $n i32) (result i32)
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (i32.ne (local.get $n) (i32.const 3))) ;; "bad" is rejected
    (func (export "proxy_on_done") (param $id i32) (result i32) ${w.logNum("done ", "(local.get $id)")} (i32.const 1))
    (func (export "proxy_on_delete") (param $id i32) ${w.logNum("delete ", "(local.get $id)")})
    (func (export "proxy_on_tick") (param $id i32) ${w.logNum("proxy_done=", "(call $proxy_done)")})`,
  );
  const host = await createHost({ wasm, pluginConfig: "v1" });
  assert.equal(host.startPlugin(), true);
  assert.equal(host.reconfigure("version2"), true);
  const s = host.httpStream();
  assert.equal(s.id, 3);
  // A rejected configuration leaves the running one in place (Envoy rejects the update): only
  // the canary VM ever sees it.
  assert.equal(host.reconfigure("bad"), false);
  assert.equal(host.rootContextId, 2);
  assert.equal(host.failed, false);
  assert.deepEqual(host.failures, []);
  const onVm = (vm: number) => host.logs.filter((l) => l.vm === vm && l.level === LogLevel.Info).map((l) => l.message);
  assert.deepEqual(onVm(0), ["create 1", "v1", "create 2", "version2", "done 1", "delete 1", "create 3"]);
  assert.deepEqual(onVm(1), ["create 1", "version2"], "the canary of version2, thrown away without done/delete");
  assert.deepEqual(onVm(2), ["create 1", "bad"], "the canary of bad");
  assert.equal(host.vmCount, 3, "each canary is a VM, as Envoy counts them");
  assert.match(host.logMessages(LogLevel.Warn).join("\n"), /canary VM rejected the configuration/);
  // Envoy remembers the canary's verdict per configuration: no new VM for one already tried.
  host.clearLogs();
  assert.equal(host.reconfigure("bad"), false);
  assert.equal(host.vmCount, 3);
  assert.deepEqual(host.logMessages(LogLevel.Info), []);
  assert.match(host.logMessages(LogLevel.Warn)[0], /update refused/);
  host.clearLogs();
  host.shutdown();
  assert.deepEqual(host.logMessages(), ["done 2", "delete 2"]);
});

test("reconfigure: a configuration that traps fails only its canary; the running VM, its streams, callouts and queues carry on", async () => {
  const wasm = await watModule(
    (w) => `
    (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (drop (call $proxy_register_shared_queue ${w.str("q")} (i32.const ${RP}))) (i32.const 1))
    (func (export "proxy_on_configure") (param $id i32) (param $n i32) (result i32)
      (drop (call $proxy_http_call ${w.str("auth")} ${w.pairs([
        [":method", "GET"],
        [":path", "/"],
        [":authority", "a"],
      ])} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 100) (i32.const ${RP})))
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      (if (i32.eq (local.get $n) (i32.const 4)) (then ${w.log("trap!", LogLevel.Critical)} (unreachable))) ;; "trap"
      (i32.const 1))
    (func (export "proxy_on_queue_ready") (param $root i32) (param $q i32) ${w.logNum("queue ready on root ", "(local.get $root)")})
    (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_add_header_map_value (i32.const ${MapType.HttpResponseHeaders}) ${w.str("x-filter")} ${w.str("ran")}))
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, pluginConfig: "v1" });
  assert.equal(host.startPlugin(), true);
  assert.equal(host.httpCalls.length, 1);
  const inFlight = host.httpStream();
  assert.equal(inFlight.requestHeaders([[":path", "/"]], true), Action.Continue);

  assert.equal(host.reconfigure("trap"), false);
  assert.equal(host.failures.length, 1);
  assert.equal(host.failures[0].callback, "proxy_on_configure");
  assert.equal(host.failures[0].vm, 1, "the canary failed, not the running VM");
  assert.equal(host.failures[0].abortMessage, "trap!");
  assert.equal(host.failed, false);
  assert.equal(host.httpCalls.length, 1, "the canary's callout died with it");
  // The stream in flight goes on through the running VM, unharmed.
  assert.equal(inFlight.responseHeaders([[":status", "200"]], true), Action.Continue);
  assert.equal(inFlight.response.header("x-filter"), "ran");
  assert.equal(inFlight.sentHttpResponse, null);
  inFlight.complete();
  // The queue the canary registered again still notifies the running VM.
  host.clearLogs();
  assert.equal(host.enqueueSharedQueue("q", "m"), true);
  assert.deepEqual(host.logMessages(LogLevel.Info), [`queue ready on root ${host.rootContextId}`]);
  // New streams run on the same VM with the running configuration; the refused one is not retried.
  const next = host.httpStream();
  next.requestHeaders([[":path", "/"]], true);
  assert.equal(next.responseHeaders([[":status", "200"]], true), Action.Continue);
  assert.equal(next.response.header("x-filter"), "ran");
  assert.equal(host.reconfigure("trap"), false);
  assert.equal(host.vmCount, 2, "the first VM and one canary");
  assert.equal(host.failures.length, 1);
  // An accepted update still reaches the running VM.
  assert.equal(host.reconfigure("v2"), true);
  assert.equal(host.vmCount, 3);
  assert.equal(host.failed, false);
});

test("reconfigure after the running VM failed: a refused configuration leaves the reload on the last accepted one", async () => {
  const wasm = await watModule(
    (w) => `
    (global $config (mut i32) (i32.const 0))
    (func (export "proxy_on_configure") (param $id i32) (param $n i32) (result i32)
      (global.set $config (local.get $n))
      (i32.ne (local.get $n) (i32.const 3))) ;; "bad" is refused
    (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${w.logNum("config size ", "(global.get $config)")}
      (if (i32.eq (global.get $config) (i32.const 5)) (then (unreachable))) ;; "crash" traps on a request
      (i32.const 0))`,
  );
  const host = await createHost({ wasm, pluginConfig: "crash" });
  host.httpStream().requestHeaders([[":path", "/"]], true);
  assert.equal(host.failed, true);
  assert.equal(host.reconfigure("bad"), false);
  assert.equal(host.reconfigure("v1"), true, "an accepted update reloads the VM with it");
  assert.equal(host.failed, false);
  host.clearLogs();
  host.httpStream().requestHeaders([[":path", "/"]], true);
  assert.deepEqual(host.logMessages(LogLevel.Info), ["config size 2"]);
  assert.equal(host.failures.length, 1);
});

test("proxy_done: a root that answered proxy_on_done false is deleted once it calls proxy_done", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_on_done") (param $id i32) (result i32) ${w.log("done")} (i32.const 0))
    (func (export "proxy_on_delete") (param $id i32) ${w.log("delete")})
    (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $proxy_set_tick_period_milliseconds (i32.const 1))) (i32.const 1))
    (func (export "proxy_on_tick") (param $id i32) ${w.logNum("proxy_done=", "(call $proxy_done)")})`,
  );
  const host = await createHost({ wasm });
  host.startPlugin();
  host.tick();
  host.shutdown();
  assert.equal(host.rootPendingDone, true);
  host.tick();
  assert.deepEqual(host.logMessages(), [`proxy_done=${Status.NotFound}`, "done", "proxy_done=0", "delete"]);
  assert.equal(host.rootPendingDone, false);
});

test("validateConfiguration calls proxy_validate_configuration with the candidate as PLUGIN_CONFIGURATION", async () => {
  const wasm = await watModule(
    (w) => `(func (export "proxy_validate_configuration") (param $root i32) (param $n i32) (result i32)
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (i32.eq (local.get $n) (i32.const 2)))`,
  );
  const host = await createHost({ wasm, pluginConfig: "running" });
  assert.equal(host.validateConfiguration("ok"), true);
  assert.equal(host.validateConfiguration("not ok"), false);
  assert.deepEqual(host.logMessages(), ["ok", "not ok"]);
  const none = await createHost({ wasm: await watModule(() => "") });
  assert.equal(none.validateConfiguration("anything"), true);
});

test("several plugins on one VM: own root contexts, root_id, configuration and streams; vm_start only once", async () => {
  const wasm = await watModule(
    (
      w,
    ) => `(func (export "proxy_on_vm_start") (param $root i32) (param i32) (result i32) ${w.logNum("vm_start root=", "(local.get $root)")} (i32.const 1))
    (func (export "proxy_on_context_create") (param $id i32) (param $parent i32) ${w.logNum("create parent=", "(local.get $parent)")})
    (func (export "proxy_on_configure") (param $root i32) (param $n i32) (result i32)
      (drop (call $proxy_get_property ${w.str("plugin_root_id")} (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (drop (call $proxy_get_buffer_bytes (i32.const ${BufferType.PluginConfiguration}) (i32.const 0) (local.get $n) (i32.const ${RP}) (i32.const ${RS})))
      ${w.logResult()}
      (drop (call $proxy_set_tick_period_milliseconds (i32.const 5)))
      (i32.const 1))
    (func (export "proxy_on_tick") (param $root i32) ${w.logNum("tick ", "(local.get $root)")})`,
  );
  const host = await createHost({ wasm, rootId: "first", pluginConfig: "a" });
  const second = host.addPlugin({ rootId: "second", pluginConfig: "b" });
  assert.equal(second.configured, true);
  assert.equal(second.rootContextId, 2);
  host.httpStream();
  second.httpStream();
  assert.deepEqual(host.logMessages(), [
    "create parent=0",
    "vm_start root=1",
    "first",
    "a",
    "create parent=0",
    "second",
    "b",
    "create parent=1",
    "create parent=2",
  ]);
  host.clearLogs();
  assert.equal(host.tick(), true);
  assert.equal(second.tick(), true);
  assert.deepEqual(host.logMessages(), ["tick 1", "tick 2", "tick 2"]);
});
