// `proxy-wasm-as image <filter.wasm> --out <dir>`: package a module as a Wasm OCI image in an OCI
// image layout directory, reproducibly (the same module and flags give the same digest).
import type { Command } from "commander";
import { addBuildOptions, parseBuildFlags, type BuildFlags } from "../oci/cli-options.js";
import { buildImage } from "../oci/image.js";
import { checkTag, writeOciLayout } from "../oci/layout.js";
import { readWasmModule } from "../oci/wasm-input.js";

interface ImageFlags extends BuildFlags {
  out: string;
  tag: string;
  verify: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("image")
    .description("package a filter as a Wasm OCI image (an OCI image layout directory) that Istio and Envoy Gateway can load")
    .argument("<filter.wasm>", "the module to package")
    .requiredOption("-o, --out <dir>", "directory for the OCI image layout (new, empty, or an existing layout)")
    .option("-t, --tag <tag>", "name of the image inside the layout", "latest");
  addBuildOptions(cmd)
    .option("--no-verify", "package the module even if `proxy-wasm-as verify` finds problems")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      "\nThe digest is reproducible: it depends only on the module bytes and the flags above.\n" +
        "Copy the layout to a registry with `skopeo copy oci:DIR:TAG docker://REGISTRY/REPO:TAG`,\n" +
        "or push directly with `proxy-wasm-as push`.",
    )
    .action(async (file: string, flags: ImageFlags) => {
      const tag = checkTag(flags.tag);
      const build = parseBuildFlags(flags);
      const input = await readWasmModule(file, { verify: flags.verify, warn: (l) => process.stderr.write(`${l}\n`) });
      const image = await buildImage(input.bytes, { ...build, abiVersion: input.abiVersion });
      const result = await writeOciLayout(flags.out, image, tag);
      if (flags.json) {
        process.stdout.write(
          JSON.stringify({
            layout: flags.out,
            tag,
            variant: image.variant,
            digest: image.digest,
            manifestSize: image.manifestBytes.length,
          }) + "\n",
        );
        return;
      }
      process.stdout.write(
        `wrote OCI image layout ${flags.out} (${image.variant} variant, tag ${tag}${result.kept ? `, ${result.kept} other image(s) kept` : ""})\n` +
          `digest: ${image.digest}\n`,
      );
    });
}
