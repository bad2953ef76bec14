// A stand-in authz.v1.Authorizer gRPC service for trying the grpc-callout filter (Node, no
// dependencies: gRPC over HTTP/2 cleartext with node:http2, protobuf by hand).
//   node authz-server.mjs [--port 50051]
// Check(CheckRequest{token=1}) answers:
//   "Bearer good"  -> OK, CheckResponse{subject=1: "demo-user"}
//   no token       -> UNAUTHENTICATED "missing token"
//   anything else  -> PERMISSION_DENIED "unknown token"
import http2 from "node:http2";

const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 50051;
const TOKENS = new Map([["Bearer good", "demo-user"]]);

function readVarint(buf, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= buf.length || shift > 28) throw new Error("bad varint");
    const b = buf[at++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, at];
    shift += 7;
  }
}

/** Field number -> last string value of a message's length-delimited fields (others skipped). */
function decodeStrings(buf) {
  const fields = new Map();
  let at = 0;
  while (at < buf.length) {
    const [key, p] = readVarint(buf, at);
    const type = key & 7;
    if (type === 0) at = readVarint(buf, p)[1];
    else if (type === 1) at = p + 8;
    else if (type === 5) at = p + 4;
    else if (type === 2) {
      const [len, q] = readVarint(buf, p);
      fields.set(key >>> 3, buf.subarray(q, q + len).toString("utf8"));
      at = q + len;
    } else throw new Error(`wire type ${type}`);
  }
  return fields;
}

function encodeString(field, text) {
  const data = Buffer.from(text, "utf8");
  const varint = (n) => {
    const out = [];
    while (n >= 0x80) out.push((n & 0x7f) | 0x80), (n >>>= 7);
    out.push(n);
    return out;
  };
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(data.length)]), data]);
}

function frame(message) {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const chunks = [];
  stream.on("data", (c) => chunks.push(c));
  stream.on("end", () => {
    const fail = (code, message) =>
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": String(code), "grpc-message": encodeURIComponent(message) },
        { endStream: true },
      );
    if (headers[":path"] !== "/authz.v1.Authorizer/Check") return fail(12, `unknown method ${headers[":path"]}`);
    const body = Buffer.concat(chunks);
    let token;
    try {
      if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) throw new Error("bad framing");
      token = decodeStrings(body.subarray(5)).get(1);
    } catch (e) {
      return fail(3, `bad CheckRequest: ${e.message}`);
    }
    if (!token) return fail(16, "missing token");
    const subject = TOKENS.get(token);
    if (!subject) return fail(7, "unknown token");
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(frame(encodeString(1, subject)));
  });
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`authz.v1.Authorizer listening on 127.0.0.1:${server.address().port}\n`);
});
