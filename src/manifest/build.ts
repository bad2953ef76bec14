// From `manifest` flags to checked manifests: which flags each target understands, where the
// module comes from and which sha256 to write (the image manifest digest for oci://, computed
// exactly as `image`/`push` build the image, or read from the registry with --resolve; the
// module's own sha256 for http(s)://).
import { resolve as resolvePath } from "node:path";
import {
  nameFromFile,
  parseConfig,
  parseFailStrategy,
  parseHostPort,
  parseName,
  parseNamespace,
  parsePhase,
  parsePluginType,
  parsePort,
  parsePriority,
  parsePullPolicy,
  parseEnv,
  parseMatchMode,
  parseMatchPorts,
  parseSecretName,
  parseSelector,
  parseTargetRef,
} from "./flags.js";
import { generate, MANIFEST_KINDS, toYaml, type ManifestKind, type ManifestSpec, type ModuleSource } from "./generate.js";
import { choosePluginType } from "./plugin-type.js";
import { checkConfigAgainstModule } from "../config-schema/validate.js";
import { checkDigestConsistency, checkWasmPluginRules, urlRuleAccepts } from "./rules.js";
import { parseBuildFlags, registryOptions, type BuildFlags, type RegistryFlags } from "../oci/cli-options.js";
import { sha256Hex } from "../oci/digest.js";
import { buildImage } from "../oci/image.js";
import { extractWasmLikeIstio, resolveManifest } from "../oci/pull.js";
import { formatReference, parseReference } from "../oci/reference.js";
import { RegistryClient } from "../oci/registry.js";
import { readWasmModule } from "../oci/wasm-input.js";
import { UserError } from "../errors.js";

export interface ManifestFlags extends BuildFlags, RegistryFlags {
  kind?: string;
  image?: string;
  url?: string;
  sha256?: string;
  resolve?: boolean;
  config?: string;
  name?: string;
  namespace?: string;
  selector?: string[];
  targetRef?: string[];
  phase?: string;
  priority?: string;
  failStrategy?: string;
  pullPolicy?: string;
  pullSecret?: string;
  pluginName?: string;
  type?: string;
  env?: string[];
  hostEnv?: string[];
  matchMode?: string;
  matchPort?: string[];
  upstream?: string;
  listen?: string;
  adminPort?: string;
  modulePath?: string;
}

type FlagName = keyof ManifestFlags;

/** Flags that only some targets understand; anything else would be silently dropped. */
const ONLY_FOR: Partial<Record<FlagName, { flag: string; kinds: ManifestKind[]; why: string }>> = {
  image: { flag: "--image", kinds: ["wasmplugin", "envoyfilter", "envoy-gateway"], why: "envoy.yaml loads the .wasm from a local file" },
  url: { flag: "--url", kinds: ["wasmplugin", "envoyfilter", "envoy-gateway"], why: "envoy.yaml loads the .wasm from a local file" },
  selector: { flag: "--selector", kinds: ["wasmplugin", "envoyfilter"], why: "select with --target-ref for Envoy Gateway" },
  targetRef: { flag: "--target-ref", kinds: ["wasmplugin", "envoy-gateway"], why: "EnvoyFilter selects workloads with --selector" },
  phase: { flag: "--phase", kinds: ["wasmplugin"], why: "only WasmPlugin has phases" },
  priority: { flag: "--priority", kinds: ["wasmplugin"], why: "only WasmPlugin orders plugins by priority" },
  pullPolicy: { flag: "--pull-policy", kinds: ["wasmplugin", "envoy-gateway"], why: "an EnvoyFilter cannot set the agent's pull policy" },
  pullSecret: { flag: "--pull-secret", kinds: ["wasmplugin", "envoy-gateway"], why: "an EnvoyFilter cannot pass an image pull secret" },
  env: {
    flag: "--env",
    kinds: ["wasmplugin", "envoyfilter", "envoy"],
    why: "Envoy Gateway passes only the proxy's own variables (--host-env)",
  },
  matchMode: {
    flag: "--match-mode",
    kinds: ["wasmplugin", "envoyfilter"],
    why: "envoy.yaml has one listener and Envoy Gateway selects routes with --target-ref",
  },
  matchPort: {
    flag: "--match-port",
    kinds: ["wasmplugin", "envoyfilter"],
    why: "envoy.yaml has one listener (--listen) and Envoy Gateway selects routes with --target-ref",
  },
  namespace: { flag: "--namespace", kinds: ["wasmplugin", "envoyfilter", "envoy-gateway"], why: "envoy.yaml is not a Kubernetes resource" },
  upstream: { flag: "--upstream", kinds: ["envoy"], why: "the mesh or gateway routes to upstreams itself" },
  listen: { flag: "--listen", kinds: ["envoy"], why: "only envoy.yaml opens its own listener" },
  adminPort: { flag: "--admin-port", kinds: ["envoy"], why: "only envoy.yaml configures the admin port" },
  modulePath: { flag: "--module-path", kinds: ["envoy"], why: "only envoy.yaml names a local module path" },
  resolve: { flag: "--resolve", kinds: ["wasmplugin", "envoyfilter", "envoy-gateway"], why: "envoy.yaml loads a local file" },
};

