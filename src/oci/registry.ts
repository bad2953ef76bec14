// A small OCI distribution-spec client on Node's fetch: the calls push and pull need, Basic and
// Bearer (token) authentication driven by WWW-Authenticate challenges, and one-line errors that
// name the registry, the step that failed and what to do.
import { parseChallenges, type Challenge, type Credentials } from "./auth.js";
import { digestOf, formatBytes, type Digest } from "./digest.js";
import { MANIFEST_ACCEPT } from "./media-types.js";
import { apiHost, isLoopback, type ImageReference } from "./reference.js";
import { UserError } from "../errors.js";
import { discard, errorDetail, networkError } from "./registry-errors.js";

export interface RegistryOptions {
  /** Talk plain HTTP instead of HTTPS (for local and test registries only). */
  insecure?: boolean;
  credentials?: Credentials;
  /** Per-request timeout in milliseconds (default 120 s). */
  timeoutMs?: number;
  /** "pull" or "pull,push": the token scope asked for. */
  actions?: "pull" | "pull,push";
  warn?: (line: string) => void;
}

export type UploadMethod = "monolithic" | "chunked";

/** Chunk size used when a registry refuses a whole blob in one request (413). */
export const FALLBACK_CHUNK_SIZE = 512 * 1024;

const USER_AGENT = "proxy-wasm-as";
const MAX_REDIRECTS = 10;

function short(digest: string): string {
  return `${digest.slice(0, "sha256:".length + 12)}`;
}

export class RegistryClient {
  readonly registry: string;
  readonly repository: string;
  private readonly base: string;
  private readonly opts: RegistryOptions;
  private authorization?: string;
  private pinged = false;

  constructor(ref: Pick<ImageReference, "registry" | "repository">, opts: RegistryOptions = {}) {
    this.registry = ref.registry;
    this.repository = ref.repository;
    this.opts = opts;
    this.base = `${opts.insecure ? "http" : "https"}://${apiHost(ref.registry)}`;
    if (opts.insecure && opts.credentials?.kind === "basic" && !isLoopback(ref.registry)) {
      opts.warn?.(`--insecure: the password for ${ref.registry} travels unencrypted over plain HTTP`);
    }
  }

  private url(path: string): string {
    return `${this.base}${path}`;
  }

  /** One HTTP exchange; never follows auth or redirects, only maps network failures to UserError. */
  private async exchange(
    method: string,
    url: string,
    init: { headers?: Record<string, string>; body?: Buffer },
    action: string,
  ): Promise<Response> {
    const headers: Record<string, string> = { "User-Agent": USER_AGENT, ...(init.headers ?? {}) };
    // Credentials go to the registry's own origin only, never to a storage redirect target.
    if (this.authorization && new URL(url).origin === new URL(this.base).origin) {
      headers.Authorization = this.authorization;
    }
    try {
      return await fetch(url, {
        method,
        headers,
        // A fresh copy each time: fetch detaches the ArrayBuffer of the body it sends, and a
        // Buffer's ArrayBuffer is shared with other Buffers (and needed again after a redirect).
        body: init.body ? (new Uint8Array(init.body) as Uint8Array<ArrayBuffer>) : undefined,
        redirect: "manual",
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
      });
    } catch (err) {
      throw networkError(err, action, this.registry, this.opts);
    }
  }

  /**
   * One request, following redirects (registries send blob uploads and downloads to their storage):
   * 307/308 repeat the method and body, 301/302/303 turn into a GET without a body as browsers do.
   */
  private async follow(
    method: string,
    url: string,
    init: { headers?: Record<string, string>; body?: Buffer },
    action: string,
  ): Promise<Response> {
    for (let hops = 0; ; hops++) {
      const res = await this.exchange(method, url, init, action);
      const location = res.headers.get("location");
      if (![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
      await discard(res);
      if (hops === MAX_REDIRECTS)
        throw new UserError(`registry ${this.registry} redirected ${action} more than ${MAX_REDIRECTS} times; it is misconfigured`);
      url = new URL(location, url).toString();
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method !== "GET" && method !== "HEAD")) {
        method = "GET";
        init = { headers: init.headers };
      }
    }
  }

