// The CLI's two kinds of failure: a usage error (the command line is wrong: exit 2, with a hint
// to run --help) and a failure (the command ran and could not do it: exit 1). Commander's own
// parse errors count as usage errors.

export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
