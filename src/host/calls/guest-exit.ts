/** Thrown by proc_exit and by restricted calls to unwind the guest's stack. */
export class GuestExit extends Error {
  constructor(
    message: string,
    readonly kind: "proc_exit" | "trap",
  ) {
    super(message);
  }
}