  /** Sends a request, answering one 401 challenge with the configured credentials. */
  private async send(
    method: string,
    url: string,
    init: { headers?: Record<string, string>; body?: Buffer },
    action: string,
  ): Promise<Response> {
    let res = await this.follow(method, url, init, action);
    if (res.status === 401) {
      const header = res.headers.get("www-authenticate") ?? "";
      await discard(res);
      await this.authorize(header, action);
      res = await this.follow(method, url, init, action);
      if (res.status === 401) {
        const detail = await errorDetail(res);
        throw this.unauthorized(action, detail);
      }
    }
    return res;
  }

  private unauthorized(action: string, detail: string): UserError {
    const c = this.opts.credentials;
    if (!c) {
      return new UserError(
        `registry ${this.registry} requires authentication for ${action} (401 Unauthorized${detail}): run \`docker login ${this.registry}\` or pass --username with --password-stdin`,
      );
    }
    return new UserError(
      `registry ${this.registry} refused the credentials from ${c.source} for ${action} (401 Unauthorized${detail}): check the user name and password or token`,
    );
  }

  private async authorize(header: string, action: string): Promise<void> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    const c = this.opts.credentials;
    if (bearer) {
      this.authorization = `Bearer ${await this.token(bearer, action)}`;
      return;
    }
    if (basic || challenges.length === 0) {
      if (!c) throw this.unauthorized(action, "");
      if (c.kind !== "basic") {
        throw new UserError(
          `registry ${this.registry} asks for a user name and password, but ${c.source} holds a token; pass --username with --password-stdin`,
        );
      }
      this.authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
      return;
    }
    throw new UserError(
      `registry ${this.registry} asks for authentication scheme ${challenges.map((x) => x.scheme).join("/")} that proxy-wasm-as does not speak (it speaks Basic and Bearer)`,
    );
  }

  /** Gets a bearer token from the challenge's realm (docker token auth spec / OAuth2). */
  private async token(ch: Challenge, action: string): Promise<string> {
    const c = this.opts.credentials;
    if (c?.kind === "registry-token") return c.token;
    const realm = ch.params.realm;
    if (!realm) throw new UserError(`registry ${this.registry} sent a Bearer challenge without a realm; it is misconfigured`);
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new UserError(`registry ${this.registry} sent a Bearer challenge with an invalid realm ${JSON.stringify(realm)}`);
    }
    if (realmUrl.protocol !== "https:" && !this.opts.insecure && c) {
      throw new UserError(
        `registry ${this.registry} wants the credentials sent to ${realm} over plain HTTP; refusing (pass --insecure to allow it)`,
      );
    }
    const scopes = [`repository:${this.repository}:${this.opts.actions ?? "pull"}`];
    if (ch.params.scope && !scopes.includes(ch.params.scope)) scopes.push(...ch.params.scope.split(" "));
    const headers: Record<string, string> = { "User-Agent": USER_AGENT };
    let res: Response;
    const tokenAction = `getting a token from ${realmUrl.origin} for ${action}`;
    try {
      if (c?.kind === "identity-token") {
        const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: c.token, client_id: USER_AGENT });
        if (ch.params.service) form.set("service", ch.params.service);
        form.set("scope", scopes.join(" "));
        res = await fetch(realmUrl, {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" },
          body: form.toString(),
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
        });
      } else {
        if (ch.params.service) realmUrl.searchParams.set("service", ch.params.service);
        for (const s of scopes) realmUrl.searchParams.append("scope", s);
        if (c?.kind === "basic") headers.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
        res = await fetch(realmUrl, { headers, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000) });
      }
    } catch (err) {
      throw networkError(err, tokenAction, this.registry, this.opts);
    }
    if (res.status === 401 || res.status === 403) {
      const detail = await errorDetail(res);
      if (!c) throw this.unauthorized(action, detail);
      throw new UserError(
        `the token server ${realmUrl.origin} of registry ${this.registry} refused the credentials from ${c.source} (${res.status}${detail}): check the user name and password or token`,
      );
    }
    if (!res.ok) {
      const detail = await errorDetail(res);
      throw new UserError(
        `the token server ${realmUrl.origin} of registry ${this.registry} failed with ${res.status} ${res.statusText}${detail}; try again`,
      );
    }
    let body: { token?: string; access_token?: string };
    try {
      body = (await res.json()) as { token?: string; access_token?: string };
    } catch {
      throw new UserError(`the token server ${realmUrl.origin} of registry ${this.registry} answered something that is not JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new UserError(`the token server ${realmUrl.origin} of registry ${this.registry} answered without a token`);
    return token;
  }

  private async failure(res: Response, action: string): Promise<UserError> {
    const detail = await errorDetail(res);
    const status = `${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
    switch (res.status) {
      case 403:
        return new UserError(
          `registry ${this.registry} denied ${action} (403 Forbidden${detail}): the account${this.opts.credentials ? ` from ${this.opts.credentials.source}` : ""} may not write to ${this.repository}`,
        );
      case 404:
        return new UserError(
          `registry ${this.registry} answered 404 Not Found to ${action}${detail}: check the repository name (some registries need the repository created first)`,
        );
      default:
        return new UserError(`registry ${this.registry} answered ${status} to ${action}${detail}; nothing was tagged, try again`);
    }
  }

  /** GET /v2/: checks that this is a registry and picks up its authentication challenge. */
  async ping(): Promise<void> {
    if (this.pinged) return;
    const action = "the API version check (GET /v2/)";
    const res = await this.exchange("GET", this.url("/v2/"), {}, action);
    if (res.status === 401) {
      const header = res.headers.get("www-authenticate") ?? "";
      await discard(res);
      const ch = parseChallenges(header);
      // Authorize up front when we can; anonymous Basic waits for a request that needs it.
      if (ch.some((c) => c.scheme === "bearer") || this.opts.credentials) await this.authorize(header, "access to " + this.repository);
    } else if (res.status === 404) {
      await discard(res);
      throw new UserError(`${this.registry} is not an OCI registry: GET /v2/ answered 404; check the host:port`);
    } else if (!res.ok) {
      throw await this.failure(res, action);
    } else {
      await discard(res);
    }
    this.pinged = true;
  }

  async blobExists(digest: Digest): Promise<boolean> {
    const action = `the existence check of blob ${short(digest)}`;
    const res = await this.send("HEAD", this.url(`/v2/${this.repository}/blobs/${digest}`), {}, action);
    await discard(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.failure(res, action);
  }

  /** HEAD a blob: its Content-Length (undefined when not sent), or null when the registry does not have it. */
  async blobSize(digest: Digest): Promise<number | null | undefined> {
    const action = `reading back blob ${short(digest)}`;
    const res = await this.send("HEAD", this.url(`/v2/${this.repository}/blobs/${digest}`), {}, action);
    await discard(res);
    if (res.status === 404) return null;
    if (res.status !== 200) throw await this.failure(res, action);
    const length = res.headers.get("content-length");
    return length === null ? undefined : Number(length);
  }

  private async startUpload(digest: Digest): Promise<string> {
    const action = `starting the upload of blob ${short(digest)}`;
    const res = await this.send("POST", this.url(`/v2/${this.repository}/blobs/uploads/`), {}, action);
    if (res.status !== 202) throw await this.failure(res, action);
    await discard(res);
    const location = res.headers.get("location");
    if (!location)
      throw new UserError(`registry ${this.registry} started an upload without a Location header; it is not a distribution-spec registry`);
    return new URL(location, this.base).toString();
  }

  private withDigest(location: string, digest: Digest): string {
    const u = new URL(location);
    u.searchParams.append("digest", digest);
    return u.toString();
  }

  /**
   * Uploads a blob: in one PUT (monolithic) unless `chunkSize` is smaller than the blob, then
   * in PATCH chunks followed by a closing PUT. A registry that refuses a whole blob as too large
   * (413) gets it again in chunks.
   */
  async uploadBlob(blob: { digest: Digest; bytes: Buffer }, chunkSize?: number): Promise<UploadMethod> {
    const { digest, bytes } = blob;
    const action = `the upload of blob ${short(digest)} (${formatBytes(bytes.length)})`;
    if (chunkSize === undefined || bytes.length <= chunkSize) {
      const location = await this.startUpload(digest);
      const res = await this.send(
        "PUT",
        this.withDigest(location, digest),
        { headers: { "Content-Type": "application/octet-stream" }, body: bytes },
        action,
      );
      if (res.status === 201) {
        await discard(res);
        return "monolithic";
      }
      if (res.status !== 413) throw await this.failure(res, action);
      await discard(res);
      this.opts.warn?.(
        `registry ${this.registry} refused ${formatBytes(bytes.length)} in one request (413); uploading in ${formatBytes(FALLBACK_CHUNK_SIZE)} chunks`,
      );
      chunkSize = FALLBACK_CHUNK_SIZE;
    }
    let location = await this.startUpload(digest);
    for (let offset = 0; offset < bytes.length; offset += chunkSize) {
      const chunk = bytes.subarray(offset, Math.min(offset + chunkSize, bytes.length));
      const end = offset + chunk.length - 1;
      const res = await this.send(
        "PATCH",
        location,
        {
          headers: {
            "Content-Type": "application/octet-stream",
            "Content-Range": `${offset}-${end}`,
          },
          body: Buffer.from(chunk),
        },
        `${action}, bytes ${offset}-${end}`,
      );
      if (res.status !== 202) throw await this.failure(res, `${action}, bytes ${offset}-${end}`);
      await discard(res);
      const range = res.headers.get("range");
      if (range && !new RegExp(`^(bytes=)?0-${end}$`).test(range)) {
        throw new UserError(
          `registry ${this.registry} acknowledged ${range} after bytes ${offset}-${end} of blob ${short(digest)}; the upload is out of step, try again`,
        );
      }
      const next = res.headers.get("location");
      if (next) location = new URL(next, this.base).toString();
    }
    const res = await this.send("PUT", this.withDigest(location, digest), {}, `closing ${action}`);
    if (res.status !== 201) throw await this.failure(res, `closing ${action}`);
    await discard(res);
    return "chunked";
  }

  /** PUT a manifest under a tag (or digest); returns the digest the registry reports, if any. */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string | undefined> {
    const action = `storing the manifest as ${this.repository}:${reference}`;
    const res = await this.send(
      "PUT",
      this.url(`/v2/${this.repository}/manifests/${reference}`),
      { headers: { "Content-Type": mediaType }, body: bytes },
      action,
    );
    if (res.status !== 201 && res.status !== 200) throw await this.failure(res, action);
    await discard(res);
    return res.headers.get("docker-content-digest") ?? undefined;
  }

  /** Reads a whole response body; a connection lost mid-body is a network error. */
  private async body(res: Response, action: string): Promise<Buffer> {
    try {
      return Buffer.from(await res.arrayBuffer());
    } catch (err) {
      throw networkError(err, action, this.registry, this.opts);
    }
  }

  /** GET a manifest (any of the four manifest/index types); the digest is computed from the bytes. */
  async getManifest(reference: string): Promise<{ bytes: Buffer; mediaType: string; digest: Digest }> {
    const action = `fetching the manifest of ${this.repository}${reference.startsWith("sha256:") ? "@" : ":"}${reference}`;
    const res = await this.send(
      "GET",
      this.url(`/v2/${this.repository}/manifests/${reference}`),
      { headers: { Accept: MANIFEST_ACCEPT.join(", ") } },
      action,
    );
    if (res.status === 404) {
      const detail = await errorDetail(res);
      throw new UserError(
        `${this.registry}/${this.repository}${reference.startsWith("sha256:") ? "@" : ":"}${reference} does not exist (404${detail}); push it first or check the tag`,
      );
    }
    if (!res.ok) throw await this.failure(res, action);
    const bytes = await this.body(res, action);
    const digest = digestOf(bytes);
    if (reference.startsWith("sha256:") && reference !== digest) {
      throw new UserError(`registry ${this.registry} returned a manifest with digest ${digest} for ${reference}; refusing it`);
    }
    return { bytes, mediaType: (res.headers.get("content-type") ?? "").split(";")[0].trim(), digest };
  }

  /** GET a manifest's bytes by digest as stored (no digest check), or null when the registry answers 404. */
  async manifestIfPresent(digest: Digest): Promise<Buffer | null> {
    const action = `reading back manifest ${short(digest)}`;
    const res = await this.send(
      "GET",
      this.url(`/v2/${this.repository}/manifests/${digest}`),
      { headers: { Accept: MANIFEST_ACCEPT.join(", ") } },
      action,
    );
    if (res.status === 404) {
      await discard(res);
      return null;
    }
    if (!res.ok) throw await this.failure(res, action);
    return this.body(res, action);
  }

  /** GET a blob and check its digest. */
  async getBlob(digest: Digest): Promise<Buffer> {
    const action = `fetching blob ${short(digest)}`;
    const res = await this.send("GET", this.url(`/v2/${this.repository}/blobs/${digest}`), {}, action);
    if (!res.ok) throw await this.failure(res, action);
    const bytes = await this.body(res, action);
    if (digestOf(bytes) !== digest) {
      throw new UserError(
        `blob ${short(digest)} from registry ${this.registry} does not match its digest (got ${short(digestOf(bytes))}); refusing it`,
      );
    }
    return bytes;
  }
}
