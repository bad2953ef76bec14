// body-rewrite: redacts secrets from request and response bodies before they go on.
// - JSON bodies (content-type containing "json"): the value of every member named in "json_keys",
//   at any depth, becomes "[redacted]" (the "replacement"). Keys are compared after decoding, so
//   "pass\u0077ord" is "password". The rest of the body keeps its bytes and formatting: the filter
//   splices the parsed values' byte spans instead of re-serializing.
// - Masks (regex-free): in "####-####-####-????", '#' is a digit that becomes '*', '?' a digit that
//   stays, anything else itself; a match cannot touch other digits. They apply to the string values
//   of JSON bodies and to all of a text body (text/*, form-urlencoded, xml). A body that claims JSON
//   but does not parse is masked as text.
// Other bodies (binary types, no content-type, any content-encoding such as gzip) pass untouched
// and are never buffered. A body that will be rewritten is buffered until its end (Pause), and its
// content-length is removed in the headers callback, since the length changes; Envoy then streams it
// chunked (HTTP/1.1) or to end of stream (HTTP/2).
// Configuration (JSON; all optional):
//   {"json_keys": ["password", "card_number"], "masks": ["####-####-####-????"],
//    "replacement": "[redacted]", "request": true, "response": true}
import {
  Action,
  HttpContext,
  JsonKind,
  JsonValue,
  RootContext,
  encodeUtf8,
  jsonError,
  logError,
  parseJsonBytes,
  quoteJson,
  setRootContext,
} from "proxy-wasm-as";

class Rules {
  jsonKeys: string[] = [];
  masks: ArrayBuffer[] = [];
  /** The replacement as a JSON string literal, UTF-8. */
  replacement: ArrayBuffer = encodeUtf8('"[redacted]"');
  request: bool = true;
  response: bool = true;
}

// ---- reading the configuration ----

let problem = "";

function fail(message: string): bool {
  problem = message;
  return false;
}

function stringList(v: JsonValue, field: string, out: string[]): bool {
  if (v.kind != JsonKind.Array) return fail('"' + field + '" must be an array of strings, not ' + v.typeName());
  for (let i = 0, n = v.length; i < n; i++) {
    const s = v.at(i)!.asString();
    if (s === null || s.length == 0) return fail('"' + field + '" must hold non-empty strings');
    out.push(s);
  }
  return true;
}

function readRules(config: JsonValue, rules: Rules): bool {
  for (let i = 0, n = config.length; i < n; i++) {
    const key = config.keyAt(i)!;
    const v = config.at(i)!;
    if (key == "json_keys") {
      if (!stringList(v, key, rules.jsonKeys)) return false;
    } else if (key == "masks") {
      const masks: string[] = [];
      if (!stringList(v, key, masks)) return false;
      for (let j = 0; j < masks.length; j++) {
        const m = masks[j];
        let digits = 0;
        for (let k = 0; k < m.length; k++) {
          const c = m.charCodeAt(k);
          if (c >= 0x80) return fail('"masks": "' + m + '" must be ASCII');
          if (c == 0x23) digits++;
        }
        if (digits == 0) return fail('"masks": "' + m + "\" has no '#' (a digit to mask)");
        rules.masks.push(encodeUtf8(m));
      }
    } else if (key == "replacement") {
      const s = v.asString();
      if (s === null) return fail('"replacement" must be a string');
      rules.replacement = encodeUtf8(quoteJson(s));
    } else if (key == "request" || key == "response") {
      if (v.kind != JsonKind.Bool) return fail('"' + key + '" must be true or false');
      if (key == "request") rules.request = v.asBool();
      else rules.response = v.asBool();
    } else {
      return fail('"' + key + '" is not a known field (expected json_keys, masks, replacement, request or response)');
    }
  }
  return true;
}

// ---- rewriting ----

const KIND_NONE: u8 = 0;
const KIND_TEXT: u8 = 1;
const KIND_JSON: u8 = 2;

/** ASCII-only lowercase, for short strings (String#toLowerCase brings Unicode tables: about 8 KB). */
function lowerAscii(s: string): string {
  let out = "";
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
  }
  return out;
}

