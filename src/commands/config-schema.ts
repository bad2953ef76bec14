// `proxy-wasm-as config-schema <filter.wasm>`: print the JSON Schema of the filter's configuration
// that `build` embedded from config.schema.json (docs/config-schema.md).
import type { Command } from "commander";
import { embeddedConfigSchema } from "../config-schema/section.js";
import { checkConfigAgainstModule } from "../config-schema/validate.js";
import { readWasmModule } from "../oci/wasm-input.js";
import { UserError } from "../errors.js";
import { readConfigArg } from "../run/options.js";

export function register(program: Command): void {
  program
    .command("config-schema")
    .description("print the JSON Schema of a filter's configuration (embedded by build from config.schema.json)")
    .argument("<filter.wasm>", "the built module")
    .option("--check <json|@file>", "instead of printing the schema, check this configuration against it")
    .action(async (file: string, flags: { check?: string }) => {
      const { bytes } = await readWasmModule(file, { verify: false });
      const schema = embeddedConfigSchema(bytes);
      if (schema === null) {
        throw new UserError(
          `${file} declares no configuration schema: put a config.schema.json beside the filter's entry .ts and build again`,
        );
      }
      if (flags.check !== undefined) {
        checkConfigAgainstModule(bytes, await readConfigArg(flags.check, "--check"), "--check", file);
        process.stdout.write(`the configuration matches the schema of ${file}\n`);
        return;
      }
      process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    });
}
