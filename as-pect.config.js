// as-pect configuration for the SDK's AssemblyScript unit tests (tests/assembly, see its README).
// Each *.spec.ts is compiled to its own module with as-pect.asconfig.json and linked to a fresh mock
// proxy-wasm host (tests/assembly/mock-host.js) that provides the SDK's env.proxy_* imports.
// ASPECT_FILES=a.spec.ts,b.spec.ts runs only those files (as-pect's own -t/-g filters do not work).
import { createMockHost } from "./tests/assembly/mock-host.js";

const only = process.env.ASPECT_FILES;

export default {
  entries: only ? only.split(",") : ["tests/assembly/**/*.spec.ts"],
  include: ["tests/assembly/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    const host = createMockHost();
    const result = await instantiate(binary, createImports(host.imports));
    host.attach(result.instance.exports);
    return result;
  },
  outputBinary: false,
};
