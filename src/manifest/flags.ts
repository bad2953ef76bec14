// Parsing and checking the `manifest` flags. Every bad value gives one line that names the flag,
// what is wrong and an example of a good value.
import { readFileSync } from "node:fs";
import { UserError } from "../errors.js";

export type Phase = "UNSPECIFIED_PHASE" | "AUTHN" | "AUTHZ" | "STATS";
export type FailStrategy = "FAIL_CLOSE" | "FAIL_OPEN" | "FAIL_RELOAD";
export type PullPolicy = "IfNotPresent" | "Always";
export type PluginType = "HTTP" | "NETWORK";
export type MatchMode = "CLIENT" | "SERVER" | "CLIENT_AND_SERVER";

/** One WASI environment variable of the VM: a literal (INLINE) or copied from the proxy's (HOST). */
export interface EnvVar {
  name: string;
  valueFrom: "INLINE" | "HOST";
  value?: string;
}

export interface TargetRef {
  group: string;
  kind: string;
  name: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * Which rule of a Kubernetes name `value` breaks, in the API server's words: a DNS-1123 subdomain
 * (object names, Secrets) or a DNS-1123 label (namespaces). null when it is valid.
 */
export function nameRuleBroken(value: string, kind: "subdomain" | "label"): string | null {
  const max = kind === "subdomain" ? 253 : 63;
  const rule = kind === "subdomain" ? "a DNS-1123 subdomain" : "a DNS-1123 label";
  if (value.length === 0) return `it is empty; ${rule} has 1 to ${max} characters`;
  if (value.length > max) return `it has ${value.length} characters; ${rule} has at most ${max}`;
  const bad = [...value].find((c) => !/[a-z0-9-]/.test(c) && !(kind === "subdomain" && c === "."));
  if (bad !== undefined) {
    const allowed = kind === "subdomain" ? "lowercase letters, digits, '-' and '.'" : "lowercase letters, digits and '-'";
    return `${JSON.stringify(bad)} is not allowed; ${rule} has only ${allowed}`;
  }
  const parts = kind === "subdomain" ? value.split(".") : [value];
  if (parts.some((p) => p.length === 0)) return `it has an empty part between dots; ${rule} has no '..' and does not start or end with '.'`;
  if (parts.some((p) => !/^[a-z0-9]/.test(p) || !/[a-z0-9]$/.test(p)))
    return `${rule} must start and end with a letter or digit${kind === "subdomain" ? " (each dot-separated part too)" : ""}`;
  return null;
}

function checkName(value: string, kind: "subdomain" | "label", flag: string, what: string, example: string): string {
  const broken = nameRuleBroken(value, kind);
  if (broken) throw new UserError(`${flag} ${JSON.stringify(value)} is not a valid ${what}: ${broken} (e.g. ${example})`);
  return value;
}

/** metadata.name: a DNS-1123 subdomain. */
export function parseName(value: string, flag = "--name"): string {
  return checkName(value, "subdomain", flag, "Kubernetes name", "my-filter");
}

/** imagePullSecret / pullSecretRef: the name of a Secret, a DNS-1123 subdomain. */
export function parseSecretName(value: string, flag = "--pull-secret"): string {
  return checkName(value, "subdomain", flag, "Secret name", "registry-creds");
}

/** A resource name derived from a file name: "My_Filter.wasm" → "my-filter". */
export function nameFromFile(path: string): string | undefined {
  const base = path
    .split(/[\\/]/)
    .pop()!
    .replace(/\.wasm$/i, "");
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "")
    .slice(0, 253);
  return DNS_SUBDOMAIN.test(name) ? name : undefined;
}

export function parseNamespace(value: string): string {
  return checkName(value, "label", "--namespace", "namespace", "istio-system");
}

function checkLabelKey(key: string, item: string): void {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const ok = (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix))) && name.length <= 63 && LABEL_NAME.test(name);
  if (!ok) {
    throw new UserError(
      `--selector ${JSON.stringify(item)}: ${JSON.stringify(key)} is not a label key: use [prefix/]name with letters, digits, '-', '_' and '.' (e.g. app=reviews or app.kubernetes.io/name=reviews)`,
    );
  }
}

