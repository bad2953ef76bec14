// Local replies as Envoy sends them (source/common/http/utility.cc prepareLocalReply), in the
// harness: the four differences found against Envoy's own host library, each with the module that
// showed it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost } from "../../src/host/index.js";
import { httpToGrpcStatus, percentEncodeGrpcMessage } from "../../src/host/local-reply.js";
import { localReply, loopForever } from "../hostile/modules.js";

async function replyTo(module: Uint8Array, request: Array<[string, string]>) {
  const host = await createHost({ wasm: module, onTimeLimit: "fail", timeLimitMs: 200 });
  const s = host.httpStream();
  s.requestHeaders([[":authority", "h"], [":path", "/"], ...request], true);
  return s.response;
}

test("the filter's content-type is the only one; Envoy adds text/plain only when there is none", async () => {
  const r = await replyTo(
    await localReply(
      403,
      [
        ["content-type", "application/json"],
        ["x-why", "policy"],
      ],
      '{"a":1}',
    ),
    [[":method", "GET"]],
  );
  // Order: :status, the filter's headers, then Envoy's content-length.
  assert.deepEqual(r.headers, [
    [":status", "403"],
    ["content-type", "application/json"],
    ["x-why", "policy"],
    ["content-length", "7"],
  ]);
  const plain = await replyTo(await localReply(403, [["x-why", "policy"]], "denied"), [[":method", "GET"]]);
  assert.deepEqual(plain.headers, [
    [":status", "403"],
    ["x-why", "policy"],
    ["content-length", "6"],
    ["content-type", "text/plain"],
  ]);
  // No body: no content-length and no content-type, the filter's removed too.
  const empty = await replyTo(await localReply(204, [["content-type", "application/json"]], ""), [[":method", "GET"]]);
  assert.deepEqual(empty.headers, [[":status", "204"]]);
});

test("a HEAD request gets the headers with the body's content-length, and no body", async () => {
  const r = await replyTo(await localReply(403, [], "denied"), [[":method", "HEAD"]]);
  assert.equal(r.header("content-length"), "6");
  assert.equal(r.body.length, 0);
});

test("a gRPC request gets a trailers-only reply: 200, application/grpc, grpc-status mapped, grpc-message percent-encoded", async () => {
  const r = await replyTo(await localReply(403, [["x-why", "policy"]], "no way: 100% é\n"), [
    [":method", "POST"],
    ["content-type", "application/grpc"],
  ]);
  assert.deepEqual(r.headers, [
    [":status", "200"],
    ["x-why", "policy"],
    ["content-type", "application/grpc"],
    ["grpc-status", "7"],
    ["grpc-message", "no way: 100%25 %C3%A9%0A"],
  ]);
  assert.equal(r.body.length, 0);
  // The filter's own grpc-status stands; +proto content types are gRPC too.
  const own = await replyTo(await localReply(503, [["grpc-status", "8"]], "busy"), [
    [":method", "POST"],
    ["content-type", "application/grpc+proto"],
  ]);
  assert.equal(own.header("grpc-status"), "8");
  assert.equal(own.header(":status"), "200");
});

test("a failed VM's 503 on a gRPC request is gRPC UNAVAILABLE (14), as Envoy's failStream sends it", async () => {
  const r = await replyTo(await loopForever(), [
    [":method", "POST"],
    ["content-type", "application/grpc"],
  ]);
  assert.equal(r.header(":status"), "200");
  assert.equal(r.header("grpc-status"), "14");
});

test("a wrong content-length from the filter is replaced by the body's (Envoy sets its own)", async () => {
  const r = await replyTo(await localReply(403, [["content-length", "999"]], "denied"), [[":method", "GET"]]);
  assert.deepEqual(r.headers, [
    [":status", "403"],
    ["content-length", "6"],
    ["content-type", "text/plain"],
  ]);
});

test("Envoy's HTTP to gRPC status table and percent-encoding", () => {
  assert.deepEqual([400, 401, 403, 404, 429, 502, 503, 504, 500, 418].map(httpToGrpcStatus), [13, 16, 7, 12, 14, 14, 14, 14, 2, 2]);
  assert.equal(percentEncodeGrpcMessage(Buffer.from("a~b%c\u0001")), "a%7Eb%25c%01");
});