const KIND_NAMES: Record<ManifestKind, string> = {
  wasmplugin: "an Istio WasmPlugin",
  envoyfilter: "Istio EnvoyFilters",
  envoy: "envoy.yaml",
  "envoy-gateway": "an Envoy Gateway EnvoyExtensionPolicy",
};

export function parseKind(value: string | undefined): ManifestKind {
  const v = (value ?? "wasmplugin").toLowerCase();
  if (!(MANIFEST_KINDS as readonly string[]).includes(v)) {
    throw new UserError(`--kind ${JSON.stringify(value)} is not a manifest kind: use ${MANIFEST_KINDS.join(", ")}`);
  }
  return v as ManifestKind;
}

function checkFlagsFit(kind: ManifestKind, flags: ManifestFlags): void {
  for (const [key, rule] of Object.entries(ONLY_FOR) as [FlagName, { flag: string; kinds: ManifestKind[]; why: string }][]) {
    const v = flags[key];
    const given = Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false;
    if (given && !rule.kinds.includes(kind)) {
      throw new UserError(`${rule.flag} does not apply to --kind ${kind} (${KIND_NAMES[kind]}): ${rule.why}`);
    }
  }
  const fail = flags.failStrategy ? parseFailStrategy(flags.failStrategy) : undefined;
  if (fail === "FAIL_RELOAD" && (kind === "envoyfilter" || kind === "envoy-gateway")) {
    throw new UserError(
      `--fail-strategy FAIL_RELOAD is not available for --kind ${kind}; use FAIL_CLOSE or FAIL_OPEN, or --kind wasmplugin`,
    );
  }
}

function parseSha(value: string): string {
  const hex = value.replace(/^sha256:/, "").toLowerCase();
  if (!/^[a-f0-9]{64}$/.test(hex)) {
    throw new UserError(`--sha256 ${JSON.stringify(value)} must be 64 hex digits (optionally after sha256:), the digest push printed`);
  }
  return hex;
}

const DEFAULT_BUILD = (flags: BuildFlags) =>
  (flags.variant === undefined || flags.variant === "compat") && flags.created === undefined && !flags.annotation?.length;

interface Resolved {
  source: ModuleSource;
  /** The module's bytes when they were at hand (the file, or the image --resolve unpacked). */
  wasm?: Buffer;
}

async function resolveSource(
  kind: ManifestKind,
  file: string | undefined,
  flags: ManifestFlags,
  warn: (l: string) => void,
): Promise<Resolved> {
  const local = file ? (await readWasmModule(file, { verify: false })).bytes : undefined;
  const source = await resolveModuleSource(kind, file, flags, warn);
  return { source: source.source, wasm: local ?? source.wasm };
}

