// A filter author's field names do not collide with the SDK (issue 12): tests/fixtures/filters/
// user-fields.ts declares done, path, host, method, scheme, id, kind, next, root, status, headers,
// body and rootContextId on its contexts. It must build, and its fields must keep the filter's values
// while the SDK keeps its own state (the context table's links, the kind, the root id) apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost } from "../../src/host/index.js";
import { built } from "./helpers.js";

test("a context class with fields named done, path, host, id, kind, next... builds and keeps its values", async () => {
  const { wasm } = await built("tests/fixtures/filters/user-fields.ts");
  const host = await createHost({ wasm, upstreams: ["auth"], pluginConfig: "cfg" });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  // Two streams in flight at once, answered in reverse order: each answer reaches its own stream.
  const a = host.httpStream();
  const b = host.httpStream();
  a.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/a"],
      [":authority", "one"],
      [":scheme", "http"],
    ],
    true,
  );
  b.requestHeaders(
    [
      [":method", "POST"],
      [":path", "/b"],
      [":authority", "two"],
      [":scheme", "https"],
      ["x", "y"],
    ],
    true,
  );
  assert.equal(host.httpCalls.length, 2);
  const [callA, callB] = host.httpCalls;
  callB.respond({ headers: [[":status", "201"]], body: "for-b" });
  callA.respond({ headers: [[":status", "200"]], body: "for-a" });
  assert.equal(a.request.header("x-fields"), "/a,one,GET,http,id,filter,next,cfg/done/root,rootContextId,200,4,for-a,done");
  assert.equal(b.request.header("x-fields"), "/b,two,POST,https,id,filter,next,cfg/done/root,rootContextId,201,5,for-b,done");
  assert.equal(a.request.paused, false);
  assert.equal(b.request.paused, false);
  assert.deepEqual(host.failures, []);
});
