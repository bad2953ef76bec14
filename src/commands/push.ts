// `proxy-wasm-as push <filter.wasm> <registry>/<repo>:<tag>`: build the Wasm image and push it
// through the OCI distribution API (no Docker needed); print the digest to deploy.
import type { Command } from "commander";
import {
  addBuildOptions,
  addRegistryOptions,
  parseBuildFlags,
  registryOptions,
  type BuildFlags,
  type RegistryFlags,
} from "../oci/cli-options.js";
import { buildImage } from "../oci/image.js";
import { pushImage } from "../oci/push.js";
import { parseReference } from "../oci/reference.js";
import { RegistryClient } from "../oci/registry.js";
import { readWasmModule } from "../oci/wasm-input.js";
import { UserError } from "../errors.js";

interface PushFlags extends BuildFlags, RegistryFlags {
  verify: boolean;
  json?: boolean;
  chunkSize?: string;
}

/** Parses a byte count like 4194304, 512KiB, 4MiB, 4M. */
export function parseSize(value: string, flag: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i.exec(value.trim());
  const unit = (m?.[2] ?? "b").toLowerCase();
  const n = m ? Number(m[1]) * (unit.startsWith("k") ? 1024 : unit.startsWith("m") ? 1024 * 1024 : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UserError(`${flag} ${JSON.stringify(value)} must be a positive size in bytes, e.g. 4194304 or 4MiB`);
  }
  return n;
}

export function register(program: Command): void {
  const cmd = program
    .command("push")
    .description("build the Wasm OCI image of a filter and push it to a registry; prints the digest to deploy")
    .argument("<filter.wasm>", "the module to push")
    .argument("<reference>", "where to push it: REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/acme/my-filter:v1");
  addBuildOptions(cmd);
  addRegistryOptions(cmd)
    .option("--chunk-size <bytes>", "upload blobs in chunks of this size (default: each blob in one request)")
    .option("--no-verify", "push the module even if `proxy-wasm-as verify` finds problems")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      "\nCredentials: --username with --password-stdin, else ~/.docker/config.json (credHelpers,\n" +
        "credsStore, auths) as written by `docker login`. Plain-HTTP registries need --insecure.\n" +
        "Deploy the printed REGISTRY/REPOSITORY@sha256:… reference (or its digest as WasmPlugin sha256):\n" +
        "a tag pushed again is not pulled again by proxies that already have it.",
    )
    .action(async (file: string, target: string, flags: PushFlags) => {
      const ref = parseReference(target);
      if (ref.tag === undefined) {
        throw new UserError(
          `${JSON.stringify(target)} has no tag; push to REGISTRY/REPOSITORY:TAG, e.g. ${ref.registry}/${ref.repository}:v1`,
        );
      }
      if (ref.digest) {
        throw new UserError(`${JSON.stringify(target)} names a digest; push to a tag (the digest is computed from the image)`);
      }
      const chunkSize = flags.chunkSize !== undefined ? parseSize(flags.chunkSize, "--chunk-size") : undefined;
      const build = parseBuildFlags(flags);
      const warn = (l: string) => process.stderr.write(`${l}\n`);
      const input = await readWasmModule(file, { verify: flags.verify, warn });
      const image = await buildImage(input.bytes, { ...build, abiVersion: input.abiVersion });
      const client = new RegistryClient(ref, await registryOptions(ref.registry, flags, "pull,push", warn));
      if (!flags.json) warn(`pushing ${image.variant} image ${image.digest} to ${ref.registry}/${ref.repository}:${ref.tag}`);
      const result = await pushImage(client, ref, image, { chunkSize, progress: flags.json ? undefined : warn });
      if (flags.json) {
        process.stdout.write(
          JSON.stringify({
            digest: result.digest,
            reference: result.pinned,
            tag: result.tagged,
            variant: image.variant,
            uploaded: result.uploaded.map((u) => u.digest),
            alreadyPresent: result.alreadyPresent,
          }) + "\n",
        );
        return;
      }
      process.stdout.write(`pushed ${result.tagged}\ndigest: ${result.digest}\nreference: ${result.pinned}\n`);
    });
}
