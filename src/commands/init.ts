// `proxy-wasm-as init <dir> [--template name]`
import type { Command } from "commander";
import path from "node:path";
import { UserError } from "../errors.js";
import { DEFAULT_TEMPLATE, initProject, listTemplates } from "../init/init.js";

export function register(program: Command): void {
  program
    .command("init")
    .description("create a filter project from a template (an example): filter, test, envoy.yaml, WasmPlugin")
    .argument("[dir]", "a new or empty folder (not needed with --list)")
    .option("-t, --template <name>", `the example to start from (default: ${DEFAULT_TEMPLATE})`)
    .option(
      "--sdk <spec>",
      "the proxy-wasm-as dependency of the project: a version range, a tarball or file:<folder> (default: where this CLI came from)",
    )
    .option("--list", "list the templates and exit")
    .action(async (dir: string | undefined, opts: { template?: string; sdk?: string; list?: boolean }) => {
      if (opts.list) {
        process.stdout.write((await listTemplates()).join("\n") + "\n");
        return;
      }
      if (dir === undefined) throw new UserError("init needs the folder to create: proxy-wasm-as init <dir> (or --list for the templates)");
      const r = await initProject({ dir, template: opts.template, sdk: opts.sdk });
      const rel = path.relative(process.cwd(), r.dir) || ".";
      process.stdout.write(
        `created ${rel} (${r.name}, from the ${r.template} template): ${r.files.join(", ")}\n` +
          `proxy-wasm-as dependency: ${r.sdk.spec}\n\n  cd ${rel}\n  npm install && npm test\n`,
      );
    });
}
