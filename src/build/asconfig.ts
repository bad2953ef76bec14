// A project's asconfig.json, as `proxy-wasm-as build` reads it: the chosen target's options over the
// file's options, a child config over the one it extends (asc's own precedence), paths resolved
// against the file that names them. The SDK's preset (proxy-wasm-as/asconfig.json) ends the chain:
// the build adds exactly its flags itself. Options a proxy-wasm filter cannot do without are checked
// here, so a project cannot turn them off by accident.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { UserError } from "../errors.js";

/** asc option values as they appear in asconfig.json. */
export type AscOptions = Record<string, unknown>;

export interface ProjectConfig {
  /** The project's asconfig.json. */
  file: string;
  /** The merged options for the target (paths absolute), without outFile, textFile and entries. */
  options: AscOptions;
  /** The target's output module, when the config names one (absolute). */
  outFile?: string;
  /** The target's text output, when the config names one (absolute). */
  textFile?: string;
  /** Entries the project adds (absolute), besides the filter's entry and the SDK's exports. */
  entries: string[];
}

/** asc options that hold paths, resolved against the config file that sets them. */
const PATH_OPTIONS = new Set(["outFile", "textFile", "transform", "lib", "path"]);

/** Options every filter needs: a project may repeat them but not change them. */
const REQUIRED: Record<string, { value: string; why: string }> = {
  runtime: { value: "minimal", why: "the SDK collects garbage between callbacks itself" },
  exportStart: { value: "_initialize", why: "Envoy calls _initialize and allows only logging there" },
};

interface Layer {
  file: string;
  json: Record<string, unknown>;
}

function load(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new UserError(`${file}: cannot read the asconfig file: check the path`);
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("not an object");
    return json as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`${file}: not a valid asconfig.json (${(e as Error).message}): fix the JSON`);
  }
}

/** The asconfig.json that applies to an entry: beside it or above it, up to the project's package.json folder. */
export function findAsconfig(entryAbs: string): string | null {
  let dir = path.dirname(entryAbs);
  for (;;) {
    const candidate = path.join(dir, "asconfig.json");
    if (existsSync(candidate)) return candidate;
    if (existsSync(path.join(dir, "package.json"))) return null;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function resolveExtends(spec: string, fromFile: string): string {
  const dir = path.dirname(fromFile);
  if (spec.startsWith(".") || path.isAbsolute(spec)) return path.resolve(dir, spec);
  try {
    return createRequire(fromFile).resolve(spec);
  } catch {
    throw new UserError(`${fromFile}: extends "${spec}", which cannot be found: install it or fix the path`);
  }
}

/**
 * Reads `file` and the configs it extends for `target`. `sdkPreset` is the SDK's own asconfig.json:
 * reaching it ends the chain. `targetRequired`: fail when no config in the chain has the target.
 */
export function readProjectConfig(file: string, target: string, sdkPreset: string, targetRequired: boolean): ProjectConfig {
  const chain: Layer[] = [];
  const seen = new Set<string>();
  for (let f: string | null = path.resolve(file); f && path.resolve(f) !== path.resolve(sdkPreset); ) {
    if (seen.has(f)) throw new UserError(`${file}: its "extends" chain loops back to ${f}: remove the cycle`);
    seen.add(f);
    const json = load(f);
    chain.push({ file: f, json });
    f = typeof json.extends === "string" ? resolveExtends(json.extends, f) : null;
  }
  const options: AscOptions = {};
  const entries: string[] = [];
  let hasTarget = false;
  const targetNames = new Set<string>();
  for (const { file: f, json } of chain) {
    const dir = path.dirname(f);
    const targets = (json.targets ?? {}) as Record<string, AscOptions>;
    for (const name of Object.keys(targets)) targetNames.add(name);
    if (targets[target]) hasTarget = true;
    for (const layer of [targets[target], json.options as AscOptions | undefined]) {
      if (!layer) continue;
      for (const [key, raw] of Object.entries(layer)) {
        const value = PATH_OPTIONS.has(key) ? resolvePaths(raw, dir) : raw;
        const have = options[key];
        if (have === undefined) options[key] = value;
        else if (Array.isArray(have) && Array.isArray(value)) options[key] = [...have, ...value.filter((v) => !have.includes(v))];
      }
    }
    for (const e of (json.entries ?? []) as string[]) entries.push(path.resolve(dir, e));
  }
  if (targetRequired && !hasTarget) {
    const known = [...targetNames].sort();
    throw new UserError(`${file} has no target '${target}'${known.length ? ` (it has ${known.join(", ")})` : ""}: add it under "targets" or pick another`);
  }
  for (const [key, { value, why }] of Object.entries(REQUIRED)) {
    if (options[key] !== undefined && options[key] !== value) {
      throw new UserError(`${file} sets ${key} to ${JSON.stringify(options[key])}; a proxy-wasm filter needs "${value}" (${why}): remove it`);
    }
  }
  const { outFile, textFile, ...rest } = options;
  return {
    file,
    options: rest,
    outFile: typeof outFile === "string" ? outFile : undefined,
    textFile: typeof textFile === "string" ? textFile : undefined,
    entries,
  };
}

function resolvePaths(value: unknown, dir: string): unknown {
  const one = (v: unknown) => (typeof v === "string" && (v.startsWith(".") || v.includes("/") || v.includes("\\")) ? path.resolve(dir, v) : v);
  return Array.isArray(value) ? value.map(one) : one(value);
}

/** asc command-line arguments for options: true flags bare, false flags left out, lists repeated. */
export function toArgs(options: AscOptions): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || value === null || value === false) continue;
    if (value === true) args.push(`--${key}`);
    else if (Array.isArray(value)) for (const v of value) args.push(`--${key}`, String(v));
    else args.push(`--${key}`, String(value));
  }
  return args;
}
