// The command names and flags of nnlock 0.1, kept working for one version. An old command line
// is rewritten to the new grammar before parsing, and a note on stderr says where it moved, so
// scripts written against 0.1 keep running and their authors learn the new form.

export interface MovedCommand {
  /** The old words, e.g. ['train']. */
  from: readonly string[];
  /** The new words, e.g. ['model', 'train']. */
  to: readonly string[];
  /** Only when the word after `from` is none of these (`protect MODEL` moved, `protect lock` did not). */
  unlessNext?: readonly string[];
  /** Flags renamed in this command: old spelling → new spelling (long or short forms). */
  flags?: Readonly<Record<string, string>>;
}

/** The version after which the old forms stop working. */
export const LEGACY_UNTIL = '0.3.0';

export interface Rewritten {
  args: string[];
  /** What moved, one line each, for stderr. */
  notes: string[];
}

/** Rewrites `args` (after `nnlock`) by the first entry of `moved` whose old words start it. */
export function rewriteLegacy(args: readonly string[], moved: readonly MovedCommand[]): Rewritten {
  for (const m of moved) {
    if (!m.from.every((w, i) => args[i] === w)) continue;
    const next = args[m.from.length];
    if (m.unlessNext && next !== undefined && (m.unlessNext.includes(next) || next.startsWith('-'))) continue;
    const notes: string[] = [];
    const sameWords = m.from.length === m.to.length && m.from.every((w, i) => w === m.to[i]);
    if (!sameWords) notes.push(`\`nnlock ${m.from.join(' ')}\` is now \`nnlock ${m.to.join(' ')}\` (the old form works until ${LEGACY_UNTIL})`);
    const rest = args.slice(m.from.length).map((a) => {
      if (!m.flags || !a.startsWith('-')) return a;
      const eq = a.indexOf('=');
      const flag = eq < 0 ? a : a.slice(0, eq);
      const renamed = m.flags[flag];
      if (!renamed) return a;
      notes.push(`\`${flag}\` of \`nnlock ${m.from.join(' ')}\` is now \`${renamed}\` of \`nnlock ${m.to.join(' ')}\``);
      return eq < 0 ? renamed : `${renamed}${a.slice(eq)}`;
    });
    return { args: [...m.to, ...rest], notes };
  }
  return { args: [...args], notes: [] };
}
