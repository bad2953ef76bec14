// Pushing a built image: every blob the registry does not have yet (checked with HEAD), then the
// manifest under the tag. Only a stored manifest makes the push count; the caller reports success
// after this returns and never before.
import { formatBytes, type Digest } from "./digest.js";
import { blobsOf, type BuiltImage } from "./image.js";
import { formatReference, type ImageReference } from "./reference.js";
import type { RegistryClient, UploadMethod } from "./registry.js";
import { UserError } from "../errors.js";

export interface PushOptions {
  /** Upload blobs larger than this in chunks of this many bytes (default: one request each). */
  chunkSize?: number;
  progress?: (line: string) => void;
}

export interface PushResult {
  digest: Digest;
  /** REGISTRY/REPOSITORY@sha256:… — the immutable reference to deploy. */
  pinned: string;
  /** REGISTRY/REPOSITORY:TAG */
  tagged: string;
  uploaded: { digest: Digest; size: number; method: UploadMethod }[];
  alreadyPresent: Digest[];
}

export async function pushImage(
  client: RegistryClient,
  ref: ImageReference,
  image: BuiltImage,
  opts: PushOptions = {},
): Promise<PushResult> {
  if (ref.tag === undefined) throw new UserError("internal error: pushImage needs a tag");
  await client.ping();
  const uploaded: PushResult["uploaded"] = [];
  const alreadyPresent: Digest[] = [];
  for (const b of blobsOf(image)) {
    if (await client.blobExists(b.digest)) {
      alreadyPresent.push(b.digest);
      opts.progress?.(`  ${b.digest} already present`);
      continue;
    }
    const method = await client.uploadBlob(b, opts.chunkSize);
    uploaded.push({ digest: b.digest, size: b.size, method });
    opts.progress?.(`  ${b.digest} uploaded (${formatBytes(b.size)}${method === "chunked" ? ", chunked" : ""})`);
  }
  const reported = await client.putManifest(ref.tag, image.manifestBytes, image.mediaType);
  if (reported && reported !== image.digest) {
    throw new UserError(
      `registry ${ref.registry} stored the manifest under ${reported}, not ${image.digest}: it rewrote the manifest, so the digest Istio would check is unknown; use another registry or deploy ${reported} after inspecting it`,
    );
  }
  const base: ImageReference = { registry: ref.registry, repository: ref.repository };
  return {
    digest: image.digest,
    pinned: formatReference({ ...base, digest: image.digest }),
    tagged: formatReference({ ...base, tag: ref.tag }),
    uploaded,
    alreadyPresent,
  };
}
