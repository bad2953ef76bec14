// AssemblyScript entry of the package: `import { ... } from "proxy-wasm-as"` resolves here.
export * from "./assembly/index";
