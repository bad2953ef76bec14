// Image references and credentials as `push` and `manifest --resolve` read them: references the way
// Docker and Istio's go-containerregistry read them, docker config lookups, and WWW-Authenticate
// challenges. (Pushes to real and refusing registries are in oci-registry.test.ts.)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { credentialsFromDockerConfig, parseChallenges } from "../../src/oci/auth.js";
import { parseReference } from "../../src/oci/reference.js";

describe("references and docker config lookups", () => {
  test("image references are read the way Docker and Istio's go-containerregistry read them", () => {
    assert.deepEqual(parseReference("oci://ghcr.io/acme/filter:v1"), { registry: "ghcr.io", repository: "acme/filter", tag: "v1" });
    assert.deepEqual(parseReference("nginx"), { registry: "docker.io", repository: "library/nginx" });
    assert.deepEqual(parseReference("acme/filter:v1"), { registry: "docker.io", repository: "acme/filter", tag: "v1" });
    assert.deepEqual(parseReference("localhost:5000/f:v1"), { registry: "localhost:5000", repository: "f", tag: "v1" });
    assert.deepEqual(parseReference("[::1]:5000/a/b:c"), { registry: "[::1]:5000", repository: "a/b", tag: "c" });
    const d = `sha256:${"e".repeat(64)}`;
    assert.deepEqual(parseReference(`r.io/a@${d}`), { registry: "r.io", repository: "a", digest: d });
    assert.throws(() => parseReference("r.io/Acme/f:v1"), /must be lowercase/);
    assert.throws(() => parseReference("https://r.io/a:v1"), /no URL scheme other than oci:\/\//);
    assert.throws(() => parseReference("r.io/a@sha256:abc"), /64 lowercase hex/);
  });

  test("docker config keys match with or without scheme and path; Docker Hub's legacy key too", () => {
    const auth = (u: string) => ({ auth: Buffer.from(`${u}:pw`).toString("base64") });
    const config = { auths: { "https://index.docker.io/v1/": auth("hub"), "http://127.0.0.1:5000": auth("local"), "ghcr.io": auth("gh") } };
    const user = (registry: string) => {
      const c = credentialsFromDockerConfig(config, registry, "config.json");
      return c?.kind === "basic" ? c.username : c;
    };
    assert.equal(user("docker.io"), "hub");
    assert.equal(user("127.0.0.1:5000"), "local");
    assert.equal(user("GHCR.io"), "gh");
    assert.equal(user("quay.io"), undefined);
    assert.deepEqual(credentialsFromDockerConfig({ auths: { "r.io": { identitytoken: "t" } } }, "r.io", "c"), {
      kind: "identity-token",
      token: "t",
      source: "c",
    });
    assert.throws(
      () => credentialsFromDockerConfig({ auths: { "r.io": { auth: Buffer.from("nocolon").toString("base64") } } }, "r.io", "c"),
      /does not decode to user:password/,
    );
  });
});

describe("WWW-Authenticate parsing", () => {
  test("reads Bearer parameters with quoted commas and several challenges", () => {
    assert.deepEqual(
      parseChallenges('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"'),
      [
        {
          scheme: "bearer",
          params: { realm: "https://auth.example.com/token", service: "registry.example.com", scope: "repository:a/b:pull,push" },
        },
      ],
    );
    assert.deepEqual(
      parseChallenges('Basic realm="x", Bearer realm="y"').map((c) => [c.scheme, c.params.realm]),
      [
        ["basic", "x"],
        ["bearer", "y"],
      ],
    );
  });
});
