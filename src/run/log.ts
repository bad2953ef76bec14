// What `proxy-wasm-as run` prints on stderr: the filter's log messages (with level and context id),
// the proxy's own notes and one access line per request. Colour only on a terminal.
import type { LogEntry } from "../host/types.js";
import { LOG_LEVEL_NAMES } from "./options.js";

const COLORS = ["\x1b[2m", "\x1b[36m", "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[1;35m"];
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";

export interface LoggerOptions {
  /** Lowest level printed (LogLevel value). */
  level: number;
  /** Where lines go (default: stderr). Each call gets one line ending in "\n". */
  write?: (line: string) => void;
  /** ANSI colours (default: stderr is a terminal and NO_COLOR is not set). */
  color?: boolean;
  /** Name shown for filter messages (the module's file name). */
  filterName: string;
  /** Print one line per finished request at info level (default true). */
  accessLog?: boolean;
}

export class Logger {
  readonly level: number;
  private readonly write: (line: string) => void;
  private readonly color: boolean;
  private readonly accessLog: boolean;
  filterName: string;

  constructor(opts: LoggerOptions) {
    this.level = opts.level;
    this.write = opts.write ?? ((line) => process.stderr.write(line));
    this.color = opts.color ?? (!!process.stderr.isTTY && !process.env.NO_COLOR);
    this.accessLog = opts.accessLog ?? true;
    this.filterName = opts.filterName;
  }

  enabled(level: number): boolean {
    return level >= this.level;
  }

  /** A message logged by the module (or by the host about the module). */
  filter(e: LogEntry): void {
    if (e.level < this.level) return;
    const who = e.contextId > 0 ? `${this.filterName} #${e.contextId}` : this.filterName;
    this.line(e.level, `${who}${e.vm > 0 ? ` (vm ${e.vm})` : ""}: ${e.message}`);
  }

  /** A note from the proxy itself. */
  proxy(level: number, message: string): void {
    if (level < this.level) return;
    this.line(level, `proxy: ${message}`);
  }

  /** One finished request. */
  access(method: string, path: string, status: number | string, outcome: string, ms: number): void {
    if (!this.accessLog || 2 < this.level) return;
    const text = `${method} ${path} ${status} ${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms ${outcome}`;
    this.line(2, this.color ? `${DIM}access:${RESET} ${text}` : `access: ${text}`);
  }

  private line(level: number, text: string): void {
    const name = (LOG_LEVEL_NAMES[level] ?? String(level)).padEnd(8);
    const time = new Date().toISOString().slice(11, 23);
    const oneLine = text.replace(/\r?\n/g, "\\n");
    if (this.color) this.write(`${DIM}${time}${RESET} ${COLORS[level] ?? ""}${name}${RESET} ${oneLine}\n`);
    else this.write(`${time} ${name} ${oneLine}\n`);
  }
}
