// Image references as Docker and go-containerregistry (Istio's fetcher) read them:
// [registry/]repository[:tag][@sha256:digest]. A first component is a registry when it contains
// '.' or ':' or is "localhost"; otherwise the registry is docker.io (and a one-component
// repository gets the "library/" prefix).
import { isDigest, type Digest } from "./digest.js";
import { UserError } from "../errors.js";

export interface ImageReference {
  /** Registry host[:port] as written (docker.io for Docker Hub). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

export const DOCKER_HUB = "docker.io";
const DOCKER_HUB_API = "registry-1.docker.io";

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

function bad(input: string, why: string): UserError {
  return new UserError(
    `${JSON.stringify(input)} is not an image reference: ${why} (expected REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/acme/my-filter:v1)`,
  );
}

export function parseReference(input: string): ImageReference {
  let s = input.trim();
  for (const scheme of ["oci://", "docker://"]) {
    if (s.startsWith(scheme)) s = s.slice(scheme.length);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    throw bad(input, "an image reference has no URL scheme other than oci://");
  }
  let digest: Digest | undefined;
  const at = s.indexOf("@");
  if (at >= 0) {
    const d = s.slice(at + 1);
    if (!isDigest(d)) throw bad(input, `digest ${JSON.stringify(d)} must be sha256: followed by 64 lowercase hex digits`);
    digest = d;
    s = s.slice(0, at);
  }
  let tag: string | undefined;
  const slash = s.lastIndexOf("/");
  const colon = s.lastIndexOf(":");
  if (colon > slash) {
    tag = s.slice(colon + 1);
    s = s.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, `tag ${JSON.stringify(tag)} may only hold letters, digits, '_', '.' and '-' (at most 128)`);
  }
  if (s === "") throw bad(input, "the repository name is missing");

  let registry = DOCKER_HUB;
  let repository = s;
  const first = s.indexOf("/");
  if (first >= 0) {
    const head = s.slice(0, first);
    if (head.includes(".") || head.includes(":") || head === "localhost" || head !== head.toLowerCase()) {
      registry = head;
      repository = s.slice(first + 1);
    }
  }
  if (!HOST.test(registry)) throw bad(input, `registry ${JSON.stringify(registry)} is not a host name with an optional :port`);
  if (registry === "index.docker.io") registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  for (const part of repository.split("/")) {
    if (!COMPONENT.test(part)) {
      throw bad(
        input,
        part !== part.toLowerCase()
          ? `repository names must be lowercase (${JSON.stringify(part)})`
          : `repository component ${JSON.stringify(part)} may only hold lowercase letters, digits and single '.', '_' or '-' separators`,
      );
    }
  }
  if (repository.length > 255) throw bad(input, "the repository name is longer than 255 characters");
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The host the distribution API lives on (Docker Hub's differs from its name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** REGISTRY/REPOSITORY */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** REGISTRY/REPOSITORY[:TAG][@DIGEST] */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** True for registries on this machine (loopback), where plain HTTP is common in tests. */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