async function resolveModuleSource(
  kind: ManifestKind,
  file: string | undefined,
  flags: ManifestFlags,
  warn: (l: string) => void,
): Promise<Resolved> {
  if (kind === "envoy") {
    if (!file)
      throw new UserError(
        "--kind envoy needs the .wasm file: Envoy loads it from disk (manifest FILTER.wasm --kind envoy --upstream HOST:PORT)",
      );
    if (flags.sha256) throw new UserError("--sha256 does not apply to --kind envoy: Envoy reads the local file as it is");
    return { source: { type: "local", path: flags.modulePath ?? resolvePath(file) } };
  }
  if (!!flags.image === !!flags.url) {
    throw new UserError(
      `${flags.image ? "--image and --url exclude each other" : "say where proxies get the module"}: pass --image REGISTRY/REPOSITORY:TAG (an image you pushed) or --url https://…/filter.wasm`,
    );
  }
  const explicit = flags.sha256 !== undefined ? parseSha(flags.sha256) : undefined;

  if (flags.url !== undefined) {
    if (flags.resolve) throw new UserError("--resolve reads an image digest from a registry; it works with --image, not --url");
    if (!DEFAULT_BUILD(flags))
      throw new UserError("--variant, --created and --annotation describe an image; they work with --image, not --url");
    let scheme: string;
    try {
      scheme = new URL(flags.url).protocol.replace(/:$/, "");
    } catch {
      throw new UserError(`--url ${JSON.stringify(flags.url)} is not a URL; write it like https://example.com/filters/my-filter.wasm`);
    }
    const allowed = kind === "wasmplugin" ? ["http", "https", "file"] : ["http", "https"];
    if (!allowed.includes(scheme) || !urlRuleAccepts(flags.url)) {
      throw new UserError(
        `--url ${JSON.stringify(flags.url)}: ${KIND_NAMES[kind]} loads modules from ${allowed.map((s) => `${s}://`).join(", ")} URLs${scheme === "oci" ? "; use --image for OCI images" : ""}`,
      );
    }
    let sha = explicit;
    if (file) {
      const local = sha256Hex((await readWasmModule(file, { verify: false })).bytes);
      if (sha && sha !== local) warn(`warning: --sha256 ${sha} is not the sha256 of ${file} (${local}); writing --sha256`);
      sha ??= local;
    }
    if (!sha) throw new UserError(`cannot know the module's sha256 for ${flags.url}: pass the .wasm file it serves, or --sha256`);
    return { source: { type: "url", url: flags.url, sha256: sha } };
  }

  const ref = parseReference(flags.image!);
  if (ref.tag === undefined && ref.digest === undefined) {
    throw new UserError(
      `--image ${JSON.stringify(flags.image)} has no tag or digest; write REGISTRY/REPOSITORY:TAG (Istio would pull :latest on every change)`,
    );
  }
  const pinned = ref.digest?.slice("sha256:".length);
  if (pinned && explicit && pinned !== explicit) {
    throw new UserError(
      `--image is pinned to sha256:${pinned} but --sha256 is ${explicit}; Istio would refuse the module, drop one of them`,
    );
  }
  const sha = pinned ?? explicit;
  const build = parseBuildFlags(flags);
  const localDigest = async (path: string) => {
    const input = await readWasmModule(path, { verify: false });
    return (await buildImage(input.bytes, { ...build, abiVersion: input.abiVersion })).digest.slice("sha256:".length);
  };

  if (flags.resolve) {
    const client = new RegistryClient(ref, await registryOptions(ref.registry, flags, "pull", warn));
    const resolved = await resolveManifest(client, ref.digest ?? ref.tag!);
    // Istio downloads and unpacks the image; so does --resolve, to fail here rather than in every pod.
    const { wasm } = await extractWasmLikeIstio(resolved.manifest, (d) => client.getBlob(d));
    const remote = resolved.digest.slice("sha256:".length);
    if (ref.tag !== undefined && ref.digest !== undefined) {
      // Istio pulls by the digest and ignores the tag; say so when they no longer name one image.
      const tagged = await resolveManifest(client, ref.tag);
      if (tagged.digest !== resolved.digest) {
        warn(
          `warning: ${ref.registry}/${ref.repository}:${ref.tag} now holds ${tagged.digest}, not the pinned ${resolved.digest}; proxies pull the pinned digest`,
        );
      }
    }
    if (sha && sha !== remote) {
      throw new UserError(`${formatReference(ref)} has digest sha256:${remote} in the registry, not ${sha}; drop --sha256 or push again`);
    }
    if (file) {
      const local = await localDigest(file);
      if (local !== remote) {
        warn(
          `warning: ${formatReference(ref)} (sha256:${remote}) is not the image ${file} builds to with these flags (sha256:${local}); writing the registry's digest`,
        );
      }
    }
    return { source: { type: "oci", ref, sha256: remote }, wasm };
  }
  if (sha) {
    if (file) {
      const local = await localDigest(file);
      if (local !== sha) {
        warn(
          `warning: ${file} builds to sha256:${local} with these flags, not the given sha256:${sha}; writing the given digest (--resolve checks it against the registry)`,
        );
      }
    }
    return { source: { type: "oci", ref, sha256: sha } };
  }
  if (!file) {
    throw new UserError(
      `cannot know the digest of ${formatReference(ref)}: pass the .wasm you pushed (the digest is computed the way push builds the image), --resolve to read it from the registry, or an @sha256:… reference`,
    );
  }
  return { source: { type: "oci", ref, sha256: await localDigest(file) } };
}

