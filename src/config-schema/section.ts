// The JSON Schema of a filter's configuration travels inside the module, in a custom section
// named "proxy-wasm-as.config-schema" (UTF-8 JSON). Custom sections do not change what the module
// does: Envoy, V8 and the verifier ignore them, so a module with a schema loads wherever it did.
import { UserError } from "../errors.js";
import { uleb } from "../wasm/reader.js";

export const CONFIG_SCHEMA_SECTION = "proxy-wasm-as.config-schema";

/** `wasm` with a custom section `name` holding `payload` appended at the end. */
export function appendCustomSection(wasm: Uint8Array, name: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const nameBytes = Buffer.from(name, "utf8");
  const body = Buffer.concat([Buffer.from(uleb(nameBytes.length)), nameBytes, payload]);
  return new Uint8Array(Buffer.concat([wasm, Buffer.from([0, ...uleb(body.length)]), body]));
}

/** The payload of the first custom section called `name`, or null when there is none. */
export function readCustomSection(wasm: Uint8Array, name: string): Buffer | null {
  const bytes = Buffer.from(wasm.buffer, wasm.byteOffset, wasm.byteLength);
  let pos = 8;
  const leb = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= bytes.length) throw new UserError("the module is cut short inside a section header");
      const b = bytes[pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new UserError("the module has a malformed section length");
  };
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const size = leb();
    const end = pos + size;
    if (end > bytes.length) throw new UserError("the module is cut short: a section runs past its end");
    if (id === 0) {
      const nameLength = leb();
      if (pos + nameLength <= end && bytes.toString("utf8", pos, pos + nameLength) === name) return bytes.subarray(pos + nameLength, end);
    }
    pos = end;
  }
  return null;
}

/** The configuration schema a module carries (parsed), or null when it has none. */
export function embeddedConfigSchema(wasm: Uint8Array): Record<string, unknown> | boolean | null {
  const payload = readCustomSection(wasm, CONFIG_SCHEMA_SECTION);
  if (payload === null) return null;
  try {
    return JSON.parse(payload.toString("utf8")) as Record<string, unknown> | boolean;
  } catch (err) {
    throw new UserError(`the module's ${CONFIG_SCHEMA_SECTION} section is not JSON (${(err as Error).message}); rebuild the filter`);
  }
}
