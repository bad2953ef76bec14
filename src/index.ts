// proxy-wasm-as for Node: the build wrapper, the verifier and the ABI table. The Envoy-like host for
// tests is `proxy-wasm-as/host`; the AssemblyScript SDK is what filters import as "proxy-wasm-as".
export { buildFilter, defaultOutFile } from "./build/build.js";
export type { BuildOptions, BuildResult } from "./build/build.js";
export { verifyModule, formatVerifyResult } from "./verify.js";
export type { VerifyResult, Problem } from "./verify.js";
export { parseModule } from "./wasm/binary.js";
export * as abi from "./abi.js";
export { UserError } from "./errors.js";
