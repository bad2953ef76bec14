// Writing an image as an OCI image layout directory (image-spec image-layout.md): `oci-layout`,
// `index.json` and `blobs/sha256/<hex>`. skopeo, crane, oras and buildah read it
// (e.g. `skopeo copy oci:DIR:TAG docker://REGISTRY/REPO:TAG`).
import { mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { canonicalJson } from "./digest.js";
import { blobsOf, type BuiltImage, type Descriptor } from "./image.js";
import { MEDIA_TYPES, REF_NAME_ANNOTATION } from "./media-types.js";
import { UserError } from "../errors.js";

const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function checkTag(tag: string, flag = "--tag"): string {
  if (!TAG_RE.test(tag)) {
    throw new UserError(
      `${flag} ${JSON.stringify(tag)} is not a valid tag: use up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`,
    );
  }
  return tag;
}

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function existingIndex(dir: string): Promise<IndexJson | null> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") return null;
    if (e.code === "ENOTDIR") throw new UserError(`--out ${dir} is a file; pass a directory for the OCI layout`);
    throw new UserError(`cannot read ${dir}: ${e.message}`);
  }
  if (entries.length === 0) return null;
  if (!entries.includes("oci-layout")) {
    throw new UserError(`refusing to write into ${dir}: it is not empty and not an OCI layout; pass a new or empty directory`);
  }
  try {
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as IndexJson;
    if (!Array.isArray(index.manifests)) throw new Error("it has no manifests array");
    return index;
  } catch (err) {
    throw new UserError(`${dir} has an unreadable index.json (${(err as Error).message}); pass a new directory`);
  }
}

async function writeBlob(dir: string, digest: string, bytes: Buffer): Promise<void> {
  const path = join(dir, "blobs", "sha256", digest.slice("sha256:".length));
  // Content-addressed: a blob already there with the right size is the same blob.
  try {
    if ((await stat(path)).size === bytes.length) return;
  } catch {
    // not there yet
  }
  await writeFile(path, bytes);
}

export interface LayoutResult {
  dir: string;
  tag: string;
  /** Other images that were already in the layout and were kept. */
  kept: number;
}

/**
 * Writes `image` into the layout at `dir` under the ref name `tag`. A new or empty directory
 * becomes a layout; an existing layout keeps its other images, and an image with the same tag is
 * replaced.
 */
export async function writeOciLayout(dir: string, image: BuiltImage, tag: string): Promise<LayoutResult> {
  checkTag(tag);
  const previous = await existingIndex(dir);
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  for (const b of blobsOf(image)) await writeBlob(dir, b.digest, b.bytes);
  await writeBlob(dir, image.digest, image.manifestBytes);

  const kept = (previous?.manifests ?? []).filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== tag);
  const index: IndexJson = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: [
      ...kept,
      {
        mediaType: image.mediaType,
        digest: image.digest,
        size: image.manifestBytes.length,
        annotations: { [REF_NAME_ANNOTATION]: tag },
      },
    ],
  };
  if (!(await exists(join(dir, "oci-layout")))) {
    await writeFile(join(dir, "oci-layout"), canonicalJson({ imageLayoutVersion: "1.0.0" }));
  }
  await writeFile(join(dir, "index.json"), canonicalJson(index));
  return { dir, tag, kept: kept.length };
}
