// access_log entries of a connection manager or tcp_proxy: one formatted line per request or
// connection to stdout, stderr or a file.
import { appendFileSync } from "node:fs";
import type { AccessLogConfig } from "./config/types.js";
import { compileFormat, renderLog, type FormatContext } from "./format.js";

export interface LogSinks {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

export class AccessLog {
  private readonly pieces: ReturnType<typeof compileFormat>;
  private readonly write: (line: string) => void;

  constructor(config: AccessLogConfig, sinks: LogSinks) {
    this.pieces = compileFormat(config.format, "access_log");
    if (config.to === "stdout") this.write = sinks.stdout;
    else if (config.to === "stderr") this.write = sinks.stderr;
    else {
      const file = config.to;
      this.write = (line) => {
        try {
          appendFileSync(file, line);
        } catch {
          // Envoy drops log lines it cannot write; so do we.
        }
      };
    }
  }

  log(c: FormatContext): void {
    const line = renderLog(this.pieces, c);
    this.write(line.endsWith("\n") ? line : line + "\n");
  }
}