export interface BuiltManifests {
  kind: ManifestKind;
  docs: object[];
  yaml: string;
}

export async function buildManifests(
  file: string | undefined,
  flags: ManifestFlags,
  warn: (line: string) => void,
): Promise<BuiltManifests> {
  const kind = parseKind(flags.kind);
  checkFlagsFit(kind, flags);

  const allowedRefKinds =
    kind === "envoy-gateway" ? ["Gateway", "HTTPRoute", "GRPCRoute"] : ["Gateway", "GatewayClass", "Service", "ServiceEntry"];
  const selector = flags.selector?.length ? parseSelector(flags.selector) : undefined;
  const targetRefs = flags.targetRef?.length ? flags.targetRef.map((t) => parseTargetRef(t, allowedRefKinds)) : undefined;
  if (selector && targetRefs) {
    throw new UserError(
      "--selector and --target-ref exclude each other: a WasmPlugin selects workloads by labels or targets Gateways/Services, not both",
    );
  }
  if (targetRefs && targetRefs.length > 16)
    throw new UserError(`--target-ref is given ${targetRefs.length} times; Istio and Envoy Gateway accept at most 16`);
  if (kind === "envoy-gateway" && !targetRefs) {
    throw new UserError(
      "--kind envoy-gateway needs --target-ref KIND/NAME (Gateway, HTTPRoute or GRPCRoute), e.g. --target-ref HTTPRoute/backend",
    );
  }
  if (kind === "envoy" && !flags.upstream) {
    throw new UserError("--kind envoy needs --upstream HOST:PORT, the service Envoy forwards requests to (e.g. --upstream 127.0.0.1:8080)");
  }
  if (flags.pluginName !== undefined && (flags.pluginName.length === 0 || flags.pluginName.length > 256)) {
    throw new UserError("--plugin-name must be 1 to 256 characters (it becomes Envoy's root_id)");
  }
  if (flags.pullSecret !== undefined) parseSecretName(flags.pullSecret);
  const config = flags.config !== undefined ? parseConfig(flags.config) : undefined;
  if (kind === "wasmplugin" && config && (config.value === null || typeof config.value !== "object" || Array.isArray(config.value))) {
    throw new UserError(
      `--config must be a JSON object for a WasmPlugin: Istio's pluginConfig is a Struct (it reaches the plugin as JSON text); wrap the value, e.g. --config '{"value":${config.json}}'`,
    );
  }

  const resolved = await resolveSource(kind, file, flags, warn);
  const source = resolved.source;
  if (config && resolved.wasm) {
    // Before anything is written: the filter's own schema (config.schema.json, embedded by build).
    checkConfigAgainstModule(resolved.wasm, config.json, "--config", file ?? flags.image ?? "the module");
  }
  const type = choosePluginType(resolved.wasm, flags.type !== undefined ? parsePluginType(flags.type) : undefined, warn);
  if (type === "NETWORK" && kind === "envoy-gateway") {
    throw new UserError(
      "this is a network (TCP) filter, and Envoy Gateway's EnvoyExtensionPolicy runs Wasm only as HTTP filters; use --kind wasmplugin, envoyfilter or envoy",
    );
  }
  if (source.type === "url" && source.url.startsWith("file:") && flags.pullSecret) {
    throw new UserError("--pull-secret applies to OCI images, not file:// modules");
  }
  if (kind === "envoy-gateway" && flags.pullSecret && source.type !== "oci") {
    throw new UserError("--pull-secret applies to --image, not --url");
  }

  let name = flags.name !== undefined ? parseName(flags.name) : file ? nameFromFile(file) : undefined;
  if (name === undefined && source.type === "oci") name = nameFromFile(source.ref.repository);
  if (name === undefined) throw new UserError("--name is needed: the resource name could not be derived from the file or image name");

  const spec: ManifestSpec = {
    name,
    ...(flags.namespace !== undefined ? { namespace: parseNamespace(flags.namespace) } : {}),
    source,
    ...(config ? { config } : {}),
    ...(selector ? { selector } : {}),
    ...(targetRefs ? { targetRefs } : {}),
    ...(flags.phase !== undefined ? { phase: parsePhase(flags.phase) } : {}),
    ...(flags.priority !== undefined ? { priority: parsePriority(flags.priority) } : {}),
    ...(flags.failStrategy !== undefined ? { failStrategy: parseFailStrategy(flags.failStrategy) } : {}),
    ...(flags.pullPolicy !== undefined ? { pullPolicy: parsePullPolicy(flags.pullPolicy) } : {}),
    ...(flags.pullSecret !== undefined ? { pullSecret: flags.pullSecret } : {}),
    ...(flags.pluginName !== undefined ? { pluginName: flags.pluginName } : {}),
    // Written when it is not Istio's default, or when the user asked for it.
    ...(type === "NETWORK" || flags.type !== undefined ? { type } : {}),
    ...(flags.env?.length || flags.hostEnv?.length ? { env: parseEnv(flags.env ?? [], flags.hostEnv ?? []) } : {}),
    ...(flags.matchMode !== undefined || flags.matchPort?.length
      ? {
          match: {
            ...(flags.matchMode !== undefined ? { mode: parseMatchMode(flags.matchMode) } : {}),
            ...(flags.matchPort?.length ? { ports: parseMatchPorts(flags.matchPort) } : {}),
          },
        }
      : {}),
    ...(flags.upstream !== undefined ? { upstream: parseHostPort(flags.upstream, "--upstream") } : {}),
    ...(flags.listen !== undefined
      ? {
          listen: /^\d+$/.test(flags.listen)
            ? { host: "0.0.0.0", port: parsePort(flags.listen, "--listen") }
            : parseHostPort(flags.listen, "--listen"),
        }
      : {}),
    ...(flags.adminPort !== undefined ? { adminPort: parsePort(flags.adminPort, "--admin-port") } : {}),
  };
  if ((kind === "wasmplugin" || kind === "envoyfilter") && !selector && !targetRefs) {
    const where =
      spec.namespace === "istio-system"
        ? "every workload in the mesh (istio-system is Istio's default root namespace)"
        : `every workload in the namespace${spec.namespace ? ` ${spec.namespace}` : ""} (mesh-wide if it is the root namespace)`;
    warn(`note: no --selector${kind === "wasmplugin" ? " or --target-ref" : ""}: the filter applies to ${where}`);
  }

  const docs = generate(kind, spec);
  if (kind === "wasmplugin") {
    // Our own flags checks should make these impossible; a violation is a bug, not user input.
    const problems = checkWasmPluginRules(docs[0]).map((v) => `${v.path}: ${v.message}`);
    const s = (docs[0] as { spec: { url: string; sha256?: string } }).spec;
    const mismatch = checkDigestConsistency(s.url, s.sha256);
    if (mismatch) problems.push(mismatch);
    if (problems.length > 0) throw new Error(`generated WasmPlugin breaks Istio's rules: ${problems.join("; ")}`);
  }
  return { kind, docs, yaml: toYaml(docs) };
}
