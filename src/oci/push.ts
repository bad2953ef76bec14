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

/**
 * Reads the image back the way a proxy will fetch it: the manifest by digest (byte for byte the
 * one pushed) and every blob it names (present, with the pushed size). A registry that answered
 * the uploads with success but stored nothing fails here, before a digest is printed.
 */
async function verifyStored(client: RegistryClient, ref: ImageReference, image: BuiltImage): Promise<void> {
  const where = `${ref.registry}/${ref.repository}`;
  const unstored = (what: string) =>
    new UserError(
      `registry ${ref.registry} accepted the push but ${what} when read back; it did not store the image, so nothing can pull it: check the registry (or its storage) and push again`,
    );
  const back = await client.manifestIfPresent(image.digest);
  if (back === null) throw unstored(`${where}@${image.digest} is not there (404)`);
  if (!back.equals(image.manifestBytes)) throw unstored(`${where}@${image.digest} came back with other content`);
  for (const b of blobsOf(image)) {
    const size = await client.blobSize(b.digest);
    if (size === null) throw unstored(`blob ${b.digest} is missing`);
    if (size !== undefined && size !== b.size) throw unstored(`blob ${b.digest} has ${size} bytes instead of ${b.size}`);
  }
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
  await verifyStored(client, ref, image);
  opts.progress?.(`  verified: the registry returns manifest ${image.digest} and its ${blobsOf(image).length} blobs`);
  const base: ImageReference = { registry: ref.registry, repository: ref.repository };
  return {
    digest: image.digest,
    pinned: formatReference({ ...base, digest: image.digest }),
    tagged: formatReference({ ...base, tag: ref.tag }),
    uploaded,
    alreadyPresent,
  };
}
