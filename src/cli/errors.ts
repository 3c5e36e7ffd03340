/** The command line was given something it cannot use (a missing file, a bad option value). */
export class InputError extends Error {
  constructor(
    message: string,
    readonly fix?: string
  ) {
    super(fix ? `${message}. Fix: ${fix}.` : message);
    this.name = 'InputError';
  }
}

/** Exit codes of the `scanflow` command. */
export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;
