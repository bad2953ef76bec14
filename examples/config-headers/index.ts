// config-headers: adds, sets and removes request and response headers as the plugin configuration
// says. The configuration is JSON, checked strictly when it arrives: a mistake (a typo in a field
// name, a value that is not a string, an invalid header name) makes onConfigure return false with an
// error log naming the field, so Envoy rejects the configuration instead of running a filter that
// silently does something else.
//
//   {
//     "request":  {"remove": ["x-debug"], "set": {"x-env": "prod"}, "add": {"x-via": "wasm"}},
//     "response": {"remove": ["server"], "set": {"cache-control": "no-store"}}
//   }
//
// Per direction, in this order: "remove" deletes every value of each name, "set" replaces all values
// of a name with one, "add" appends a value (keeping any the message already has). Header names are
// lowercase HTTP tokens; pseudo-headers (":path"...) are refused. Every part is optional.
import {
  Action,
  Header,
  HttpContext,
  JsonKind,
  JsonValue,
  RootContext,
  jsonError,
  logError,
  logInfo,
  parseJsonBytes,
  setRootContext,
} from "proxy-wasm-as";

/** What to do to one direction's headers. */
class Rules {
  remove: string[] = [];
  set: Header[] = [];
  add: Header[] = [];

  get count(): i32 {
    return this.remove.length + this.set.length + this.add.length;
  }
}

// A header name: lowercase token characters (RFC 9110 tchar without uppercase letters).
function isHeaderName(name: string): bool {
  if (name.length == 0) return false;
  for (let i = 0, n = name.length; i < n; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c == 0x2d ||
      c == 0x5f ||
      c == 0x2e ||
      c == 0x21 ||
      c == 0x23 ||
      c == 0x24 ||
      c == 0x25 ||
      c == 0x26 ||
      c == 0x27 ||
      c == 0x2a ||
      c == 0x2b ||
      c == 0x5e ||
      c == 0x60 ||
      c == 0x7c ||
      c == 0x7e;
    if (!ok) return false;
  }
  return true;
}

function hasLineBreakOrNul(value: string): bool {
  for (let i = 0, n = value.length; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c == 0x0a || c == 0x0d || c == 0) return true;
  }
  return false;
}

/** Reads the configuration; on a mistake sets `problem` and leaves the rules incomplete. */
class ConfigReader {
  problem: string = "";

  private failed(message: string): bool {
    if (this.problem.length == 0) this.problem = message;
    return false;
  }

  private checkName(where: string, name: string): bool {
    if (name.length > 0 && name.charCodeAt(0) == 0x3a) return this.failed(where + ': pseudo-header "' + name + '" cannot be changed here');
    if (!isHeaderName(name)) {
      return this.failed(where + ': "' + name + "\" is not a valid header name (use lowercase letters, digits and -_.!#$%&'*+^`|~)");
    }
    return true;
  }

  /** "add" or "set": an object of header name -> string value. */
  private readPairs(where: string, v: JsonValue, out: Header[]): bool {
    if (v.kind != JsonKind.Object) return this.failed('"' + where + '" must be an object of header names to values, not ' + v.typeName());
    for (let i = 0, n = v.length; i < n; i++) {
      const name = v.keyAt(i)!;
      const field = where + "." + name;
      const value = v.at(i)!;
      const s = value.asString();
      if (s === null) return this.failed('"' + field + '" must be a string, not ' + value.typeName());
      if (!this.checkName('"' + where + '"', name)) return false;
      if (hasLineBreakOrNul(s)) return this.failed('"' + field + '" must not contain CR, LF or NUL');
      out.push(new Header(name, s));
    }
    return true;
  }

  /** "remove": an array of header names. */
  private readNames(where: string, v: JsonValue, out: string[]): bool {
    if (v.kind != JsonKind.Array) return this.failed('"' + where + '" must be an array of header names, not ' + v.typeName());
    for (let i = 0, n = v.length; i < n; i++) {
      const item = v.at(i)!;
      const s = item.asString();
      if (s === null) return this.failed('"' + where + "[" + i.toString() + ']" must be a string, not ' + item.typeName());
      if (!this.checkName('"' + where + "[" + i.toString() + ']"', s)) return false;
      out.push(s);
    }
    return true;
  }

  readDirection(where: string, v: JsonValue, rules: Rules): bool {
    if (v.kind != JsonKind.Object) return this.failed('"' + where + '" must be an object, not ' + v.typeName());
    for (let i = 0, n = v.length; i < n; i++) {
      const key = v.keyAt(i)!;
      const value = v.at(i)!;
      const field = where + "." + key;
      if (key == "add") {
        if (!this.readPairs(field, value, rules.add)) return false;
      } else if (key == "set") {
        if (!this.readPairs(field, value, rules.set)) return false;
      } else if (key == "remove") {
        if (!this.readNames(field, value, rules.remove)) return false;
      } else {
        return this.failed('"' + field + '" is not a known field (expected "add", "set" or "remove")');
      }
    }
    return true;
  }
}

class HeadersRoot extends RootContext {
  request: Rules = new Rules();
  response: Rules = new Rules();

  onConfigure(pluginConfigurationSize: u32): bool {
    const request = new Rules();
    const response = new Rules();
    if (pluginConfigurationSize > 0) {
      const config = parseJsonBytes(this.getPluginConfiguration()!);
      if (config === null) {
        logError("config-headers: the configuration is not valid JSON: " + jsonError());
        return false;
      }
      const reader = new ConfigReader();
      if (config.kind != JsonKind.Object) {
        logError("config-headers: the configuration must be a JSON object, not " + config.typeName());
        return false;
      }
      for (let i = 0, n = config.length; i < n; i++) {
        const key = config.keyAt(i)!;
        if (key == "request") reader.readDirection(key, config.at(i)!, request);
        else if (key == "response") reader.readDirection(key, config.at(i)!, response);
        else reader.problem = '"' + key + '" is not a known field (expected "request" or "response")';
        if (reader.problem.length > 0) {
          logError("config-headers: " + reader.problem);
          return false;
        }
      }
    }
    this.request = request;
    this.response = response;
    logInfo("config-headers: " + request.count.toString() + " request and " + response.count.toString() + " response header rules");
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new HeadersFilter(contextId, this.request, this.response);
  }
}

class HeadersFilter extends HttpContext {
  constructor(
    contextId: u32,
    private request: Rules,
    private response: Rules,
  ) {
    super(contextId);
  }

  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const r = this.request;
    for (let i = 0, n = r.remove.length; i < n; i++) this.removeHttpRequestHeader(unchecked(r.remove[i]));
    for (let i = 0, n = r.set.length; i < n; i++) {
      const h = unchecked(r.set[i]);
      this.setHttpRequestHeader(h.name, h.value);
    }
    for (let i = 0, n = r.add.length; i < n; i++) {
      const h = unchecked(r.add[i]);
      this.addHttpRequestHeader(h.name, h.value);
    }
    return Action.Continue;
  }

  onHttpResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    const r = this.response;
    for (let i = 0, n = r.remove.length; i < n; i++) this.removeHttpResponseHeader(unchecked(r.remove[i]));
    for (let i = 0, n = r.set.length; i < n; i++) {
      const h = unchecked(r.set[i]);
      this.setHttpResponseHeader(h.name, h.value);
    }
    for (let i = 0, n = r.add.length; i < n; i++) {
      const h = unchecked(r.add[i]);
      this.addHttpResponseHeader(h.name, h.value);
    }
    return Action.Continue;
  }
}

setRootContext((contextId: u32): RootContext => new HeadersRoot(contextId));
