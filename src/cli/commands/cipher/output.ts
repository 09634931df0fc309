// The text result of `nnlock cipher encrypt|decrypt`.
import type { FileSetResult } from '../../../cipher/files.ts';

export function fileSetLines(verb: string, r: FileSetResult, detail: string): string[] {
  if (r.mode === 'dataset') {
    const rate = r.seconds > 0 ? `; ${r.seconds.toFixed(1)} s, ${(r.count / r.seconds).toFixed(0)} images/s` : '';
    return [`${verb} ${r.count} images into ${r.output}${detail}${rate}`];
  }
  return r.files.map((f) => `${f.input} (${f.height}×${f.width}) → ${f.output}`);
}
