// Numbers of Envoy's host that are part of what a module sees, beside the ABI table.

/** WASI errno a stub answers. */
export const WASI_ENOSYS = 52;

/** Limits Envoy's host applies to guest-supplied maps (proxy-wasm-cpp-host limits.h). */
export const MAX_MAP_BYTES = 1024 * 1024;
export const MAX_MAP_PAIRS = 1024;
export const MAX_RANDOM_BYTES = 64 * 1024;
