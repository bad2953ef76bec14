// Building a Wasm image in memory: the blobs and the manifest, with a digest that depends only on
// the module bytes and the options (never on time, user, file name or platform).
import { gzipReproducible, tarSingleFile } from "./archive.js";
import { canonicalJson, digestOf, type Digest } from "./digest.js";
import {
  CREATED_ANNOTATION,
  MEDIA_TYPES,
  PLUGIN_FILE,
  RUNTIME_CONFIG_FILE,
  TITLE_ANNOTATION,
  VARIANT_ANNOTATION,
  type Variant,
} from "./media-types.js";
import { ABI_MARKERS, type AbiVersion } from "../abi.js";
import { UserError } from "../errors.js";

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
}

export interface Blob extends Descriptor {
  bytes: Buffer;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface BuiltImage {
  variant: Variant;
  /** The manifest exactly as stored and pushed; its sha256 is the image digest. */
  manifestBytes: Buffer;
  manifest: ImageManifest;
  digest: Digest;
  mediaType: string;
  config: Blob;
  layers: Blob[];
}

export interface ImageOptions {
  variant?: Variant;
  /** RFC 3339 creation time; omitted (and the image reproducible) unless given. */
  created?: string;
  /** Extra manifest annotations. */
  annotations?: Record<string, string>;
  /** ABI version of the module, recorded in the oci variant's runtime config. */
  abiVersion?: AbiVersion | null;
}

// The image config: a valid OCI image config so registries, skopeo and crane can show it.
// Platform wasi/wasm is the one Docker uses for Wasm images; Istio and Envoy Gateway ignore it.
const PLATFORM = { architecture: "wasm", os: "wasi" } as const;

function blob(mediaType: string, bytes: Buffer, annotations?: Record<string, string>): Blob {
  return { mediaType, digest: digestOf(bytes), size: bytes.length, bytes, ...(annotations ? { annotations } : {}) };
}

function descriptor(b: Blob): Descriptor {
  const { bytes: _bytes, ...d } = b;
  return d;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Validates a --created value: an RFC 3339 timestamp, or "now". */
export function parseCreated(value: string): string {
  if (value === "now") return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  if (!RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw new UserError(
      `--created ${JSON.stringify(value)} is not an RFC 3339 time; write it like 2026-01-31T12:00:00Z (or "now", which makes the digest change on every run)`,
    );
  }
  return value;
}

export async function buildImage(wasm: Uint8Array, opts: ImageOptions = {}): Promise<BuiltImage> {
  const variant = opts.variant ?? "compat";
  const module = Buffer.from(wasm.buffer, wasm.byteOffset, wasm.byteLength);
  let layers: Blob[];
  let diffIds: Digest[];
  if (variant === "compat") {
    const tar = await tarSingleFile(PLUGIN_FILE, module);
    layers = [blob(MEDIA_TYPES.ociLayerTarGzip, gzipReproducible(tar))];
    diffIds = [digestOf(tar)];
  } else {
    // solo.io spec: {type, abiVersions, config: {root_ids}}; root ids are chosen at deploy time
    // (pluginName / root_id), so the list stays empty.
    const runtimeConfig = Buffer.from(
      canonicalJson({
        type: "envoy_proxy",
        abiVersions: opts.abiVersion ? [ABI_MARKERS[opts.abiVersion]] : [],
        config: { root_ids: [] },
      }),
    );
    layers = [
      blob(MEDIA_TYPES.wasmRuntimeConfig, runtimeConfig, { [TITLE_ANNOTATION]: RUNTIME_CONFIG_FILE }),
      blob(MEDIA_TYPES.wasmContentLayer, module, { [TITLE_ANNOTATION]: PLUGIN_FILE }),
    ];
    diffIds = layers.map((l) => l.digest);
  }

  const config = blob(
    MEDIA_TYPES.ociConfig,
    Buffer.from(
      canonicalJson({
        ...PLATFORM,
        ...(opts.created ? { created: opts.created } : {}),
        config: {},
        rootfs: { type: "layers", diff_ids: diffIds },
      }),
    ),
  );

  const annotations: Record<string, string> = { ...(opts.annotations ?? {}) };
  if (variant === "compat") annotations[VARIANT_ANNOTATION] = "compat";
  if (opts.created) annotations[CREATED_ANNOTATION] = opts.created;

  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: descriptor(config),
    layers: layers.map(descriptor),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const manifestBytes = Buffer.from(canonicalJson(manifest));
  return {
    variant,
    manifestBytes,
    manifest,
    digest: digestOf(manifestBytes),
    mediaType: MEDIA_TYPES.ociManifest,
    config,
    layers,
  };
}

/** The blobs a registry must hold before the manifest can be put: config and layers, once each. */
export function blobsOf(image: BuiltImage): Blob[] {
  const seen = new Set<string>();
  return [image.config, ...image.layers].filter((b) => !seen.has(b.digest) && seen.add(b.digest));
}
