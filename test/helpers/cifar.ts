// Synthetic CIFAR-10 binary files for CLI tests (tests never read the shared fixtures).

/** CIFAR-10 binary records: a label byte, then 3×32×32 bytes; class 0 bright, class 1 dark. */
export function cifarBin(count: number, seed: number): Uint8Array {
  const out = new Uint8Array(count * 3073);
  let s = seed;
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    out[i * 3073] = label;
    for (let j = 1; j < 3073; j++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      out[i * 3073 + j] = (label === 0 ? 140 : 20) + (s >>> 25);
    }
  }
  return out;
}
