// Registry credentials the way the docker CLI finds them: --username/--password first, then
// ~/.docker/config.json ($DOCKER_CONFIG/config.json): a credential helper named in `credHelpers`
// for the registry or in `credsStore`, else the base64 `auth` ("user:password") in `auths`.
// Also the WWW-Authenticate challenge parser used for Basic and Bearer (token) auth.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { DOCKER_HUB } from "./reference.js";
import { UserError } from "../errors.js";

export type Credentials =
  | { kind: "basic"; username: string; password: string; source: string }
  /** An OAuth2 refresh token (docker config `identitytoken`, e.g. from `az acr login`). */
  | { kind: "identity-token"; token: string; source: string }
  /** A bearer token to send as is (docker config `registrytoken`). */
  | { kind: "registry-token"; token: string; source: string };

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, "config.json") : join(homedir(), ".docker", "config.json");
}

/** Reads the docker config; a missing file is no config, a broken one is an error. */
export function loadDockerConfig(path: string): DockerConfig | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("it is not a JSON object");
    return value as DockerConfig;
  } catch (err) {
    throw new UserError(`cannot parse ${path}: ${(err as Error).message}; fix it or point DOCKER_CONFIG at another directory`);
  }
}

/** The host part of a docker config key ("https://index.docker.io/v1/" → "docker.io"). */
export function normalizeConfigKey(key: string): string {
  const host = key
    .replace(/^[a-z]+:\/\//i, "")
    .split("/")[0]
    .toLowerCase();
  return host === "index.docker.io" || host === "registry-1.docker.io" ? DOCKER_HUB : host;
}

/** What the docker CLI passes to credential helpers for a registry. */
function helperServerUrl(registry: string): string {
  return registry === DOCKER_HUB ? "https://index.docker.io/v1/" : registry;
}

export interface LookupOptions {
  warn?: (line: string) => void;
  /** Runs `docker-credential-<name> get`; replaceable in tests. */
  runHelper?: (name: string, serverUrl: string) => { status: number | null; stdout: string; stderr: string; missing: boolean };
}

function runHelperProcess(name: string, serverUrl: string) {
  const r = spawnSync(`docker-credential-${name}`, ["get"], { input: serverUrl, encoding: "utf8", timeout: 30_000 });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", missing };
}

function fromHelper(name: string, registry: string, opts: LookupOptions): Credentials | undefined {
  const run = opts.runHelper ?? runHelperProcess;
  const r = run(name, helperServerUrl(registry));
  const source = `docker-credential-${name}`;
  if (r.missing) {
    opts.warn?.(`the docker config names the credential helper ${source}, but it is not installed; trying without it`);
    return undefined;
  }
  if (r.status !== 0) {
    // "credentials not found in native keychain" is the helper's way to say "not logged in".
    if (!/not found/i.test(r.stdout + r.stderr)) {
      opts.warn?.(`${source} failed (${(r.stderr || r.stdout).trim().split("\n")[0]}); trying without it`);
    }
    return undefined;
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
  } catch {
    opts.warn?.(`${source} printed something that is not JSON; trying without it`);
    return undefined;
  }
  if (!parsed.Secret) return undefined;
  if (parsed.Username === "<token>") return { kind: "identity-token", token: parsed.Secret, source };
  return { kind: "basic", username: parsed.Username ?? "", password: parsed.Secret, source };
}

function fromEntry(entry: AuthEntry, source: string): Credentials | undefined {
  if (entry.registrytoken) return { kind: "registry-token", token: entry.registrytoken, source };
  if (entry.identitytoken) return { kind: "identity-token", token: entry.identitytoken, source };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) {
      throw new UserError(`the "auth" entry in ${source} does not decode to user:password; run docker login again`);
    }
    return { kind: "basic", username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
  }
  if (entry.username && entry.password) {
    return { kind: "basic", username: entry.username, password: entry.password, source };
  }
  return undefined;
}

/** Credentials for `registry` from a docker config, or undefined for anonymous access. */
export function credentialsFromDockerConfig(
  config: DockerConfig,
  registry: string,
  source: string,
  opts: LookupOptions = {},
): Credentials | undefined {
  const host = normalizeConfigKey(registry);
  const helper = Object.entries(config.credHelpers ?? {}).find(([k]) => normalizeConfigKey(k) === host)?.[1];
  if (helper) {
    const c = fromHelper(helper, registry, opts);
    if (c) return c;
  }
  const entry = Object.entries(config.auths ?? {}).find(([k]) => normalizeConfigKey(k) === host)?.[1];
  if (!helper && config.credsStore) {
    const c = fromHelper(config.credsStore, registry, opts);
    if (c) return c;
  }
  return entry ? fromEntry(entry, source) : undefined;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated key=value or key="quoted value" parameters.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && (header[i] === " " || header[i] === "\t" || header[i] === ",")) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(header[i])) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipWs();
    const scheme = token();
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      while (i < n && (header[i] === " " || header[i] === "\t")) i++;
      const save = i;
      if (header[i] === ",") i++;
      while (i < n && (header[i] === " " || header[i] === "\t" || header[i] === ",")) i++;
      const key = token();
      while (i < n && (header[i] === " " || header[i] === "\t")) i++;
      if (!key || header[i] !== "=") {
        // Not a parameter: the start of the next challenge (or the end).
        i = save;
        break;
      }
      i++; // '='
      while (i < n && (header[i] === " " || header[i] === "\t")) i++;
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i++];
        }
        i++; // closing quote
      } else {
        value = token();
      }
      challenge.params[key.toLowerCase()] = value;
    }
  }
  return out;
}