/** --selector k=v (repeatable) → matchLabels. */
export function parseSelector(items: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UserError(`--selector ${JSON.stringify(item)} must be LABEL=VALUE, e.g. --selector app=reviews`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key.includes("*") || value.includes("*")) {
      throw new UserError(`--selector ${JSON.stringify(item)}: Istio matches labels exactly and rejects '*'; name the label value`);
    }
    checkLabelKey(key, item);
    if (value.length > 63 || !(value === "" || LABEL_NAME.test(value))) {
      throw new UserError(
        `--selector ${JSON.stringify(item)}: ${JSON.stringify(value)} is not a label value: up to 63 letters, digits, '-', '_' and '.'`,
      );
    }
    if (key in labels && labels[key] !== value) {
      throw new UserError(`--selector gives label ${key} twice (${labels[key]} and ${value}); a workload has one value per label`);
    }
    labels[key] = value;
  }
  return labels;
}

const KNOWN_GROUPS: Record<string, string> = {
  Gateway: "gateway.networking.k8s.io",
  GatewayClass: "gateway.networking.k8s.io",
  HTTPRoute: "gateway.networking.k8s.io",
  GRPCRoute: "gateway.networking.k8s.io",
  Service: "",
  ServiceEntry: "networking.istio.io",
};

/** --target-ref KIND/NAME or KIND.GROUP/NAME (kubectl style). */
export function parseTargetRef(item: string, allowedKinds: readonly string[]): TargetRef {
  const slash = item.indexOf("/");
  const kindPart = slash > 0 ? item.slice(0, slash) : "";
  const name = slash > 0 ? item.slice(slash + 1) : "";
  const example = `e.g. --target-ref ${allowedKinds[0]}/my-gateway`;
  if (!kindPart || !name) throw new UserError(`--target-ref ${JSON.stringify(item)} must be KIND/NAME, ${example}`);
  const dot = kindPart.indexOf(".");
  const kind = dot > 0 ? kindPart.slice(0, dot) : kindPart;
  const group = dot > 0 ? kindPart.slice(dot + 1) : KNOWN_GROUPS[kind];
  if (!allowedKinds.includes(kind)) {
    throw new UserError(
      `--target-ref ${JSON.stringify(item)}: kind ${kind} cannot be targeted here; use one of ${allowedKinds.join(", ")} (${example})`,
    );
  }
  if (group === undefined || (group !== "" && !DNS_SUBDOMAIN.test(group))) {
    throw new UserError(`--target-ref ${JSON.stringify(item)}: unknown API group for ${kind}; write KIND.GROUP/NAME`);
  }
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new UserError(`--target-ref ${JSON.stringify(item)}: ${JSON.stringify(name)} is not a valid resource name`);
  }
  return { group, kind, name };
}

function normalizeEnum(value: string): string {
  return value.trim().toUpperCase().replace(/-/g, "_");
}

export function parsePhase(value: string): Phase {
  const v = normalizeEnum(value);
  const phase = v === "UNSPECIFIED" ? "UNSPECIFIED_PHASE" : v;
  if (!["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"].includes(phase)) {
    throw new UserError(
      `--phase ${JSON.stringify(value)} is not an Istio phase: use AUTHN, AUTHZ or STATS (or leave it out to run just before the router)`,
    );
  }
  return phase as Phase;
}

export function parseFailStrategy(value: string): FailStrategy {
  const v = normalizeEnum(value);
  const s = v === "CLOSE" || v === "FAIL_CLOSED" ? "FAIL_CLOSE" : v === "OPEN" ? "FAIL_OPEN" : v === "RELOAD" ? "FAIL_RELOAD" : v;
  if (!["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"].includes(s)) {
    throw new UserError(
      `--fail-strategy ${JSON.stringify(value)} is not a fail strategy: use FAIL_CLOSE (default), FAIL_OPEN or FAIL_RELOAD`,
    );
  }
  return s as FailStrategy;
}

export function parsePullPolicy(value: string): PullPolicy {
  const v = value.trim().toLowerCase().replace(/[-_]/g, "");
  if (v === "ifnotpresent") return "IfNotPresent";
  if (v === "always") return "Always";
  throw new UserError(`--pull-policy ${JSON.stringify(value)} is not a pull policy: use IfNotPresent or Always`);
}

