// Where a command's output goes, as gh's IOStreams: commands write through a CliIO, never to
// process.stdout/stderr directly, so tests run main() with capturing streams and no globals.
//
// stdout carries the result (text, or one JSON document with --json); stderr carries notes and
// progress, silenced by --quiet. Colour only on a terminal and never under NO_COLOR.

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** The global output flags (declared once, on the root command). */
export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
}

/** A command's view of its output: notes, progress and the result, as the flags say. */
export class Output {
  constructor(
    readonly io: CliIO,
    readonly flags: OutputFlags = {},
  ) {}

  /** Whether stdout may carry ANSI colour. */
  get color(): boolean {
    return !!this.io.stdout.isTTY && !this.flags.json && noColor(this.io.env) === false;
  }

  /** Where progress bars and notes go, or null with --quiet. */
  get progressStream(): OutStream | null {
    return this.flags.quiet ? null : this.io.stderr;
  }

  /** A line for the person watching (stderr): what is happening, what was chosen. */
  note(line: string): void {
    if (!this.flags.quiet) this.io.stderr.write(`${line}\n`);
  }

  /** A warning (stderr), shown even with --quiet. */
  warn(line: string): void {
    this.io.stderr.write(`nnlock: warning: ${line}\n`);
  }

  /**
   * The command's result: with --json, `value` as one JSON document on stdout; otherwise the text
   * lines. --quiet does not silence a result: it is what the command was run for.
   */
  result(value: unknown, text: string | readonly string[]): void {
    if (this.flags.json) {
      this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    }
    const lines = typeof text === 'string' ? [text] : text;
    for (const l of lines) this.io.stdout.write(`${l}\n`);
  }
}

/** NO_COLOR (https://no-color.org): set and non-empty means no colour. */
export function noColor(env: Record<string, string | undefined>): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

/** Adds the output flags every command has: --json (the result as JSON) and -q/--quiet. */
export function withOutputFlags<C extends { option(flags: string, description: string): C }>(cmd: C): C {
  return cmd.option('--json', 'print the result as one JSON document on stdout').option('-q, --quiet', 'no notes or progress on stderr');
}
