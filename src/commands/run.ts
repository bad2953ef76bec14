// `proxy-wasm-as run <filter.wasm | entry.ts>`: serve a filter as a local HTTP/1.1 reverse proxy.
import type { Command } from "commander";
import { startProxy } from "../run/proxy.js";
import { DEFAULT_LISTEN, LOG_LEVEL_NAMES } from "../run/options.js";

interface RunFlags {
  upstream?: string;
  listen: string;
  config?: string;
  rootId?: string;
  vmId?: string;
  vmConfig?: string;
  cluster: string[];
  failOpen?: boolean;
  logLevel: string;
  watch?: boolean;
  debug?: boolean;
  timeout?: string;
  bufferLimit?: string;
  accessLog: boolean;
  timeLimit: string;
  maxMemory: string;
  maxLogMessage: string;
  maxLogPerStream: string;
  maxHeaders: string;
  maxRequestHeaders: string;
}

export function register(program: Command): void {
  program
    .command("run")
    .description("serve a filter as a local HTTP/1.1 reverse proxy, run by the Envoy-like host")
    .argument("<filter>", "the filter: a .wasm module, or its AssemblyScript entry (.ts) to build first")
    .option("--upstream <url>", "where requests the filter lets through go, e.g. http://127.0.0.1:8080 (without it they get a 503)")
    .option("--listen <host:port>", "address to listen on", DEFAULT_LISTEN)
    .option("--config <json|@file>", "plugin configuration (what Envoy's `configuration` / Istio's pluginConfig carries)")
    .option("--root-id <id>", "root_id of the plugin")
    .option("--vm-id <id>", "vm_id (the namespace of shared data and queues)")
    .option("--vm-config <json|@file>", "VM configuration (vm_config.configuration)")
    .option(
      "--cluster <name=url>",
      "a cluster proxy_http_call can reach (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("--fail-open", "let requests through when the filter's VM has failed (default: answer 503)")
    .option("--log-level <level>", `lowest log level printed and reported to the filter: ${LOG_LEVEL_NAMES.join(", ")}`, "info")
    .option("--watch", "rebuild (.ts) or reload (.wasm) on change; requests in flight finish on the old VM")
    .option("--debug", "build a .ts entry without optimization (faster rebuilds, names in traps)")
    .option(
      "--timeout <duration>",
      "route timeout from the end of the request to the end of the upstream response (Envoy: 15s); 0 disables",
      "15s",
    )
    .option("--buffer-limit <bytes>", "bytes the filter may hold per direction (Envoy: 1MiB)", "1MiB")
    .option("--no-access-log", "do not print a line per request")
    .option(
      "--time-limit <duration>",
      "how long one call into the filter may run before its VM is failed (503, or through with --fail-open); 0 = no limit",
      "500ms",
    )
    .option("--max-memory <bytes>", "the filter VM's memory ceiling (Envoy: 1GiB)", "1GiB")
    .option("--max-log-message <bytes>", "bytes of one log message kept (proxy_log or a WASI write)", "64KiB")
    .option("--max-log-per-stream <bytes>", "bytes of log output kept per request", "1MiB")
    .option("--max-headers <count>", "request headers allowed before a 431 (Envoy's max_headers_count)", "100")
    .option("--max-request-headers <bytes>", "bytes of request headers allowed before a 431 (Envoy's max_request_headers_kb)", "60KiB")
    .action(async (filter: string, flags: RunFlags) => {
      const proxy = await startProxy({
        filter,
        upstream: flags.upstream,
        listen: flags.listen,
        config: flags.config,
        vmConfig: flags.vmConfig,
        rootId: flags.rootId,
        vmId: flags.vmId,
        clusters: flags.cluster,
        failOpen: flags.failOpen === true,
        logLevel: flags.logLevel,
        watch: flags.watch === true,
        debug: flags.debug === true,
        timeout: flags.timeout,
        bufferLimit: flags.bufferLimit,
        accessLog: flags.accessLog,
        timeLimit: flags.timeLimit,
        maxMemory: flags.maxMemory,
        maxLogMessage: flags.maxLogMessage,
        maxLogPerStream: flags.maxLogPerStream,
        maxHeaders: flags.maxHeaders,
        maxRequestHeaders: flags.maxRequestHeaders,
      });
      const target = proxy.upstream ?? "(no upstream: requests the filter lets through get 503)";
      process.stdout.write(
        `proxy-wasm-as: serving ${filter} on ${proxy.url} -> ${target}${flags.watch ? " (watching for changes)" : ""}\n`,
      );
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) {
            process.stderr.write(`proxy-wasm-as: ${signal} again, exiting now\n`);
            process.exit(130);
          }
          stopping = true;
          process.stderr.write(`proxy-wasm-as: ${signal}: shutting down (requests in flight get 2s)\n`);
          proxy.close().then(
            () => {
              process.off("SIGINT", stop);
              process.off("SIGTERM", stop);
              // Anything still holding the event loop after a clean close is not worth waiting for.
              setTimeout(() => process.exit(0), 1000).unref();
              resolve();
            },
            (e) => {
              process.stderr.write(`proxy-wasm-as: error while shutting down: ${(e as Error).message}\n`);
              resolve();
            },
          );
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
