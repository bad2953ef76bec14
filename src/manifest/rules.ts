// The `x-kubernetes-validations` (CEL) rules of Istio's WasmPlugin CRD, and its list-map
// uniqueness constraints, as small checkers: a JSON-schema validator does not evaluate them, the
// Kubernetes API server does. Each checker mirrors one rule of
// `wasmplugins.extensions.istio.io` (extensions.istio.io/v1alpha1):
//   spec:                 (has(selector)?1:0) + (has(targetRef)?1:0) + (has(targetRefs)?1:0) <= 1
//   spec.url:             isURL(self) ? url(self).getScheme() in ["", "http", "https", "oci", "file"]
//                                     : isURL("http://" + self) && <same for "http://" + self>
//   spec.selector.matchLabels: no key contains "*", no key is empty, no value contains "*"
//   spec.targetRef(s)[].namespace: self.size() == 0
//   spec.vmConfig.env[]:  (has(valueFrom) ? valueFrom : "") != "HOST" || !has(value)
//   x-kubernetes-list-type: map: vmConfig.env keyed by name, match[].ports keyed by number
// CEL's isURL(s) is Go's url.ParseRequestURI(s) == nil, emulated by parseRequestUri below.

export interface RuleViolation {
  /** Kubernetes-style field path, e.g. spec.url. */
  path: string;
  message: string;
}

// ---- Go net/url ParseRequestURI, as far as success/failure and the scheme go ----------------

type Mode = "path" | "host" | "userinfo";

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}

function shouldEscapeInHost(c: string): boolean {
  if (isAlnum(c)) return false;
  return !"!$&'()*+,;=:[]<>\"-_.~".includes(c);
}

function validEscapes(s: string, mode: Mode): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "%") {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return false;
      // In a host, only %25 or non-ASCII bytes may be escaped.
      if (mode === "host" && parseInt(hex[0], 16) < 8 && hex !== "25") return false;
      i += 2;
    } else if (mode === "host" && c.charCodeAt(0) < 0x80 && shouldEscapeInHost(c)) {
      return false;
    }
  }
  return true;
}

function validUserinfo(s: string): boolean {
  for (const c of s) {
    if (isAlnum(c) || "-._:~!$&'()*+,;=%@".includes(c)) continue;
    if (c.charCodeAt(0) >= 0x80) continue;
    return false;
  }
  return true;
}

function validOptionalPort(port: string): boolean {
  return port === "" || /^:[0-9]*$/.test(port);
}

function validHost(host: string): boolean {
  if (host.startsWith("[")) {
    const end = host.lastIndexOf("]");
    if (end < 0) return false;
    if (!validOptionalPort(host.slice(end + 1))) return false;
    const inner = host.slice(1, end);
    const zone = inner.indexOf("%25");
    return zone < 0 ? validEscapes(inner, "host") : validEscapes(inner.slice(0, zone), "host") && validEscapes(inner.slice(zone), "path");
  }
  const colon = host.lastIndexOf(":");
  if (colon >= 0 && !validOptionalPort(host.slice(colon))) return false;
  return validEscapes(host, "host");
}

/** Returns the (lowercased) scheme when Go's url.ParseRequestURI accepts `raw`, else null. */
export function parseRequestUri(raw: string): { scheme: string } | null {
  if (raw === "" || /[\x00-\x1f\x7f]/.test(raw)) return null;
  if (raw === "*") return { scheme: "" };
  // getScheme
  let scheme = "";
  let rest = raw;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+.-]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ":") {
      if (i === 0) return null; // missing protocol scheme
      scheme = raw.slice(0, i).toLowerCase();
      rest = raw.slice(i + 1);
    }
    break;
  }
  // The query is cut off; a request URI keeps '#' as part of the path.
  if (rest.endsWith("?") && rest.indexOf("?") === rest.length - 1) rest = rest.slice(0, -1);
  else if (rest.includes("?")) rest = rest.slice(0, rest.indexOf("?"));
  if (!rest.startsWith("/")) {
    // scheme:opaque is fine; a relative reference is not a request URI.
    return scheme !== "" ? { scheme } : null;
  }
  if (scheme !== "" && rest.startsWith("//")) {
    const afterSlashes = rest.slice(2);
    const slash = afterSlashes.indexOf("/");
    const authority = slash < 0 ? afterSlashes : afterSlashes.slice(0, slash);
    rest = slash < 0 ? "" : afterSlashes.slice(slash);
    const at = authority.lastIndexOf("@");
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (!validUserinfo(userinfo) || !validEscapes(userinfo, "userinfo")) return null;
    }
    if (!validHost(at >= 0 ? authority.slice(at + 1) : authority)) return null;
  }
  return validEscapes(rest, "path") ? { scheme } : null;
}