export function parsePluginType(value: string): PluginType {
  const v = normalizeEnum(value);
  if (v === "HTTP" || v === "NETWORK") return v;
  throw new UserError(`--type ${JSON.stringify(value)} is not a plugin type: use HTTP (default) or NETWORK`);
}

export function parsePriority(value: string): number {
  const n = Number(value);
  if (!/^[-+]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
    throw new UserError(
      `--priority ${JSON.stringify(value)} must be a whole number between -2147483648 and 2147483647 (higher runs first)`,
    );
  }
  return n;
}

export interface PluginConfig {
  value: unknown;
  /** Compact JSON, what Envoy's StringValue carries. */
  json: string;
}

/** --config '{"k":"v"}' or --config @file.json */
export function parseConfig(value: string): PluginConfig {
  let text = value;
  let where = "--config";
  if (value.startsWith("@")) {
    const file = value.slice(1);
    where = `--config ${value}`;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UserError(`${where}: cannot read ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UserError(
      `${where} is not JSON (${(err as Error).message.split("\n")[0]}); pass a JSON value, e.g. --config '{"header":"x-demo"}' or --config @config.json`,
    );
  }
  return { value: parsed, json: JSON.stringify(parsed) };
}

/** host:port (IPv6 as [addr]:port) → parts. */
export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new UserError(`${flag} ${JSON.stringify(value)} must be HOST:PORT, e.g. ${flag} 127.0.0.1:8080`);
  }
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

export function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 65535)
    throw new UserError(`${flag} ${JSON.stringify(value)} must be a port number between 1 and 65535`);
  return n;
}

/** --env NAME=VALUE and --host-env NAME (both repeatable) → the VM's environment, names unique. */
export function parseEnv(inline: string[], host: string[]): EnvVar[] {
  const out: EnvVar[] = [];
  const seen = new Set<string>();
  const add = (name: string, flag: string, item: string, v: EnvVar) => {
    if (name.length === 0 || name.length > 256 || /[=\0]/.test(name)) {
      throw new UserError(
        `${flag} ${JSON.stringify(item)}: the variable name must be 1 to 256 characters without '=' (e.g. ${flag === "--env" ? "--env LOG_FORMAT=json" : "--host-env POD_NAME"})`,
      );
    }
    if (seen.has(name)) throw new UserError(`${flag} ${JSON.stringify(item)}: ${name} is given twice; a VM has one value per variable`);
    seen.add(name);
    out.push(v);
  };
  for (const item of inline) {
    const eq = item.indexOf("=");
    if (eq < 0)
      throw new UserError(
        `--env ${JSON.stringify(item)} must be NAME=VALUE (e.g. --env LOG_FORMAT=json); --host-env NAME copies the proxy's own variable`,
      );
    const name = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (value.length > 2048) throw new UserError(`--env ${name}=…: the value has ${value.length} characters; Istio accepts at most 2048`);
    add(name, "--env", item, { name, valueFrom: "INLINE", value });
  }
  for (const name of host) add(name, "--host-env", name, { name, valueFrom: "HOST" });
  if (out.length > 256) throw new UserError(`--env/--host-env give ${out.length} variables; Istio accepts at most 256`);
  return out;
}

export function parseMatchMode(value: string): MatchMode {
  const v = normalizeEnum(value);
  const mode = v === "OUTBOUND" ? "CLIENT" : v === "INBOUND" ? "SERVER" : v === "BOTH" ? "CLIENT_AND_SERVER" : v;
  if (!["CLIENT", "SERVER", "CLIENT_AND_SERVER"].includes(mode)) {
    throw new UserError(
      `--match-mode ${JSON.stringify(value)} is not a traffic direction: use CLIENT (outbound, and gateways), SERVER (inbound) or CLIENT_AND_SERVER (default)`,
    );
  }
  return mode as MatchMode;
}

/** --match-port N (repeatable): distinct port numbers. */
export function parseMatchPorts(items: string[]): number[] {
  const ports = items.map((p) => parsePort(p, "--match-port"));
  const dup = ports.find((p, i) => ports.indexOf(p) !== i);
  if (dup !== undefined) throw new UserError(`--match-port ${dup} is given twice`);
  return ports;
}
