// Input normalisation: the per-channel mean and std a classifier was trained with. A weights file
// carries them in its metadata (input_mean / input_std, comma-separated), so whoever evaluates or
// serves the model feeds it inputs scaled exactly as in training.

export interface Normalisation {
  mean: number[];
  std: number[];
}

/** CIFAR-10 statistics: the normalisation of models trained by nnlock, and the default. */
export const CIFAR10_NORMALISATION: Readonly<Normalisation> = Object.freeze({
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.247, 0.2435, 0.2616],
});

/**
 * The normalisation a weights file records, with `override` taking precedence per field and
 * CIFAR-10's statistics for what neither says.
 */
export function normalisationFrom(metadata: Record<string, string>, override: Partial<Normalisation> = {}): Normalisation {
  return {
    mean: override.mean ?? parseTriple(metadata.input_mean, 'input_mean') ?? [...CIFAR10_NORMALISATION.mean],
    std: override.std ?? parseTriple(metadata.input_std, 'input_std') ?? [...CIFAR10_NORMALISATION.std],
  };
}

/** The metadata entries that record a normalisation in a weights file. */
export function normalisationMetadata(n: Normalisation): Record<string, string> {
  return { input_mean: n.mean.join(','), input_std: n.std.join(',') };
}

function parseTriple(text: string | undefined, what: string): number[] | undefined {
  if (text === undefined) return undefined;
  const v = text.split(',').map(Number);
  // One value per input channel: three for colour models, one for grayscale ones (Fashion-MNIST).
  if ((v.length !== 3 && v.length !== 1) || v.some((x) => !Number.isFinite(x)))
    throw new Error(`${what} in the weights file must be three (or, for a grayscale model, one) comma-separated numbers, got '${text}'`);
  return v;
}
