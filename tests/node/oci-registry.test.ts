// `push` against a real OCI registry (Debian's docker-registry, started by .ci/registry.sh) and
// against small fake registries on 127.0.0.1 that refuse in every way a registry can: the image
// must come back byte for byte the way Istio's fetcher unpacks it, and a failed push must say why
// in one line and never print a digest.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { sha256Hex } from "../../src/oci/digest.js";
import { pullWasm } from "../../src/oci/pull.js";
import { parseReference } from "../../src/oci/reference.js";
import { RegistryClient } from "../../src/oci/registry.js";
import { assertFailed, FakeRegistry, pushed, runCli, wat, type Run } from "./fake-registry.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const cli = (args: string[], opts: { env?: Record<string, string>; input?: string } = {}) =>
  runCli(args, { ...opts, env: { DOCKER_CONFIG: join(dir, "no-docker-config"), ...opts.env } });

let dir: string;
let filterPath: string;
let filter: Buffer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pwa-oci-registry-"));
  filter = await wat("registry test module");
  filterPath = join(dir, "filter.wasm");
  await writeFile(filterPath, filter);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---- a real registry ----------------------------------------------------------------------

interface Registries {
  open: string;
  auth?: string;
  user?: string;
  password?: string;
  pids: number[];
}

async function startRegistries(): Promise<Registries | string> {
  if (process.env.PWA_TEST_REGISTRY) {
    return {
      open: process.env.PWA_TEST_REGISTRY,
      auth: process.env.PWA_TEST_REGISTRY_AUTH,
      user: process.env.PWA_TEST_REGISTRY_USER,
      password: process.env.PWA_TEST_REGISTRY_PASSWORD,
      pids: [],
    };
  }
  if (spawnSync("sh", ["-c", "command -v docker-registry"]).status !== 0) {
    return "docker-registry is not installed and PWA_TEST_REGISTRY is not set (source .ci/registry.sh)";
  }
  const out = await new Promise<Run>((resolve) => {
    const child = spawn("bash", [join(ROOT, ".ci/registry.sh")], {
      env: { ...process.env, PWA_REGISTRY_NO_INSTALL: "1", PWA_REGISTRY_OWNER_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  if (out.code !== 0) return `.ci/registry.sh failed: ${out.stderr.trim()}`;
  const vars = Object.fromEntries([...out.stdout.matchAll(/^export (\w+)="?([^"\n]*)"?$/gm)].map((m) => [m[1], m[2]]));
  return {
    open: vars.PWA_TEST_REGISTRY,
    auth: vars.PWA_TEST_REGISTRY_AUTH,
    user: vars.PWA_TEST_REGISTRY_USER,
    password: vars.PWA_TEST_REGISTRY_PASSWORD,
    pids: (vars.PWA_TEST_REGISTRY_PIDS ?? "").split(" ").filter(Boolean).map(Number),
  };
}

function skopeoInspect(ref: string, raw = false): { status: number | null; stdout: string; stderr: string } {
  const args = ["inspect", "--tls-verify=false", ...(raw ? ["--raw"] : []), `docker://${ref}`];
  return spawnSync("skopeo", args, { encoding: "utf8" });
}

describe("a real registry (docker-registry)", () => {
  let reg: Registries | undefined;
  let why = "";
  before(async () => {
    const r = await startRegistries();
    if (typeof r === "string") {
      if (process.env.CI === "true") throw new Error(`CI needs a registry: ${r}`);
      why = r;
    } else reg = r;
  });
  after(() => {
    for (const pid of reg?.pids ?? []) {
      try {
        process.kill(pid);
      } catch {
        // already gone
      }
    }
  });

  for (const variant of ["compat", "oci"] as const) {
    test(`pushes the ${variant} variant and pulls back the same module the way Istio unpacks it`, async (t) => {
      if (!reg) return t.skip(why);
      const target = `${reg.open}/filters/${variant}:v1`;
      const image = await cli(["image", filterPath, "--out", join(dir, `layout-${variant}`), "--variant", variant, "--json"]);
      const expected = JSON.parse(image.stdout).digest as string;
      // The oci variant goes up in small chunks to exercise the PATCH upload path.
      const r = await cli([
        "push",
        filterPath,
        target,
        "--insecure",
        "--variant",
        variant,
        ...(variant === "oci" ? ["--chunk-size", "100"] : []),
      ]);
      const { digest, reference } = pushed(r);
      assert.equal(digest, expected, "push and image build the same image");
      assert.equal(reference, `${reg.open}/filters/${variant}@${digest}`);
      if (variant === "oci") assert.match(r.stderr, /chunked/);

      const ref = parseReference(reference);
      const pulled = await pullWasm(new RegistryClient(ref, { insecure: true }), digest);
      assert.equal(pulled.format, variant);
      assert.equal(pulled.digest, digest);
      assert.ok(pulled.wasm.equals(filter), "the module comes back byte for byte");
      assert.equal(sha256Hex(pulled.wasm), sha256Hex(filter));
      assert.equal(pulled.manifest.layers.length, variant === "compat" ? 1 : 2);

      // An independent client agrees on the digest and the layers.
      const info = skopeoInspect(`${reg.open}/filters/${variant}:v1`);
      assert.equal(info.status, 0, info.stderr);
      const parsed = JSON.parse(info.stdout);
      assert.equal(parsed.Digest, digest);
      assert.deepEqual(
        parsed.Layers,
        pulled.manifest.layers.map((l) => l.digest),
      );
      const raw = skopeoInspect(`${reg.open}/filters/${variant}:v1`, true);
      assert.equal(`sha256:${createHash("sha256").update(raw.stdout).digest("hex")}`, digest);
      assert.deepEqual(
        JSON.parse(raw.stdout).layers.map((l: { mediaType: string }) => l.mediaType),
        variant === "compat"
          ? ["application/vnd.oci.image.layer.v1.tar+gzip"]
          : ["application/vnd.module.wasm.config.v1+json", "application/vnd.module.wasm.content.layer.v1+wasm"],
      );
    });
  }

  test("end to end with a real filter: build the add-header example, push it, pull it back, deploy the digest", async (t) => {
    if (!reg) return t.skip(why);
    const wasm = join(dir, "add-header.wasm");
    const built = await cli(["build", join(ROOT, "examples/add-header/index.ts"), "-o", wasm]);
    assert.equal(built.code, 0, built.stderr);
    const target = `${reg.open}/examples/add-header:v1`;
    const { digest, reference } = pushed(await cli(["push", wasm, target, "--insecure"]));
    const pulled = await pullWasm(new RegistryClient(parseReference(target), { insecure: true }), "v1");
    assert.ok(pulled.wasm.equals(await readFile(wasm)));
    const plugin = await cli(["manifest", wasm, "--image", reference, "--selector", "app=demo"]);
    assert.equal(plugin.code, 0, plugin.stderr);
    const spec = parse(plugin.stdout).spec;
    assert.equal(spec.url, `oci://${reference}`);
    assert.equal(spec.sha256, digest.slice("sha256:".length));
  });

  test("pushing again uploads nothing (HEAD finds every blob) and keeps the digest", async (t) => {
    if (!reg) return t.skip(why);
    const target = `${reg.open}/filters/again:v1`;
    const first = await cli(["push", filterPath, target, "--insecure", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const second = await cli(["push", filterPath, `${reg.open}/filters/again:v2`, "--insecure", "--json"]);
    assert.equal(second.code, 0, second.stderr);
    const a = JSON.parse(first.stdout);
    const b = JSON.parse(second.stdout);
    assert.equal(a.uploaded.length, 2);
    assert.deepEqual(b.uploaded, []);
    assert.deepEqual(b.alreadyPresent.sort(), a.uploaded.sort());
    assert.equal(b.digest, a.digest);
  });

  test("manifest computes the digest push printed, and --resolve reads the same from the registry", async (t) => {
    if (!reg) return t.skip(why);
    const target = `${reg.open}/filters/manifest:v1`;
    const { digest } = pushed(await cli(["push", filterPath, target, "--insecure", "--variant", "oci"]));
    const computed = await cli(["manifest", filterPath, "--image", target, "--variant", "oci"]);
    assert.equal(computed.code, 0, computed.stderr);
    assert.match(computed.stdout, new RegExp(`sha256: ${digest.slice(7)}`));
    const resolved = await cli(["manifest", "--image", target, "--resolve", "--insecure", "--name", "demo"]);
    assert.equal(resolved.code, 0, resolved.stderr);
    assert.match(resolved.stdout, new RegExp(`sha256: ${digest.slice(7)}`));
    assert.match(resolved.stdout, new RegExp(`url: oci://${target.replace(/[.]/g, "\\.")}`));
    // A local build that differs from what the tag holds is pointed out.
    const other = join(dir, "other.wasm");
    await writeFile(other, await wat("a different build"));
    const mismatch = await cli(["manifest", other, "--image", target, "--resolve", "--insecure"]);
    assert.equal(mismatch.code, 0, mismatch.stderr);
    assert.match(mismatch.stderr, /is not the image .*other\.wasm builds to/);
  });

  test("refuses plain HTTP unless --insecure, and says how to allow it", async (t) => {
    if (!reg) return t.skip(why);
    assertFailed(await cli(["push", filterPath, `${reg.open}/filters/tls:v1`]), /cannot talk HTTPS.*pass --insecure/);
  });

  test("basic auth: refused without or with wrong credentials; works from --password-stdin and ~/.docker/config.json", async (t) => {
    if (!reg) return t.skip(why);
    if (!reg.auth) {
      if (process.env.CI === "true") assert.fail("PWA_TEST_REGISTRY_AUTH is not set");
      return t.skip("no htpasswd registry (PWA_TEST_REGISTRY_AUTH)");
    }
    const target = `${reg.auth}/filters/auth:v1`;
    assertFailed(await cli(["push", filterPath, target, "--insecure"]), /requires authentication.*docker login/);
    assertFailed(
      await cli(["push", filterPath, target, "--insecure", "-u", reg.user!, "--password-stdin"], { input: "wrong" }),
      /refused the credentials from --username\/--password/,
    );
    const viaStdin = pushed(
      await cli(["push", filterPath, target, "--insecure", "-u", reg.user!, "--password-stdin"], { input: `${reg.password}\n` }),
    );

    const dockerConfig = join(dir, "docker-config");
    await mkdir(dockerConfig, { recursive: true });
    const auth = Buffer.from(`${reg.user}:${reg.password}`).toString("base64");
    await writeFile(join(dockerConfig, "config.json"), JSON.stringify({ auths: { [`http://${reg.auth}`]: { auth } } }));
    const viaConfig = pushed(
      await cli(["push", filterPath, `${reg.auth}/filters/auth:v2`, "--insecure"], { env: { DOCKER_CONFIG: dockerConfig } }),
    );
    assert.equal(viaConfig.digest, viaStdin.digest);

    const client = new RegistryClient(parseReference(target), {
      insecure: true,
      credentials: { kind: "basic", username: reg.user!, password: reg.password!, source: "test" },
    });
    assert.ok((await pullWasm(client, "v1")).wasm.equals(filter));
  });
});

// ---- fake registries that refuse ----------------------------------------------------------

describe("registries that refuse", () => {
  let fake: FakeRegistry;
  before(async () => {
    fake = await new FakeRegistry().start();
  });
  after(() => fake.stop());
  const reset = () => {
    fake.hook = () => false;
    fake.auth = undefined;
    fake.blobs.clear();
    fake.manifests.clear();
    fake.requests.length = 0;
  };
  const push = (...extra: string[]) => cli(["push", filterPath, `${fake.host}/filters/demo:v1`, "--insecure", ...extra]);

  test("the fake registry accepts a normal push, so the failures below are the injected ones", async () => {
    reset();
    const { digest } = pushed(await push());
    assert.ok(fake.manifests.has("v1"));
    assert.equal(fake.manifests.get("v1")!.type, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(`sha256:${sha256Hex(fake.manifests.get("v1")!.bytes)}`, digest);
  });

  test("401 without credentials: says how to log in", async () => {
    reset();
    fake.auth = { scheme: "basic", user: "u", password: "p" };
    assertFailed(await push(), /registry 127\.0\.0\.1:\d+ requires authentication .*401 Unauthorized.*docker login 127\.0\.0\.1:\d+/);
    assert.equal(fake.manifests.size, 0);
  });

  test("404 when starting an upload: names the registry's error code", async () => {
    reset();
    fake.hook = (req, res) => {
      if (req.method !== "POST") return false;
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }] }));
      return true;
    };
    assertFailed(
      await push(),
      /404 Not Found to starting the upload of blob sha256:[a-f0-9]{12}: NAME_UNKNOWN repository name not known to registry: check the repository name/,
    );
  });

  test("500 when storing the manifest: the blobs went up, but nothing is reported as pushed", async () => {
    reset();
    fake.hook = (req, res) => {
      if (!(req.method === "PUT" && req.url!.includes("/manifests/"))) return false;
      res.writeHead(500, { "Content-Type": "text/plain" }).end("storage backend unavailable\n");
      return true;
    };
    assertFailed(
      await push(),
      /answered 500 Internal Server Error to storing the manifest as filters\/demo:v1: storage backend unavailable; nothing was tagged/,
    );
    assert.equal(fake.blobs.size, 2, "the blobs were uploaded before the failure");
    assert.equal(fake.manifests.size, 0);
  });

  test("a dropped connection during a blob upload", async () => {
    reset();
    fake.hook = (req) => {
      if (req.method !== "PUT" || !req.url!.includes("/blobs/uploads/")) return false;
      req.socket.destroy();
      return true;
    };
    assertFailed(
      await push(),
      /connection to registry 127\.0\.0\.1:\d+ failed during the upload of blob sha256:[a-f0-9]{12} .*nothing was tagged, try again/,
    );
    assert.equal(fake.manifests.size, 0);
  });

  test("a refused TLS handshake (plain-HTTP registry, no --insecure) says to pass --insecure", async () => {
    reset();
    const r = await cli(["push", filterPath, `${fake.host}/filters/demo:v1`]);
    assertFailed(r, /cannot talk HTTPS to registry 127\.0\.0\.1:\d+.*pass --insecure/);
    assert.deepEqual(fake.requests, [], "no request reached the registry in plain text");
  });

  test("413 for a whole blob: retried in chunks and pushed", async () => {
    reset();
    fake.hook = (req, res) => {
      if (req.method === "PUT" && req.url!.includes("/blobs/uploads/") && Number(req.headers["content-length"]) > 0) {
        res.writeHead(413).end();
        return true;
      }
      return false;
    };
    const r = await push();
    pushed(r);
    assert.match(r.stderr, /refused .* in one request \(413\); uploading in 512\.0 KiB chunks/);
    assert.ok(fake.requests.some((x) => x.startsWith("PATCH ")));
    assert.equal(fake.blobs.size, 2);
  });

  test("a registry that stores the manifest under another digest is reported, not trusted", async () => {
    reset();
    fake.hook = (req, res) => {
      if (!(req.method === "PUT" && req.url!.includes("/manifests/"))) return false;
      res.writeHead(201, { "Docker-Content-Digest": `sha256:${"0".repeat(64)}` }).end();
      return true;
    };
    assertFailed(await push(), /stored the manifest under sha256:0{64}, not sha256:[a-f0-9]{64}: it rewrote the manifest/);
  });

  test("bearer tokens: the WWW-Authenticate challenge leads to the token server; wrong passwords are refused there", async () => {
    reset();
    fake.auth = { scheme: "bearer", user: "alice", password: "s3cret" };
    // Anonymous: the token server refuses, and the user is told to log in.
    assertFailed(await push(), /requires authentication .*docker login/);
    const good = await cli(["push", filterPath, `${fake.host}/filters/demo:v1`, "--insecure", "-u", "alice", "--password-stdin"], {
      input: "s3cret",
    });
    pushed(good);
    assert.ok(fake.requests.includes("GET /token"));
    const bad = await cli(["push", filterPath, `${fake.host}/filters/demo:v2`, "--insecure", "-u", "alice", "--password-stdin"], {
      input: "nope",
    });
    assertFailed(bad, /token server http:\/\/127\.0\.0\.1:\d+ of registry .* refused the credentials from --username\/--password \(401/);
  });

  test("credentials from a docker credential helper named in ~/.docker/config.json", async () => {
    reset();
    fake.auth = { scheme: "basic", user: "helper-user", password: "helper-pass" };
    const bin = join(dir, "bin");
    await mkdir(bin, { recursive: true });
    const helper = join(bin, "docker-credential-pwatest");
    // The helper protocol: server URL on stdin, JSON credentials on stdout.
    await writeFile(
      helper,
      `#!/bin/sh\nread server\n[ "$server" = "${fake.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\n` +
        `echo '{"ServerURL":"'$server'","Username":"helper-user","Secret":"helper-pass"}'\n`,
    );
    await chmod(helper, 0o755);
    const config = join(dir, "helper-config");
    await mkdir(config, { recursive: true });
    await writeFile(join(config, "config.json"), JSON.stringify({ credHelpers: { [fake.host]: "pwatest" } }));
    pushed(
      await cli(["push", filterPath, `${fake.host}/filters/demo:v1`, "--insecure"], {
        env: { DOCKER_CONFIG: config, PATH: `${bin}${delimiter}${process.env.PATH}` },
      }),
    );
    // A helper that is configured but not installed is a warning, then anonymous access.
    await writeFile(join(config, "config.json"), JSON.stringify({ credsStore: "not-installed-anywhere" }));
    const r = await cli(["push", filterPath, `${fake.host}/filters/demo:v1`, "--insecure"], { env: { DOCKER_CONFIG: config } });
    assertFailed(r, /requires authentication/);
    assert.match(r.stderr, /credential helper docker-credential-not-installed-anywhere, but it is not installed/);
  });

  test("an image index resolves to its linux/amd64 manifest, whose digest is the one Istio checks", async () => {
    reset();
    const { digest } = pushed(await push());
    const child = fake.manifests.get("v1")!;
    const index = (platforms: [string, string][]) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests: platforms.map(([os, architecture]) => ({
            mediaType: child.type,
            digest,
            size: child.bytes.length,
            platform: { os, architecture },
          })),
        }),
      );
    fake.manifests.set("multi", {
      bytes: index([
        ["linux", "arm64"],
        ["linux", "amd64"],
      ]),
      type: "application/vnd.oci.image.index.v1+json",
    });
    fake.manifests.set("arm-only", { bytes: index([["linux", "arm64"]]), type: "application/vnd.oci.image.index.v1+json" });
    const client = new RegistryClient(parseReference(`${fake.host}/filters/demo:multi`), { insecure: true });
    const got = await pullWasm(client, "multi");
    assert.equal(got.digest, digest);
    assert.ok(got.wasm.equals(filter));
    await assert.rejects(pullWasm(client, "arm-only"), /image index without a linux\/amd64 entry/);
    const r = await cli(["manifest", "--image", `${fake.host}/filters/demo:multi`, "--resolve", "--insecure"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parse(r.stdout).spec.sha256, digest.slice(7));
  });

  test("bad references and flags are one-line errors before any request", async () => {
    reset();
    assertFailed(await cli(["push", filterPath, `${fake.host}/filters/demo`, "--insecure"]), /has no tag; push to .*:v1/);
    assertFailed(await cli(["push", filterPath, `${fake.host}/Filters/demo:v1`, "--insecure"]), /repository names must be lowercase/);
    assertFailed(
      await cli(["push", filterPath, `${fake.host}/filters/demo:v1`, "--insecure", "--chunk-size", "0"]),
      /--chunk-size "0" must be a positive size/,
    );
    assertFailed(
      await cli(["push", filterPath, `${fake.host}/filters/demo:v1`, "--insecure", "--password", "x"]),
      /--password needs --username/,
    );
    assert.deepEqual(fake.requests, []);
  });
});
