// foreign-function: compresses responses with a function of the host, Envoy's "compress" foreign
// function (zlib's compress(): RFC 1950 zlib data, which is what HTTP calls "deflate").
// - When the client accepts deflate and the response is compressible (a listed content type, at
//   least min_bytes when its length is known, not already encoded, not `no-transform`), the filter
//   sets `content-encoding: deflate` and `vary: accept-encoding`, drops content-length, buffers the
//   body and hands it to proxy_call_foreign_function("compress", body).
// - A host without that function (NotFound, or Unimplemented on other hosts) is detected once, when
//   the plugin is configured: one warning, then every response passes uncompressed, with no further
//   host calls or logs per request.
// - If the function fails on one body, the filter still sends valid deflate data: the body in zlib
//   "stored" blocks (not smaller, but correct), and warns once.
// Counters: deflate.responses, deflate.bytes_in, deflate.bytes_out, deflate.fallbacks.
// Configuration (JSON, optional):
//   {"function": "compress", "min_bytes": 256,
//    "content_types": ["text/", "application/json", "application/javascript", "image/svg+xml"]}
import {
  Action,
  Counter,
  HttpContext,
  JsonKind,
  RootContext,
  Status,
  encodeUtf8,
  jsonError,
  lastStatus,
  logError,
  logInfo,
  logWarn,
  parseJson,
  setRootContext,
} from "proxy-wasm-as";

const responses = new Counter("deflate.responses");
const bytesIn = new Counter("deflate.bytes_in");
const bytesOut = new Counter("deflate.bytes_out");
const fallbacks = new Counter("deflate.fallbacks");

class DeflateRoot extends RootContext {
  functionName: string = "compress";
  minBytes: i64 = 256;
  contentTypes: string[] = ["text/", "application/json", "application/javascript", "image/svg+xml"];
  available: bool = false;
  warnedFailure: bool = false;

  onConfigure(pluginConfigurationSize: u32): bool {
    if (pluginConfigurationSize > 0 && !this.configure()) return false;
    // Ask the host once whether it has the function; hosts without it answer NotFound (Envoy's
    // host library) or Unimplemented (some other hosts).
    const probe = this.callForeignFunction(this.functionName, encodeUtf8("probe"));
    this.available = probe !== null;
    if (this.available) {
      logInfo("foreign-function: host function '" + this.functionName + "' found; compressing responses");
    } else {
      logWarn(
        "foreign-function: host function '" +
          this.functionName +
          "' is not available (" +
          statusName(lastStatus()) +
          "); responses pass uncompressed",
      );
    }
    return true;
  }

  configure(): bool {
    const config = parseJson(this.getPluginConfigurationString());
    if (config === null) {
      logError("foreign-function: the configuration is not valid JSON: " + jsonError());
      return false;
    }
    if (config.kind != JsonKind.Object) {
      logError("foreign-function: the configuration must be a JSON object, not " + config.typeName());
      return false;
    }
    const fn = config.get("function");
    if (fn !== null) {
      const name = fn.asString();
      if (name === null || name.length == 0) {
        logError("foreign-function: 'function' must be a host function name");
        return false;
      }
      this.functionName = name;
    }
    const min = config.get("min_bytes");
    if (min !== null) {
      this.minBytes = min.asInteger(-1);
      if (this.minBytes < 0) {
        logError("foreign-function: 'min_bytes' must be a whole number of bytes, 0 or more");
        return false;
      }
    }
    const types = config.get("content_types");
    if (types !== null) {
      const list = new Array<string>();
      let ok = types.kind == JsonKind.Array;
      for (let i = 0; ok && i < types.length; i++) {
        const t = types.at(i)!.asString();
        if (t === null || t.length == 0) ok = false;
        else list.push(lowerAscii(t));
      }
      if (!ok) {
        logError("foreign-function: 'content_types' must be a list of content-type prefixes");
        return false;
      }
      this.contentTypes = list;
    }
    return true;
  }

  /** Compresses `body` with the host function; on failure, stored deflate blocks (warned once). */
  deflate(body: ArrayBuffer): ArrayBuffer {
    const out = this.callForeignFunction(this.functionName, body);
    if (out !== null) return out;
    fallbacks.increment();
    if (!this.warnedFailure) {
      this.warnedFailure = true;
      logWarn(
        "foreign-function: '" +
          this.functionName +
          "' failed (" +
          statusName(lastStatus()) +
          "); sending stored (uncompressed) deflate data",
      );
    }
    return storedZlib(body);
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new DeflateFilter(contextId, this);
  }
}

class DeflateFilter extends HttpContext {
  acceptsDeflate: bool = false;
  head: bool = false;
  compressing: bool = false;

