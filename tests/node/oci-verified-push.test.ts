// Pushes that are verified and pulls that are bounded, against fake registries on 127.0.0.1:
// a registry that answers 2xx and stores nothing fails the push with one line; uploads follow
// redirects (307 to storage); a pinned @sha256: reference is checked against the registry by
// --resolve; a gzip bomb in a layer stops at a bound with a clear error; invalid Kubernetes names
// are refused with the rule they break.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGzip } from "node:zlib";
import { parse } from "yaml";
import { buildManifests } from "../../src/manifest/build.js";
import { nameRuleBroken } from "../../src/manifest/flags.js";
import { extractWasmLikeIstio, MAX_UNPACKED_LAYER } from "../../src/oci/pull.js";
import { assertFailed, FakeRegistry, pushed, runCli, wat } from "./fake-registry.js";

let dir: string;
let filterPath: string;
let fake: FakeRegistry;
const cli = (args: string[]) => runCli(args, { env: { DOCKER_CONFIG: join(dir, "no-docker-config") } });
const push = (tag = "v1") => cli(["push", filterPath, `${fake.host}/filters/demo:${tag}`, "--insecure"]);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pwa-verified-push-"));
  filterPath = join(dir, "filter.wasm");
  await writeFile(filterPath, await wat("verified push module"));
  fake = await new FakeRegistry().start();
});
after(async () => {
  await fake.stop();
  await rm(dir, { recursive: true, force: true });
});
const reset = () => {
  fake.hook = () => false;
  fake.blobs.clear();
  fake.manifests.clear();
  fake.requests.length = 0;
};

test("a push reads the manifest back by digest and every blob it names", async () => {
  reset();
  const r = await push();
  const { digest } = pushed(r);
  assert.match(r.stderr, /verified: the registry returns manifest sha256:[a-f0-9]{64} and its 2 blobs/);
  assert.ok(fake.requests.includes(`GET /v2/filters/demo/manifests/${digest}`), fake.requests.join("\n"));
});

test("a registry that answers 2xx to everything and stores nothing fails the push with one line", async () => {
  reset();
  // HEAD says every blob exists, uploads and the manifest PUT are "accepted", nothing is kept.
  fake.hook = (req, res) => {
    if (req.url === "/v2/") return false;
    const status = req.method === "POST" ? 202 : req.method === "PUT" ? 201 : 200;
    res
      .writeHead(status, req.method === "POST" ? { Location: "/v2/filters/demo/blobs/uploads/x" } : {})
      .end(req.method === "GET" ? "{}" : undefined);
    return true;
  };
  assertFailed(
    await push(),
    /registry 127\.0\.0\.1:\d+ accepted the push but 127\.0\.0\.1:\d+\/filters\/demo@sha256:[a-f0-9]{64} came back with other content when read back; it did not store the image/,
  );
  reset();
  // Blobs stored, manifest PUT answered 201 and dropped.
  fake.hook = (req, res) => {
    if (!(req.method === "PUT" && req.url!.includes("/manifests/"))) return false;
    res.writeHead(201).end();
    return true;
  };
  assertFailed(await push(), /accepted the push but .*@sha256:[a-f0-9]{64} is not there \(404\) when read back/);
  reset();
  // Manifest stored, but a blob vanished (storage lost it).
  fake.hook = (req, res) => {
    if (req.method === "PUT" && req.url!.includes("/manifests/")) fake.blobs.clear();
    void res;
    return false;
  };
  assertFailed(await push(), /accepted the push but blob sha256:[a-f0-9]{64} is missing when read back/);
});

test("uploads follow a 307 to storage, resending the bytes (the body is not detached)", async () => {
  reset();
  let redirected = 0;
  fake.hook = (req, res) => {
    const url = new URL(req.url!, "http://x");
    if (req.method === "PUT" && url.pathname.includes("/blobs/uploads/") && !url.searchParams.has("moved")) {
      url.searchParams.set("moved", "1");
      redirected++;
      res.writeHead(307, { Location: `${url.pathname}${url.search}` }).end();
      return true;
    }
    return false;
  };
  const { digest } = pushed(await push());
  assert.equal(redirected, 2, "both blob PUTs were redirected");
  assert.equal(fake.blobs.size, 2);
  const stored = fake.manifests.get("v1")!;
  assert.equal(`sha256:${createHash("sha256").update(stored.bytes).digest("hex")}`, digest);
});

