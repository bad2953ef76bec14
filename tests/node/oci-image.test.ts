// `proxy-wasm-as image` and the image builder: the two formats Istio's fetcher parses, byte-level
// reproducibility (tar metadata, gzip header, canonical JSON), the OCI layout, and refusing input
// that is not a loadable module.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import wabtInit from "wabt";
import { gunzip, readTar } from "../../src/oci/archive.js";
import { canonicalJson, digestOf, sha256Hex, type Digest } from "../../src/oci/digest.js";
import { buildImage, type BuiltImage } from "../../src/oci/image.js";
import { MEDIA_TYPES } from "../../src/oci/media-types.js";
import { extractWasmLikeIstio } from "../../src/oci/pull.js";
import { runCli } from "./fake-registry.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURES = join(ROOT, "tests/fixtures/oci");

async function wat(file: string, replaceData?: string): Promise<Buffer> {
  const wabt = await wabtInit();
  let text = await readFile(join(FIXTURES, file), "utf8");
  if (replaceData !== undefined) text = text.replace("proxy-wasm-as oci fixture", replaceData);
  const mod = wabt.parseWat(file, text);
  try {
    return Buffer.from(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

const cli = (args: string[], opts: { cwd?: string } = {}) => runCli(args, opts);

/** A user error is one line: "proxy-wasm-as: <message>". */
function assertOneLineError(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got stdout ${r.stdout}`);
  const lines = r.stderr.trimEnd().split("\n");
  const last = lines[lines.length - 1];
  assert.match(last, /^proxy-wasm-as: /);
  assert.match(last, pattern);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, "no stack trace");
}

const blobReader = (image: BuiltImage) => async (d: Digest) => {
  const b = [image.config, ...image.layers].find((x) => x.digest === d);
  if (!b) throw new Error(`no blob ${d}`);
  return b.bytes;
};

let dir: string;
let filter: Buffer;
let filterPath: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pwa-oci-image-"));
  filter = await wat("filter.wat");
  filterPath = join(dir, "filter.wasm");
  await writeFile(filterPath, filter);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("compat variant", () => {
  test("is a single OCI manifest with one tar+gzip layer holding plugin.wasm and the compat annotation", async () => {
    const image = await buildImage(filter, { abiVersion: "0.2.1" });
    const m = JSON.parse(image.manifestBytes.toString());
    assert.equal(m.schemaVersion, 2);
    assert.equal(m.mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(m.config.mediaType, MEDIA_TYPES.ociConfig);
    assert.deepEqual(m.annotations, { "module.wasm.image/variant": "compat" });
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0].mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
    assert.equal(m.layers[0].digest, digestOf(image.layers[0].bytes));
    assert.equal(m.layers[0].size, image.layers[0].bytes.length);
    assert.equal(image.digest, `sha256:${sha256Hex(image.manifestBytes)}`);
    // Keys are sorted and there is no whitespace: the bytes are the canonical form of the value.
    assert.equal(image.manifestBytes.toString(), canonicalJson(m));
  });

  test("the layer's tar has fixed metadata and the gzip header has no time, name or OS", async () => {
    const image = await buildImage(filter);
    const gz = image.layers[0].bytes;
    assert.deepEqual([gz[0], gz[1], gz[2]], [0x1f, 0x8b, 8], "gzip, deflate");
    assert.equal(gz[3], 0, "FLG: no name, comment, extra field or header CRC");
    assert.equal(gz.readUInt32LE(4), 0, "MTIME is 0");
    assert.equal(gz[9], 0xff, "OS is 255 (unknown) on every platform");
    const tar = gunzip(gz, 1 << 20);
    const entries = await readTar(tar);
    assert.deepEqual(
      entries.map((e) => [e.name, e.type]),
      [["plugin.wasm", "file"]],
    );
    assert.ok(entries[0].data.equals(filter));
    // ustar header fields (octal text): mode at 100, uid 108, gid 116, mtime 136; names at 265/297.
    const field = (off: number, len: number) =>
      tar
        .subarray(off, off + len)
        .toString("latin1")
        .replace(/[\0 ]+$/, "");
    assert.equal(parseInt(field(100, 8), 8), 0o644);
    assert.equal(parseInt(field(108, 8), 8), 0);
    assert.equal(parseInt(field(116, 8), 8), 0);
    assert.equal(parseInt(field(136, 12), 8), 0);
    assert.equal(field(265, 32), "");
    assert.equal(field(297, 32), "");
    // The config records the uncompressed layer digest, and a platform but no time.
    const config = JSON.parse(image.config.bytes.toString());
    assert.deepEqual(config.rootfs, { type: "layers", diff_ids: [digestOf(tar)] });
    assert.equal(config.architecture, "wasm");
    assert.equal(config.created, undefined);
  });

  test("unpacks the way Istio's fetcher does: last layer, plugin.wasm by base name", async () => {
    const image = await buildImage(filter);
    const got = await extractWasmLikeIstio(image.manifest, blobReader(image));
    assert.equal(got.format, "compat");
    assert.equal(sha256Hex(got.wasm), sha256Hex(filter));
  });
});

describe("oci variant", () => {
  test("has exactly two layers: the runtime config and the raw module", async () => {
    const image = await buildImage(filter, { variant: "oci", abiVersion: "0.2.1" });
    const m = image.manifest;
    assert.deepEqual(
      m.layers.map((l) => l.mediaType),
      ["application/vnd.module.wasm.config.v1+json", "application/vnd.module.wasm.content.layer.v1+wasm"],
    );
    assert.equal(m.annotations, undefined, "the compat annotation belongs to the compat variant only");
    assert.ok(image.layers[1].bytes.equals(filter), "the content layer is the module itself, uncompressed");
    assert.deepEqual(JSON.parse(image.layers[0].bytes.toString()), {
      abiVersions: ["proxy_abi_version_0_2_1"],
      config: { root_ids: [] },
      type: "envoy_proxy",
    });
    const got = await extractWasmLikeIstio(m, blobReader(image));
    assert.equal(got.format, "oci");
    assert.ok(got.wasm.equals(filter));
  });

  test("a one-layer artifact (wasm-to-oci, CNCF layout) fails with Istio's reasons", async () => {
    const layer = { mediaType: "application/vnd.wasm.content.layer.v1+wasm", digest: digestOf(filter), size: filter.length };
    const manifest = { schemaVersion: 2 as const, mediaType: MEDIA_TYPES.ociManifest, config: layer, layers: [layer] };
    await assert.rejects(
      extractWasmLikeIstio(manifest, async () => filter),
      /could not parse as compat variant: invalid media type application\/vnd\.wasm\.content\.layer\.v1\+wasm.*could not parse as oci variant: number of layers must be 2 but got 1/,
    );
  });

  test("Docker-built images (docker manifest, rootfs.diff.tar.gzip last layer) unpack; other layer types do not", async () => {
    const { tarSingleFile } = await import("../../src/oci/archive.js");
    const gz = gzipSync(await tarSingleFile("./plugin.wasm", filter));
    const earlier = gzipSync(await tarSingleFile("README", Buffer.from("docs")));
    const docker = (mediaType: string) => ({
      schemaVersion: 2 as const,
      mediaType: MEDIA_TYPES.dockerManifest,
      config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: digestOf(earlier), size: 1 },
      layers: [
        { mediaType: MEDIA_TYPES.dockerLayerTarGzip, digest: digestOf(earlier), size: earlier.length },
        { mediaType, digest: digestOf(gz), size: gz.length },
      ],
    });
    const blobs = async (d: Digest) => (d === digestOf(gz) ? gz : earlier);
    const got = await extractWasmLikeIstio(docker(MEDIA_TYPES.dockerLayerTarGzip), blobs);
    assert.equal(got.format, "docker-compat");
    assert.ok(got.wasm.equals(filter), "plugin.wasm is found by base name in the last layer");
    await assert.rejects(
      extractWasmLikeIstio(docker(MEDIA_TYPES.ociLayerTarGzip), blobs),
      /Docker image: invalid media type application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip/,
    );
  });

  test("a compat layer without plugin.wasm, or holding something that is not Wasm, is refused", async () => {
    const { tarSingleFile } = await import("../../src/oci/archive.js");
    for (const [name, data, pattern] of [
      ["filter.wasm", filter, /plugin\.wasm not found in the archive/],
      ["plugin.wasm", Buffer.from("not wasm"), /not a Wasm module/],
    ] as const) {
      const gz = gzipSync(await tarSingleFile(name, data));
      const layer = { mediaType: MEDIA_TYPES.ociLayerTarGzip, digest: digestOf(gz), size: gz.length };
      const manifest = { schemaVersion: 2 as const, mediaType: MEDIA_TYPES.ociManifest, config: layer, layers: [layer] };
      await assert.rejects(
        extractWasmLikeIstio(manifest, async () => gz),
        pattern,
      );
    }
  });
});

describe("reproducibility", () => {
  test("two image runs give identical digests and identical layout bytes", async () => {
    const a = await cli(["image", filterPath, "--out", join(dir, "repro-a"), "--tag", "v1", "--json"]);
    const b = await cli(["image", filterPath, "--out", join(dir, "repro-b"), "--tag", "v1", "--json"]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const da = JSON.parse(a.stdout).digest;
    assert.match(da, /^sha256:[a-f0-9]{64}$/);
    assert.equal(JSON.parse(b.stdout).digest, da);
    const files = async (d: string) => (await readdir(join(d, "blobs/sha256"))).sort();
    assert.deepEqual(await files(join(dir, "repro-a")), await files(join(dir, "repro-b")));
    for (const f of ["index.json", "oci-layout"]) {
      assert.ok((await readFile(join(dir, "repro-a", f))).equals(await readFile(join(dir, "repro-b", f))), f);
    }
  });

  test("the digest follows the module and the flags, nothing else", async () => {
    const base = (await buildImage(filter)).digest;
    assert.equal((await buildImage(Buffer.from(filter))).digest, base, "same bytes, same digest");
    const other = await wat("filter.wat", "another build");
    assert.notEqual((await buildImage(other)).digest, base, "different module");
    assert.notEqual((await buildImage(filter, { variant: "oci" })).digest, base, "different variant");
    const created = await buildImage(filter, { created: "2026-01-31T12:00:00Z" });
    assert.notEqual(created.digest, base);
    assert.equal(created.manifest.annotations?.["org.opencontainers.image.created"], "2026-01-31T12:00:00Z");
    assert.equal(JSON.parse(created.config.bytes.toString()).created, "2026-01-31T12:00:00Z");
    const annotated = await buildImage(filter, { annotations: { "org.opencontainers.image.source": "https://example.com/f" } });
    assert.equal(annotated.manifest.annotations?.["org.opencontainers.image.source"], "https://example.com/f");
    assert.equal(annotated.manifest.annotations?.["module.wasm.image/variant"], "compat");
  });
});

describe("OCI layout", () => {
  test("is what skopeo reads, and keeps other tags when a new one is added", async (t) => {
    const out = join(dir, "layout");
    const v1 = await cli(["image", filterPath, "--out", out, "--tag", "v1", "--json"]);
    assert.equal(v1.code, 0, v1.stderr);
    const other = join(dir, "other.wasm");
    await writeFile(other, await wat("filter.wat", "second"));
    const v2 = await cli(["image", other, "--out", out, "--tag", "v2", "--variant", "oci", "--json"]);
    assert.equal(v2.code, 0, v2.stderr);
    const index = JSON.parse(await readFile(join(out, "index.json"), "utf8"));
    assert.deepEqual(
      index.manifests.map((m: { annotations: Record<string, string>; digest: string }) => [
        m.annotations["org.opencontainers.image.ref.name"],
        m.digest,
      ]),
      [
        ["v1", JSON.parse(v1.stdout).digest],
        ["v2", JSON.parse(v2.stdout).digest],
      ],
    );
    assert.deepEqual(JSON.parse(await readFile(join(out, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
    // Every blob is stored under its own digest.
    for (const f of await readdir(join(out, "blobs/sha256"))) {
      assert.equal(sha256Hex(await readFile(join(out, "blobs/sha256", f))), f);
    }
    // Replacing a tag keeps one entry for it.
    const again = await cli(["image", other, "--out", out, "--tag", "v1", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const index2 = JSON.parse(await readFile(join(out, "index.json"), "utf8"));
    assert.equal(index2.manifests.length, 2);

    if (spawnSync("skopeo", ["--version"]).status !== 0) {
      if (process.env.CI === "true") assert.fail("skopeo is not installed: run .ci/registry.sh (it installs it)");
      t.skip("skopeo is not installed (.ci/registry.sh installs it)");
      return;
    }
    for (const [tag, digest, layers] of [
      ["v2", JSON.parse(v2.stdout).digest, 2],
      ["v1", JSON.parse(again.stdout).digest, 1],
    ] as const) {
      const r = spawnSync("skopeo", ["inspect", `oci:${out}:${tag}`], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const info = JSON.parse(r.stdout);
      assert.equal(info.Digest, digest);
      assert.equal(info.Layers.length, layers);
    }
  });

  test("refuses a non-empty directory that is not a layout", async () => {
    const out = join(dir, "not-a-layout");
    await mkdir(out);
    await writeFile(join(out, "notes.txt"), "mine");
    assertOneLineError(await cli(["image", filterPath, "--out", out]), /not empty and not an OCI layout/);
  });
});

describe("input checks", () => {
  test("files that are not a Wasm module get a one-line error naming what they are", async () => {
    const cases: [string, Buffer, RegExp][] = [
      ["text.wasm", Buffer.from("hello"), /does not start with the Wasm magic/],
      ["module.wat", Buffer.from("(module)"), /WebAssembly text \(\.wat\)/],
      ["filter.wasm.gz", gzipSync(filter), /gzip-compressed/],
      ["empty.wasm", Buffer.alloc(0), /it is empty/],
      ["component.wasm", Buffer.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]), /Wasm component/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const p = join(dir, name);
      await writeFile(p, bytes);
      assertOneLineError(await cli(["image", p, "--out", join(dir, `out-${name}`)]), pattern);
    }
    assertOneLineError(await cli(["image", join(dir, "missing.wasm"), "--out", join(dir, "o")]), /no such file/);
  });

  test("a module Envoy would refuse is not packaged unless --no-verify", async () => {
    const bad = join(dir, "no-marker.wasm");
    await writeFile(bad, await wat("no-marker.wat"));
    assertOneLineError(await cli(["image", bad, "--out", join(dir, "bad")]), /would not load in Envoy: no ABI version marker.*--no-verify/);
    const r = await cli(["image", bad, "--out", join(dir, "bad"), "--no-verify"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^digest: sha256:[a-f0-9]{64}$/m);
  });

  test("--annotation repeats and does not swallow the file argument", async () => {
    const out = join(dir, "annotated");
    const r = await cli(["image", "--annotation", "a=1", "--annotation", "b=x=y", filterPath, "--out", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const digest = JSON.parse(r.stdout).digest as string;
    const manifest = JSON.parse(await readFile(join(out, "blobs/sha256", digest.slice(7)), "utf8"));
    assert.deepEqual(manifest.annotations, { a: "1", b: "x=y", "module.wasm.image/variant": "compat" });
  });

  test("bad flags are one-line errors", async () => {
    assertOneLineError(await cli(["image", filterPath, "--out", join(dir, "x"), "--variant", "docker"]), /--variant "docker".*compat.*oci/);
    assertOneLineError(
      await cli(["image", filterPath, "--out", join(dir, "x"), "--created", "yesterday"]),
      /--created "yesterday" is not an RFC 3339 time/,
    );
    assertOneLineError(await cli(["image", filterPath, "--out", join(dir, "x"), "--tag", "-v1"]), /--tag "-v1" is not a valid tag/);
    assertOneLineError(
      await cli(["image", filterPath, "--out", join(dir, "x"), "--annotation", "novalue"]),
      /--annotation "novalue" must be KEY=VALUE/,
    );
  });
});
