// Which dependency spec a new project uses for proxy-wasm-as: the same package the running CLI came
// from, so that `npm install` in the new project works wherever `init` ran.
//
// - The CLI runs from a clone (no node_modules folder above the package): `file:` to the clone.
// - The CLI was installed by npm (a project's node_modules, or npx's cache): the spec the installing
//   project recorded. A `file:` spec (a tarball or a folder) is made absolute, since the new project
//   lives elsewhere; a registry install gives `^<version>`.

import { readFileSync } from "node:fs";
import path from "node:path";

export interface SdkSource {
  /** The devDependency spec for proxy-wasm-as in the new project. */
  spec: string;
  /** Where it came from, for the message init prints. */
  from: "clone" | "file" | "registry" | "flag";
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The spec another project can install: relative `file:` paths resolved against `base`. */
function absolutize(spec: string, base: string): string {
  if (!spec.startsWith("file:")) return spec;
  const target = spec.slice("file:".length);
  return `file:${path.resolve(base, target)}`;
}

/**
 * The spec for the package at `sdkRoot` (this package's folder) with version `version`; `override`
 * (from `--sdk`) wins. A relative `file:` override is taken relative to `cwd`.
 */
export function sdkSource(sdkRoot: string, version: string, override?: string, cwd = process.cwd()): SdkSource {
  if (override !== undefined) {
    const spec = override.trim();
    if (!spec) throw new Error("--sdk needs a spec: a version range, a tarball path or file:<folder>");
    // A bare path (./x.tgz, ../sdk, /abs) is what users type; npm wants file: for it in package.json.
    const isPath = /^(\.{1,2}[\\/]|[\\/])/.test(spec) || /\.(tgz|tar\.gz)$/.test(spec);
    return { spec: absolutize(isPath && !spec.startsWith("file:") ? `file:${spec}` : spec, cwd), from: "flag" };
  }
  const root = path.resolve(sdkRoot);
  const parent = path.dirname(root);
  // Scoped installs are not possible (the package name is unscoped), so the package sits right in
  // node_modules/ when npm installed it.
  if (path.basename(parent) !== "node_modules") return { spec: `file:${root}`, from: "clone" };
  const owner = path.dirname(parent);
  const lock = readJson(path.join(parent, ".package-lock.json")) ?? readJson(path.join(owner, "package-lock.json"));
  const entry = (lock?.packages as Record<string, { resolved?: string }> | undefined)?.["node_modules/proxy-wasm-as"];
  if (entry?.resolved?.startsWith("file:")) return { spec: absolutize(entry.resolved, owner), from: "file" };
  const pkg = readJson(path.join(owner, "package.json"));
  for (const field of ["dependencies", "devDependencies", "optionalDependencies"]) {
    const spec = (pkg?.[field] as Record<string, string> | undefined)?.["proxy-wasm-as"];
    if (typeof spec === "string" && spec.startsWith("file:")) return { spec: absolutize(spec, owner), from: "file" };
  }
  return { spec: `^${version}`, from: "registry" };
}
