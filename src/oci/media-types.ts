// Media types and names of the two Wasm image formats Istio's agent (pkg/wasm/imagefetcher.go) and
// Envoy Gateway parse, plus the standard OCI/Docker types a registry may answer with.
//
// compat variant (solo.io spec-compat): an ordinary OCI image whose last layer is a tar+gzip
//   holding `plugin.wasm`; the manifest carries `module.wasm.image/variant=compat`.
// oci variant (solo.io spec): exactly two layers, a runtime-config JSON and the raw module.

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerTarGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerLayerTarGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  wasmContentLayer: "application/vnd.module.wasm.content.layer.v1+wasm",
  wasmRuntimeConfig: "application/vnd.module.wasm.config.v1+json",
} as const;

/** Every manifest type we accept when pulling, in the Accept header's order. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
] as const;

export const VARIANT_ANNOTATION = "module.wasm.image/variant";
export const CREATED_ANNOTATION = "org.opencontainers.image.created";
export const TITLE_ANNOTATION = "org.opencontainers.image.title";
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

/** The file name Istio looks for (by basename) inside a compat layer. */
export const PLUGIN_FILE = "plugin.wasm";
/** The solo.io spec's name for the oci variant's runtime-config layer. */
export const RUNTIME_CONFIG_FILE = "runtime-config.json";

export type Variant = "compat" | "oci";
export const VARIANTS: readonly Variant[] = ["compat", "oci"];