test("--resolve checks a pinned @sha256: reference against the registry", async () => {
  reset();
  const { digest } = pushed(await push());
  const ok = await cli(["manifest", "--image", `${fake.host}/filters/demo@${digest}`, "--resolve", "--insecure", "--name", "demo"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(parse(ok.stdout).spec.sha256, digest.slice(7));
  const missing = `sha256:${"e".repeat(64)}`;
  assertFailed(
    await cli(["manifest", "--image", `${fake.host}/filters/demo@${missing}`, "--resolve", "--insecure", "--name", "demo"]),
    /filters\/demo@sha256:e{64} does not exist \(404\)/,
  );
  // A registry that serves other bytes for the pinned digest is refused.
  fake.manifests.set(missing, { bytes: Buffer.from("{}"), type: "application/vnd.oci.image.manifest.v1+json" });
  assertFailed(
    await cli(["manifest", "--image", `${fake.host}/filters/demo@${missing}`, "--resolve", "--insecure", "--name", "demo"]),
    /returned a manifest with digest sha256:[a-f0-9]{64} for sha256:e{64}; refusing it/,
  );
  // The tag moved on: the pinned digest is written, with a warning.
  await writeFile(join(dir, "other.wasm"), await wat("another build"));
  pushed(await cli(["push", join(dir, "other.wasm"), `${fake.host}/filters/demo:v1`, "--insecure"]));
  const moved = await cli(["manifest", "--image", `${fake.host}/filters/demo:v1@${digest}`, "--resolve", "--insecure", "--name", "demo"]);
  assert.equal(moved.code, 0, moved.stderr);
  assert.match(moved.stderr, /filters\/demo:v1 now holds sha256:[a-f0-9]{64}, not the pinned sha256:/);
  assert.equal(parse(moved.stdout).spec.sha256, digest.slice(7));
});

test("a local file that does not build to the pinned digest is pointed out", async () => {
  const warnings: string[] = [];
  const pin = `sha256:${"a".repeat(64)}`;
  const { docs } = await buildManifests(filterPath, { image: `r.example.com/f@${pin}` }, (l) => warnings.push(l));
  assert.equal((docs[0] as { spec: { sha256: string } }).spec.sha256, "a".repeat(64));
  assert.match(warnings.join("\n"), /builds to sha256:[a-f0-9]{64} with these flags, not the given sha256:a{64}; writing the given digest/);
});

test("a gzip bomb in a layer stops at the bound with a clear error", async () => {
  // 300 MiB of zeros, compressed as a stream (about 300 KiB), posing as the compat layer.
  const gz = createGzip({ level: 1 });
  const parts: Buffer[] = [];
  gz.on("data", (c: Buffer) => parts.push(c));
  const done = new Promise((r) => gz.on("end", r));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 300; i++) if (!gz.write(zeros)) await new Promise((r) => gz.once("drain", r));
  gz.end();
  await done;
  const bomb = Buffer.concat(parts);
  assert.ok(bomb.length < 2 * 1024 * 1024 && 300 * 1024 * 1024 > MAX_UNPACKED_LAYER);
  const digest = `sha256:${createHash("sha256").update(bomb).digest("hex")}` as const;
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest, size: 2 },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: bomb.length }],
  };
  const before = process.memoryUsage().rss;
  await assert.rejects(
    extractWasmLikeIstio(manifest as never, async () => bomb),
    /layer sha256:[a-f0-9]{64} unpacks to more than 257\.0 MiB; Istio's agent refuses modules over 256 MiB, so this is no filter image/,
  );
  assert.ok(process.memoryUsage().rss - before < 600 * 1024 * 1024, "memory stays bounded");
});

test("Kubernetes names are refused with the rule they break", async () => {
  assert.equal(nameRuleBroken("registry-creds", "subdomain"), null);
  assert.equal(nameRuleBroken("a.b-c", "subdomain"), null);
  assert.match(nameRuleBroken("Registry", "subdomain")!, /"R" is not allowed; a DNS-1123 subdomain has only lowercase letters/);
  assert.match(nameRuleBroken("my_secret", "subdomain")!, /"_" is not allowed/);
  assert.match(nameRuleBroken("-creds", "subdomain")!, /must start and end with a letter or digit/);
  assert.match(nameRuleBroken("a..b", "subdomain")!, /empty part between dots/);
  assert.match(nameRuleBroken("x".repeat(254), "subdomain")!, /254 characters; a DNS-1123 subdomain has at most 253/);
  assert.match(nameRuleBroken("a.b", "label")!, /"\." is not allowed; a DNS-1123 label has only lowercase letters, digits and '-'/);
  assert.match(nameRuleBroken("x".repeat(64), "label")!, /at most 63/);
  const img = ["--image", "ghcr.io/acme/filter:v1"];
  const cases: [string[], RegExp][] = [
    [
      ["--pull-secret", "My_Creds"],
      /--pull-secret "My_Creds" is not a valid Secret name: "M" is not allowed; a DNS-1123 subdomain has only lowercase letters, digits, '-' and '\.' \(e\.g\. registry-creds\)/,
    ],
    [["--pull-secret", ""], /--pull-secret "" is not a valid Secret name: it is empty/],
    [["--namespace", "team.a"], /--namespace "team\.a" is not a valid namespace: "\." is not allowed; a DNS-1123 label/],
    [
      ["--name", "filter-"],
      /--name "filter-" is not a valid Kubernetes name: a DNS-1123 subdomain must start and end with a letter or digit/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(["manifest", filterPath, ...img, ...args]);
    assertFailed(r, pattern);
  }
});
