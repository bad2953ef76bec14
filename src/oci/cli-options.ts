// Flags shared by `image`, `push` and `manifest`: how the image is built (so `manifest` computes
// the same digest `push` produces) and how to reach a registry.
import { Option, type Command } from "commander";
import { credentialsFromDockerConfig, dockerConfigPath, loadDockerConfig, type Credentials } from "./auth.js";
import { parseCreated, type ImageOptions } from "./image.js";
import { CREATED_ANNOTATION, VARIANT_ANNOTATION, VARIANTS, type Variant } from "./media-types.js";
import type { RegistryOptions } from "./registry.js";
import { UserError } from "../errors.js";

export interface BuildFlags {
  variant?: string;
  created?: string;
  annotation?: string[];
}

export function addBuildOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--variant <variant>",
        "image format: compat (one tar+gzip layer with plugin.wasm) or oci (two layers: runtime config + raw module)",
      ).default("compat"),
    )
    .option("--created <time>", "record this RFC 3339 creation time (default: none, so the digest depends only on the module)")
    .option("--annotation <key=value>", "add a manifest annotation (repeatable)", (v: string, prev: string[] | undefined) => [
      ...(prev ?? []),
      v,
    ]);
}

function collectAnnotations(list: string[] | undefined): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? "" : item.slice(0, eq).trim();
    if (eq <= 0 || key === "") {
      throw new UserError(
        `--annotation ${JSON.stringify(item)} must be KEY=VALUE, e.g. org.opencontainers.image.source=https://github.com/acme/filter`,
      );
    }
    if (key === VARIANT_ANNOTATION || key === CREATED_ANNOTATION) {
      throw new UserError(`--annotation ${key} is set by ${key === VARIANT_ANNOTATION ? "--variant" : "--created"}; use that flag instead`);
    }
    out[key] = item.slice(eq + 1);
  }
  return out;
}

export function parseVariant(value: string | undefined): Variant {
  const v = (value ?? "compat").toLowerCase();
  if (!(VARIANTS as readonly string[]).includes(v)) {
    throw new UserError(`--variant ${JSON.stringify(value)} is not a Wasm image format; use compat (default) or oci`);
  }
  return v as Variant;
}

export function parseBuildFlags(flags: BuildFlags): ImageOptions {
  return {
    variant: parseVariant(flags.variant),
    ...(flags.created !== undefined ? { created: parseCreated(flags.created) } : {}),
    ...(flags.annotation ? { annotations: collectAnnotations(flags.annotation) } : {}),
  };
}

export interface RegistryFlags {
  insecure?: boolean;
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  timeout?: string;
}

export function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option("--insecure", "use plain HTTP instead of HTTPS (local or test registries only)")
    .option("-u, --username <name>", "registry user name (default: from ~/.docker/config.json)")
    .option("-p, --password <password>", "registry password or token (visible to other users of this machine; prefer --password-stdin)")
    .option("--password-stdin", "read the password or token from standard input")
    .option("--timeout <seconds>", "give up on a registry request after this many seconds", "120");
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Credentials from the flags, else from the docker config, else none (anonymous). */
export async function credentialsFor(
  registry: string,
  flags: RegistryFlags,
  warn: (line: string) => void,
): Promise<Credentials | undefined> {
  if (flags.password !== undefined && flags.passwordStdin) {
    throw new UserError("--password and --password-stdin exclude each other; use --password-stdin");
  }
  let password = flags.password;
  if (flags.passwordStdin) {
    if (flags.username === undefined) throw new UserError("--password-stdin needs --username");
    password = await readStdin();
    if (password === "") throw new UserError("--password-stdin read an empty password from standard input");
  }
  if (flags.username !== undefined || password !== undefined) {
    if (flags.username === undefined) throw new UserError("--password needs --username");
    if (password === undefined) throw new UserError("--username needs --password-stdin (or --password)");
    if (flags.password !== undefined)
      warn("warning: --password on the command line is visible to other processes; prefer --password-stdin");
    return { kind: "basic", username: flags.username, password, source: "--username/--password" };
  }
  const path = dockerConfigPath();
  const config = loadDockerConfig(path);
  return config ? credentialsFromDockerConfig(config, registry, path, { warn: (l) => warn(`warning: ${l}`) }) : undefined;
}

export async function registryOptions(
  registry: string,
  flags: RegistryFlags,
  actions: "pull" | "pull,push",
  warn: (line: string) => void,
): Promise<RegistryOptions> {
  const seconds = Number(flags.timeout ?? "120");
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UserError(`--timeout ${JSON.stringify(flags.timeout)} must be a positive number of seconds`);
  }
  return {
    insecure: flags.insecure === true,
    credentials: await credentialsFor(registry, flags, warn),
    timeoutMs: seconds * 1000,
    actions,
    warn: (l) => warn(`warning: ${l}`),
  };
}