  constructor(
    contextId: u32,
    private root: DeflateRoot,
  ) {
    super(contextId);
  }

  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    if (!this.root.available) return Action.Continue;
    const accept = this.getHttpRequestHeader("accept-encoding");
    this.acceptsDeflate = accept !== null && acceptsDeflate(accept);
    this.head = this.getHttpRequestMethod() == "HEAD";
    return Action.Continue;
  }

  onHttpResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    if (!this.acceptsDeflate || this.head || endOfStream) return Action.Continue;
    const status = this.getHttpResponseHeader(":status");
    if (status === null || status == "204" || status == "304" || status == "206") return Action.Continue;
    if (this.getHttpResponseHeader("content-encoding") !== null) return Action.Continue;
    const cacheControl = this.getHttpResponseHeader("cache-control");
    if (cacheControl !== null && lowerAscii(cacheControl).includes("no-transform")) return Action.Continue;
    const type = this.getHttpResponseHeader("content-type");
    if (type === null || !this.compressible(lowerAscii(type))) return Action.Continue;
    const length = this.getHttpResponseHeader("content-length");
    if (length !== null && parseLength(length) < this.root.minBytes) return Action.Continue;
    // Headers go out before the body is seen, so decide now and commit to deflate.
    this.compressing = true;
    this.removeHttpResponseHeader("content-length");
    this.setHttpResponseHeader("content-encoding", "deflate");
    const vary = this.getHttpResponseHeader("vary");
    if (vary === null || !lowerAscii(vary).includes("accept-encoding")) this.addHttpResponseHeader("vary", "accept-encoding");
    // The bytes change, so a strong validator must not stay strong (as nginx does).
    const etag = this.getHttpResponseHeader("etag");
    if (etag !== null && etag.startsWith('"')) this.setHttpResponseHeader("etag", "W/" + etag);
    return Action.Continue;
  }

  onHttpResponseBody(bodySize: u32, endOfStream: bool): Action {
    if (!this.compressing) return Action.Continue;
    // Buffer until the end: the host keeps every chunk and calls again with all of them.
    if (!endOfStream) return Action.Pause;
    this.finish(bodySize);
    return Action.Continue;
  }

  // With trailers the last body callback never says end of stream: compress what is buffered here.
  onHttpResponseTrailers(numTrailers: u32): Action {
    if (this.compressing) {
      const size = this.getHttpResponseBodySize();
      this.finish(size < 0 ? 0 : <u32>size);
    }
    return Action.Continue;
  }

  finish(size: u32): void {
    this.compressing = false;
    let body = size == 0 ? new ArrayBuffer(0) : this.getHttpResponseBody(0, size);
    if (body === null) body = new ArrayBuffer(0);
    const out = this.root.deflate(body);
    this.replaceHttpResponseBody(out);
    responses.increment();
    if (body.byteLength > 0) bytesIn.increment(<u64>body.byteLength);
    bytesOut.increment(<u64>out.byteLength);
  }

  compressible(type: string): bool {
    const types = this.root.contentTypes;
    for (let i = 0; i < types.length; i++) {
      if (type.startsWith(types[i])) return true;
    }
    return false;
  }
}

/** Whether an Accept-Encoding value allows deflate: "deflate" or "*" without q=0. */
function acceptsDeflate(value: string): bool {
  const items = value.split(",");
  let star = false;
  for (let i = 0; i < items.length; i++) {
    const parts = items[i].split(";");
    const name = lowerAscii(parts[0].trim());
    if (name != "deflate" && name != "*") continue;
    let ok = true;
    for (let j = 1; j < parts.length; j++) {
      const p = lowerAscii(parts[j].trim());
      if (p.startsWith("q=") && isZero(p.substring(2))) ok = false;
    }
    if (name == "deflate") return ok;
    star = ok;
  }
  return star;
}

/** ASCII lower case (header values are compared ASCII-insensitively; no Unicode tables needed). */
function lowerAscii(s: string): string {
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) break;
    i++;
  }
  if (i == n) return s;
  let out = s.substring(0, i);
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
  }
  return out;
}

/** A content-length value, or -1 when it is not a plain decimal number. */
function parseLength(s: string): i64 {
  if (s.length == 0 || s.length > 18) return -1;
  let n: i64 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function isZero(q: string): bool {
  if (q.length == 0) return false;
  for (let i = 0; i < q.length; i++) {
    const c = q.charCodeAt(i);
    if (c != 0x30 && c != 0x2e) return false;
  }
  return true;
}

/**
 * `data` as a zlib stream of stored (uncompressed) deflate blocks: 2-byte header, blocks of at most
 * 65535 bytes (1-byte type, length, its complement, the bytes), then the Adler-32 checksum.
 */
function storedZlib(data: ArrayBuffer): ArrayBuffer {
  const n = data.byteLength;
  const blocks = n == 0 ? 1 : (n + 65534) / 65535;
  const out = new ArrayBuffer(2 + blocks * 5 + n + 4);
  const src = changetype<usize>(data);
  let p = changetype<usize>(out);
  store<u8>(p, 0x78);
  store<u8>(p, 0x01, 1);
  p += 2;
  let a: u32 = 1;
  let b: u32 = 0;
  for (let k = 0; k < blocks; k++) {
    const start = k * 65535;
    const len = min(65535, n - start);
    store<u8>(p, k == blocks - 1 ? 1 : 0);
    store<u16>(p, <u16>len, 1);
    store<u16>(p, <u16>~len, 3);
    memory.copy(p + 5, src + <usize>start, <usize>len);
    p += 5 + <usize>len;
    for (let i = 0; i < len; i++) {
      a = (a + <u32>load<u8>(src + <usize>(start + i))) % 65521;
      b = (b + a) % 65521;
    }
  }
  const adler = (b << 16) | a;
  store<u8>(p, <u8>(adler >> 24));
  store<u8>(p, <u8>(adler >> 16), 1);
  store<u8>(p, <u8>(adler >> 8), 2);
  store<u8>(p, <u8>adler, 3);
  return out;
}

function statusName(status: Status): string {
  if (status == Status.NotFound) return "NotFound";
  if (status == Status.Unimplemented) return "Unimplemented";
  return "status " + (<i32>status).toString();
}

setRootContext((contextId: u32): RootContext => new DeflateRoot(contextId));