const URL_SCHEMES = ["", "http", "https", "oci", "file"];

/** The CEL rule on WasmPlugin spec.url. */
export function urlRuleAccepts(url: string): boolean {
  const direct = parseRequestUri(url);
  if (direct) return URL_SCHEMES.includes(direct.scheme);
  const prefixed = parseRequestUri(`http://${url}`);
  return prefixed !== null && URL_SCHEMES.includes(prefixed.scheme);
}

// ---- the rules ----------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const has = (o: Obj, k: string) => Object.hasOwn(o, k) && o[k] !== null && o[k] !== undefined;

function duplicates(list: unknown, key: string, path: string): RuleViolation[] {
  if (!Array.isArray(list)) return [];
  const seen = new Map<string, number>();
  const out: RuleViolation[] = [];
  list.forEach((item, i) => {
    if (!isObj(item) || !has(item, key)) return;
    const k = JSON.stringify(item[key]);
    if (seen.has(k)) out.push({ path: `${path}[${i}]`, message: `Duplicate value: map[string]interface {}{"${key}":${k}}` });
    else seen.set(k, i);
  });
  return out;
}

/** Every CEL and list-map violation in a WasmPlugin object (an empty list when it passes). */
export function checkWasmPluginRules(doc: unknown): RuleViolation[] {
  const out: RuleViolation[] = [];
  if (!isObj(doc) || !isObj(doc.spec)) return out;
  const spec = doc.spec;

  const targeting = ["selector", "targetRef", "targetRefs"].filter((k) => has(spec, k)).length;
  if (targeting > 1) out.push({ path: "spec", message: 'Invalid value: "object": only one of targetRefs or selector can be set' });

  if (typeof spec.url === "string" && !urlRuleAccepts(spec.url)) {
    out.push({ path: "spec.url", message: 'Invalid value: "string": url must have schema one of [http, https, file, oci]' });
  }

  if (isObj(spec.selector) && isObj(spec.selector.matchLabels)) {
    const labels = spec.selector.matchLabels;
    const path = "spec.selector.matchLabels";
    if (!Object.keys(labels).every((k) => !k.includes("*")))
      out.push({ path, message: 'Invalid value: "object": wildcard not allowed in label key match' });
    if (!Object.keys(labels).every((k) => k.length !== 0)) out.push({ path, message: 'Invalid value: "object": key must not be empty' });
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v === "string" && v.includes("*")) {
        out.push({ path: `${path}[${k}]`, message: 'Invalid value: "string": wildcard not allowed in label value match' });
      }
    }
  }

  const refs: [string, unknown][] = [];
  if (has(spec, "targetRef")) refs.push(["spec.targetRef", spec.targetRef]);
  if (Array.isArray(spec.targetRefs)) spec.targetRefs.forEach((r, i) => refs.push([`spec.targetRefs[${i}]`, r]));
  for (const [path, ref] of refs) {
    if (isObj(ref) && typeof ref.namespace === "string" && ref.namespace.length !== 0) {
      out.push({ path: `${path}.namespace`, message: 'Invalid value: "string": cross namespace referencing is not currently supported' });
    }
  }

  const env = isObj(spec.vmConfig) ? spec.vmConfig.env : undefined;
  if (Array.isArray(env)) {
    env.forEach((e, i) => {
      if (isObj(e) && (has(e, "valueFrom") ? e.valueFrom : "") === "HOST" && has(e, "value")) {
        out.push({ path: `spec.vmConfig.env[${i}]`, message: 'Invalid value: "object": value may only be set when valueFrom is INLINE' });
      }
    });
    out.push(...duplicates(env, "name", "spec.vmConfig.env"));
  }
  if (Array.isArray(spec.match)) {
    spec.match.forEach((m, i) => {
      if (isObj(m)) out.push(...duplicates(m.ports, "number", `spec.match[${i}].ports`));
    });
  }
  return out;
}

/**
 * Not a CRD rule but what Istio's agent does at fetch time: a url pinned with @sha256:… and a
 * `sha256` field must agree, or every proxy fails the download.
 */
export function checkDigestConsistency(url: string, sha256: string | undefined): string | null {
  const pinned = /@sha256:([a-f0-9]{64})$/.exec(url)?.[1];
  if (pinned && sha256 && pinned !== sha256) {
    return `the url is pinned to sha256:${pinned} but sha256 is ${sha256}; Istio's agent would refuse the module`;
  }
  return null;
}
