// `proxy-wasm-as envoy -c envoy.yaml`: serve an Envoy configuration's listeners, routes, clusters
// and Wasm filters locally, without an Envoy binary. See docs/envoy.md.
import type { Command } from "commander";
import { UserError } from "../errors.js";
import { startEnvoy } from "../envoy/server.js";
import { LOG_LEVEL_NAMES } from "../run/options.js";

interface EnvoyFlags {
  configPath?: string;
  logLevel: string;
  watch?: boolean;
  concurrency?: string;
}

export function register(program: Command): void {
  program
    .command("envoy")
    .description("serve an Envoy configuration (envoy.yaml: listeners, routes, clusters, Wasm filters) with the Envoy-like host")
    .option("-c, --config-path <file>", "the Envoy bootstrap configuration, YAML or JSON (Envoy's -c)")
    .option("-l, --log-level <level>", `lowest log level printed and reported to the filters: ${LOG_LEVEL_NAMES.join(", ")}`, "info")
    .option("--concurrency <n>", "worker threads (Envoy's flag), each with its own VM per filter", "1")
    .option("--watch", "reload when the configuration or a module changes; streams in flight finish on the old one")
    .action(async (flags: EnvoyFlags) => {
      if (!flags.configPath) throw new UserError("envoy needs a configuration: proxy-wasm-as envoy -c envoy.yaml");
      const concurrency = Number(flags.concurrency ?? "1");
      if (!/^\d+$/.test(flags.concurrency ?? "1") || concurrency < 1 || concurrency > 64) {
        throw new UserError(`--concurrency ${flags.concurrency}: give a whole number of worker threads from 1 to 64`);
      }
      const envoy = await startEnvoy({ config: flags.configPath, logLevel: flags.logLevel, watch: flags.watch === true, concurrency });
      const where = envoy.listeners.map((l) => `${l.name} ${l.url}`).join(", ");
      process.stderr.write(
        `proxy-wasm-as: serving ${flags.configPath}: ${where}${envoy.admin ? `; admin ${envoy.admin.url}` : ""}${flags.watch ? " (watching for changes)" : ""}\n`,
      );
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) process.exit(130);
          stopping = true;
          process.stderr.write(`proxy-wasm-as: ${signal}: shutting down (requests in flight get 2s)\n`);
          envoy.close().then(
            () => {
              setTimeout(() => process.exit(0), 1000).unref();
              resolve();
            },
            () => resolve(),
          );
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