/** What to do with a body, from its headers. */
function bodyKind(contentType: string | null, contentEncoding: string | null): u8 {
  if (contentType === null) return KIND_NONE;
  if (contentEncoding !== null && contentEncoding != "identity") return KIND_NONE; // compressed: cannot rewrite
  const t = lowerAscii(contentType);
  if (t.includes("json")) return KIND_JSON;
  if (t.startsWith("text/") || t.includes("xml") || t.startsWith("application/x-www-form-urlencoded")) return KIND_TEXT;
  return KIND_NONE;
}

// @ts-ignore: decorator
@inline function isDigit(c: u32): bool {
  return c - 0x30 < 10;
}

/** Applies every mask to bytes [from, to) of `p`, in place. Returns whether anything changed. */
function maskRange(p: usize, from: usize, to: usize, masks: ArrayBuffer[]): bool {
  let changed = false;
  const count = masks.length;
  let i = from;
  while (i < to) {
    let advanced = false;
    if (i == from || !isDigit(load<u8>(p + i - 1))) {
      for (let m = 0; m < count; m++) {
        const mask = unchecked(masks[m]);
        const mp = changetype<usize>(mask);
        const ml = <usize>mask.byteLength;
        if (i + ml > to) continue;
        let j: usize = 0;
        for (; j < ml; j++) {
          const pc = <u32>load<u8>(mp + j);
          const bc = <u32>load<u8>(p + i + j);
          if (pc == 0x23 || pc == 0x3f ? !isDigit(bc) : pc != bc) break;
        }
        if (j < ml || (i + ml < to && isDigit(load<u8>(p + i + ml)))) continue;
        for (j = 0; j < ml; j++) if (load<u8>(mp + j) == 0x23) store<u8>(p + i + j, 0x2a);
        i += ml;
        changed = true;
        advanced = true;
        break;
      }
    }
    if (!advanced) i++;
  }
  return changed;
}

/** Byte spans [start, end) of the values to replace and of the strings to mask, in document order. */
class Edits {
  replace: u32[] = [];
  strings: u32[] = [];
}

function collect(v: JsonValue, rules: Rules, edits: Edits): void {
  if (v.kind == JsonKind.String) {
    edits.strings.push(v.start + 1);
    edits.strings.push(v.end - 1);
    return;
  }
  const keys = rules.jsonKeys;
  for (let i = 0, n = v.length; i < n; i++) {
    const item = v.at(i)!;
    const key = v.keyAt(i);
    if (key !== null && keys.includes(key)) {
      edits.replace.push(item.start);
      edits.replace.push(item.end);
    } else if (item.kind == JsonKind.String || item.kind == JsonKind.Array || item.kind == JsonKind.Object) {
      collect(item, rules, edits);
    }
  }
}

/** The rewritten body, or null when nothing changes. `body` may be modified in place. */
function rewrite(body: ArrayBuffer, kind: u8, rules: Rules): ArrayBuffer | null {
  const p = changetype<usize>(body);
  const len = <usize>body.byteLength;
  const doc = kind == KIND_JSON ? parseJsonBytes(body) : null;
  if (doc === null) {
    // Text, or JSON that does not parse: masks over everything.
    return maskRange(p, 0, len, rules.masks) ? body : null;
  }
  const edits = new Edits();
  collect(doc, rules, edits);
  let changed = false;
  // Masks keep lengths, so they run in place before the splice.
  const strings = edits.strings;
  if (rules.masks.length > 0) {
    for (let i = 0, n = strings.length; i < n; i += 2) {
      if (maskRange(p, unchecked(strings[i]), unchecked(strings[i + 1]), rules.masks)) changed = true;
    }
  }
  const replace = edits.replace;
  if (replace.length == 0) return changed ? body : null;
  const r = rules.replacement;
  const rl = <usize>r.byteLength;
  let size = len;
  for (let i = 0, n = replace.length; i < n; i += 2) size = size - <usize>(unchecked(replace[i + 1]) - unchecked(replace[i])) + rl;
  const out = new ArrayBuffer(<i32>size);
  let o = changetype<usize>(out);
  let from: usize = 0;
  for (let i = 0, n = replace.length; i < n; i += 2) {
    const start = <usize>unchecked(replace[i]);
    memory.copy(o, p + from, start - from);
    o += start - from;
    memory.copy(o, changetype<usize>(r), rl);
    o += rl;
    from = <usize>unchecked(replace[i + 1]);
  }
  memory.copy(o, p + from, len - from);
  return out;
}

