/**
 * An error caused by the user's input (a flag, a file, a config, a registry's answer). The CLI
 * prints its message as one line, `proxy-wasm-as: <message>`, and exits with `exitCode`, without
 * a stack trace. The message names the problem and what to do about it.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = "UserError";
  }
}
