// Pulling a Wasm image back and unpacking it the way Istio's agent does
// (istio/istio pkg/wasm/imagefetcher.go, copied by Envoy Gateway):
//   1. Docker manifest media type: the last layer must be a Docker tar.gzip holding a file whose
//      base name is plugin.wasm;
//   2. otherwise (OCI) "compat": the last layer must be an OCI tar+gzip holding plugin.wasm;
//   3. otherwise "oci" variant: exactly two layers, one of media type
//      application/vnd.module.wasm.content.layer.v1+wasm, whose blob is the raw module.
// An image index is resolved to its linux/amd64 entry, as go-containerregistry does by default;
// the digest Istio then compares with `sha256` is that entry's manifest digest.
import { posix } from "node:path";
import { gunzip, readTar, TooLargeError } from "./archive.js";
import { formatBytes, type Digest } from "./digest.js";
import type { Descriptor, ImageManifest } from "./image.js";
import { MEDIA_TYPES, PLUGIN_FILE } from "./media-types.js";
import type { RegistryClient } from "./registry.js";
import { notWasmReason } from "./wasm-input.js";
import { UserError } from "../errors.js";

export type WasmImageFormat = "docker-compat" | "compat" | "oci";

interface IndexJson {
  mediaType?: string;
  manifests?: (Descriptor & { platform?: { os?: string; architecture?: string } })[];
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString("utf8")) as T;
  } catch (err) {
    throw new UserError(`${what} is not JSON (${(err as Error).message})`);
  }
}

function isIndex(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList;
}

export interface ResolvedManifest {
  manifest: ImageManifest;
  bytes: Buffer;
  /** The digest Istio compares with WasmPlugin `sha256` (the image manifest's, not an index's). */
  digest: Digest;
  /** Set when the reference named an index and the linux/amd64 entry was taken. */
  indexDigest?: Digest;
}

/** Fetches the manifest of `reference` (tag or digest), resolving an index like Istio does. */
export async function resolveManifest(client: RegistryClient, reference: string): Promise<ResolvedManifest> {
  await client.ping();
  let got = await client.getManifest(reference);
  let indexDigest: Digest | undefined;
  let json = parseJson<ImageManifest & IndexJson>(got.bytes, `the manifest of ${client.repository}:${reference}`);
  const mediaType = json.mediaType ?? got.mediaType;
  if (isIndex(mediaType) || (json.manifests && !json.layers)) {
    const entry = (json.manifests ?? []).find((m) => m.platform?.os === "linux" && m.platform?.architecture === "amd64");
    if (!entry) {
      throw new UserError(
        `${client.registry}/${client.repository}:${reference} is an image index without a linux/amd64 entry, which Istio's fetcher cannot use; push a single manifest (proxy-wasm-as push does)`,
      );
    }
    indexDigest = got.digest;
    got = await client.getManifest(entry.digest);
    json = parseJson(got.bytes, `manifest ${entry.digest}`);
  }
  if (!Array.isArray(json.layers)) {
    throw new UserError(`${client.registry}/${client.repository}:${reference} is not an image manifest (no layers)`);
  }
  return { manifest: { ...json, mediaType: json.mediaType ?? got.mediaType }, bytes: got.bytes, digest: got.digest, indexDigest };
}

/**
 * The most a layer may unpack to: Istio's agent refuses modules over 256 MiB
 * (ISTIO_WASM_MAX_BINARY_SIZE_BYTES), plus room for the tar headers. A gzip bomb stops here.
 */
export const MAX_UNPACKED_LAYER = 256 * 1024 * 1024 + 1024 * 1024;

async function pluginFromTarGz(blob: Buffer, digest: Digest): Promise<Buffer> {
  let tar: Buffer;
  try {
    tar = gunzip(blob, MAX_UNPACKED_LAYER);
  } catch (err) {
    if (err instanceof TooLargeError) {
      throw new UserError(
        `layer ${digest} unpacks to more than ${formatBytes(MAX_UNPACKED_LAYER)}; Istio's agent refuses modules over 256 MiB, so this is no filter image (stopped unpacking it)`,
      );
    }
    throw new Error(`failed to parse layer as tar.gz: ${(err as Error).message}`);
  }
  const entries = await readTar(tar);
  const hit = entries.find((e) => posix.basename(e.name) === PLUGIN_FILE);
  if (!hit) throw new Error(`${PLUGIN_FILE} not found in the archive`);
  return hit.data;
}

/** Istio's three formats, tried in Istio's order; the error lists why each failed, like Istio's. */
export async function extractWasmLikeIstio(
  manifest: ImageManifest,
  getBlob: (digest: Digest) => Promise<Buffer>,
): Promise<{ wasm: Buffer; format: WasmImageFormat }> {
  const layers = manifest.layers ?? [];
  const last = layers[layers.length - 1];
  // Registry failures (UserError) pass through; format problems (Error) become Istio's reasons.
  const fromLastTarGz = async (mediaType: string): Promise<Buffer> => {
    if (!last) throw new Error("number of layers must be greater than zero");
    if (last.mediaType !== mediaType) throw new Error(`invalid media type ${last.mediaType} (expect ${mediaType})`);
    return pluginFromTarGz(await getBlob(last.digest), last.digest);
  };

  if (manifest.mediaType === MEDIA_TYPES.dockerManifest) {
    try {
      return checked(await fromLastTarGz(MEDIA_TYPES.dockerLayerTarGzip), "docker-compat");
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`could not extract the Wasm file from the Docker image: ${(err as Error).message}`);
    }
  }
  let compatError: string;
  try {
    return checked(await fromLastTarGz(MEDIA_TYPES.ociLayerTarGzip), "compat");
  } catch (err) {
    if (err instanceof UserError) throw err;
    compatError = (err as Error).message;
  }
  const wasmLayer = layers.find((l) => l.mediaType === MEDIA_TYPES.wasmContentLayer);
  let ociError: string;
  if (layers.length !== 2) ociError = `number of layers must be 2 but got ${layers.length}`;
  else if (!wasmLayer) ociError = `could not find the layer of type ${MEDIA_TYPES.wasmContentLayer}`;
  else return checked(await getBlob(wasmLayer.digest), "oci");
  throw new UserError(
    `the image is in no format Istio can read: could not parse as compat variant: ${compatError}; could not parse as oci variant: ${ociError}`,
  );
}

function checked(wasm: Buffer, format: WasmImageFormat): { wasm: Buffer; format: WasmImageFormat } {
  // Istio's cache refuses anything that does not start with the Wasm magic.
  const reason = notWasmReason(wasm);
  if (reason) throw new UserError(`the image holds a file that is not a Wasm module: ${reason}`);
  return { wasm, format };
}

export interface PulledWasm {
  wasm: Buffer;
  format: WasmImageFormat;
  digest: Digest;
  manifest: ImageManifest;
}

/** Pulls `reference` and unpacks its module exactly as Istio's agent would. */
export async function pullWasm(client: RegistryClient, reference: string): Promise<PulledWasm> {
  const resolved = await resolveManifest(client, reference);
  const { wasm, format } = await extractWasmLikeIstio(resolved.manifest, (d) => client.getBlob(d));
  return { wasm, format, digest: resolved.digest, manifest: resolved.manifest };
}