// ---- the filter ----

class RewriteRoot extends RootContext {
  rules: Rules = new Rules();

  onConfigure(pluginConfigurationSize: u32): bool {
    const rules = new Rules();
    if (pluginConfigurationSize > 0) {
      const config = parseJsonBytes(this.getPluginConfiguration()!);
      if (config === null || config.kind != JsonKind.Object) {
        logError("body-rewrite: the configuration must be a JSON object: " + (config === null ? jsonError() : "not " + config.typeName()));
        return false;
      }
      if (!readRules(config, rules)) {
        logError("body-rewrite: " + problem);
        return false;
      }
    }
    this.rules = rules;
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new RewriteFilter(contextId, this.rules);
  }
}

class RewriteFilter extends HttpContext {
  private requestKind: u8 = KIND_NONE;
  private responseKind: u8 = KIND_NONE;

  constructor(
    contextId: u32,
    private rules: Rules,
  ) {
    super(contextId);
  }

  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    if (endOfStream || !this.rules.request) return Action.Continue;
    this.requestKind = bodyKind(this.getHttpRequestHeader("content-type"), this.getHttpRequestHeader("content-encoding"));
    if (this.requestKind != KIND_NONE) this.removeHttpRequestHeader("content-length");
    return Action.Continue;
  }

  onHttpRequestBody(bodySize: u32, endOfStream: bool): Action {
    if (this.requestKind == KIND_NONE) return Action.Continue;
    if (!endOfStream) return Action.Pause; // buffer until the whole body is here
    this.rewriteRequest(bodySize);
    return Action.Continue;
  }

  onHttpRequestTrailers(numTrailers: u32): Action {
    // A body followed by trailers ends here, not with end_of_stream on a body callback.
    if (this.requestKind != KIND_NONE) {
      const size = this.getHttpRequestBodySize();
      if (size > 0) this.rewriteRequest(<u32>size);
    }
    return Action.Continue;
  }

  private rewriteRequest(size: u32): void {
    const kind = this.requestKind;
    this.requestKind = KIND_NONE;
    const body = this.getHttpRequestBody(0, size);
    if (body === null) return;
    const out = rewrite(body, kind, this.rules);
    if (out !== null) this.replaceHttpRequestBody(out);
  }

  onHttpResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    if (endOfStream || !this.rules.response) return Action.Continue;
    this.responseKind = bodyKind(this.getHttpResponseHeader("content-type"), this.getHttpResponseHeader("content-encoding"));
    if (this.responseKind != KIND_NONE) this.removeHttpResponseHeader("content-length");
    return Action.Continue;
  }

  onHttpResponseBody(bodySize: u32, endOfStream: bool): Action {
    if (this.responseKind == KIND_NONE) return Action.Continue;
    if (!endOfStream) return Action.Pause;
    this.rewriteResponse(bodySize);
    return Action.Continue;
  }

  onHttpResponseTrailers(numTrailers: u32): Action {
    if (this.responseKind != KIND_NONE) {
      const size = this.getHttpResponseBodySize();
      if (size > 0) this.rewriteResponse(<u32>size);
    }
    return Action.Continue;
  }

  private rewriteResponse(size: u32): void {
    const kind = this.responseKind;
    this.responseKind = KIND_NONE;
    const body = this.getHttpResponseBody(0, size);
    if (body === null) return;
    const out = rewrite(body, kind, this.rules);
    if (out !== null) this.replaceHttpResponseBody(out);
  }
}

setRootContext((contextId: u32): RootContext => new RewriteRoot(contextId));
