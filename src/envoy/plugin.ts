// One Wasm plugin of the configuration (an HTTP filter, a network filter or a bootstrap service):
// its module loaded into the Envoy-like host and run by src/run's Instance (ticks, HTTP callouts).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import zlib from "node:zlib";
import { LogLevel, Status } from "../abi.js";
import { UserError } from "../errors.js";
import { createHost, type Host, type SharedState } from "../host/index.js";
import { Instance, type InstanceEnv } from "../run/instance.js";
import { Logger } from "../run/log.js";
import type { WasmPluginConfig } from "./config/types.js";

/** Envoy's built-in foreign functions that need no configuration: zlib compress() and uncompress(). */
const FOREIGN_FUNCTIONS = {
  compress: (args: Uint8Array) => new Uint8Array(zlib.deflateSync(args)),
  uncompress: (args: Uint8Array) => {
    try {
      return new Uint8Array(zlib.inflateSync(args));
    } catch {
      return Status.SerializationFailure; // what Envoy answers for data that does not inflate
    }
  },
};

export interface PluginEnv {
  level: number;
  write: (line: string) => void;
  color?: boolean;
  shared: SharedState;
  instanceEnv: Omit<InstanceEnv, "logger">;
  /** Cluster names callouts may use. */
  clusterNames: string[];
}

/** What to tell a user whose module file is missing. */
function missingModuleHint(file: string): string {
  const dir = path.dirname(file);
  const folder = path.basename(dir) === "build" ? path.dirname(dir) : dir;
  const entry = path.join(folder, "index.ts");
  const rel = path.relative(process.cwd(), entry) || entry;
  return existsSync(entry)
    ? `build it first: npx proxy-wasm-as build ${rel}`
    : "build the filter first (npx proxy-wasm-as build <entry.ts>) or fix the path";
}

/** Reads a plugin's module, with an error naming the configuration field. */
export async function readModule(cfg: WasmPluginConfig): Promise<Uint8Array> {
  const field = `${cfg.path}.vm_config.code.local.filename`;
  try {
    return new Uint8Array(await readFile(cfg.file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const rel = path.relative(process.cwd(), cfg.file) || cfg.file;
    if (code === "ENOENT")
      throw new UserError(`${field}: ${rel} does not exist (paths are relative to the configuration file); ${missingModuleHint(cfg.file)}`);
    throw new UserError(`${field}: cannot read ${rel}: ${code ?? (e as Error).message}`);
  }
}

export class WasmPlugin {
  readonly logger: Logger;

  private constructor(
    readonly config: WasmPluginConfig,
    readonly instance: Instance,
    logger: Logger,
  ) {
    this.logger = logger;
  }

  get label(): string {
    return this.config.name || this.config.rootId || path.basename(this.config.file);
  }

  /** Loads the module and starts the plugin (proxy_on_vm_start, proxy_on_configure). */
  static async start(cfg: WasmPluginConfig, env: PluginEnv, generation = 1, wasm?: Uint8Array): Promise<WasmPlugin> {
    const bytes = wasm ?? (await readModule(cfg));
    const logger = new Logger({
      level: env.level,
      write: env.write,
      color: env.color,
      filterName: cfg.name || cfg.rootId || path.basename(cfg.file),
      accessLog: false,
    });
    let host: Host;
    try {
      host = await createHost({
        wasm: bytes,
        pluginConfig: cfg.configuration,
        vmConfig: cfg.vmConfiguration,
        rootId: cfg.rootId,
        vmId: cfg.vmId,
        pluginName: cfg.name,
        logLevel: env.level,
        failurePolicy: cfg.failOpen ? "fail-open" : "fail-closed",
        upstreams: env.clusterNames,
        reloadOnFailure: true,
        // Past the time limit the VM fails like a trap (503 or fail-open) and the proxy keeps serving.
        onTimeLimit: "fail",
        shared: env.shared,
        env: cfg.env,
        foreignFunctions: FOREIGN_FUNCTIONS,
        onLog: (e) => logger.filter(e),
      });
    } catch (e) {
      throw new UserError(`${cfg.path}: cannot load ${path.relative(process.cwd(), cfg.file) || cfg.file}: ${(e as Error).message}`);
    }
    if (!host.startPlugin()) {
      const f = host.failures[host.failures.length - 1];
      throw new UserError(
        `${cfg.path}: the plugin failed to start: ${f ? `${f.callback}: ${f.message}` : "proxy_on_configure returned false"} (Envoy rejects this configuration too)`,
      );
    }
    const inst = new Instance(host, generation, { ...env.instanceEnv, logger });
    inst.afterAction();
    logger.proxy(LogLevel.Debug, `started ${cfg.path} (${bytes.byteLength} bytes, vm_id ${JSON.stringify(cfg.vmId)})`);
    return new WasmPlugin(cfg, inst, logger);
  }

  close(): void {
    this.instance.close();
  }
}
