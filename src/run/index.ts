// proxy-wasm-as run: a local HTTP/1.1 reverse proxy around a proxy-wasm filter. See docs/run.md.
export { startProxy, MAX_HEADER_BYTES } from "./proxy.js";
export type { ProxyOptions, RunningProxy, ReloadEvent } from "./proxy.js";
export type { ExchangeSummary } from "./exchange-legs.js";
export { LOG_LEVEL_NAMES, DEFAULT_BUFFER_LIMIT, DEFAULT_LISTEN, DEFAULT_TIMEOUT_MS } from "./options.js";
export type { LogLevelName } from "./options.js";
