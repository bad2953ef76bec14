// `build` embeds the filter's configuration schema: a `config.schema.json` beside the entry file is
// checked (JSON, and valid JSON Schema) and stored in the module's proxy-wasm-as.config-schema
// custom section, where `manifest`, `run` and `config-schema` read it.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { appendCustomSection, CONFIG_SCHEMA_SECTION } from "../config-schema/section.js";
import { compileConfigSchema } from "../config-schema/validate.js";
import { UserError } from "../errors.js";

export const CONFIG_SCHEMA_FILE = "config.schema.json";

/** `wasm` with the schema beside `entry` embedded (compact JSON), or `wasm` as it is when there is none. */
export async function embedConfigSchema(entry: string, wasm: Uint8Array<ArrayBuffer>): Promise<{ wasm: Uint8Array<ArrayBuffer>; schemaFile?: string }> {
  const file = path.join(path.dirname(entry), CONFIG_SCHEMA_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { wasm };
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let schema: Record<string, unknown> | boolean;
  try {
    schema = JSON.parse(text) as Record<string, unknown> | boolean;
  } catch (err) {
    throw new UserError(`${file} is not JSON (${(err as Error).message.split("\n")[0]}); it must hold the JSON Schema of the filter's configuration`);
  }
  compileConfigSchema(schema, file);
  return { wasm: appendCustomSection(wasm, CONFIG_SCHEMA_SECTION, Buffer.from(JSON.stringify(schema), "utf8")), schemaFile: file };
}
