// Decoys for a layer that keeps (almost) none of its genuine kernels, as in the dense-front mode,
// which seals every kernel of the front layers. Every other mode imitates the kernels that stay
// genuine; with fewer than two left they would have to imitate the sealed ones, and publish
// functions of the secret: 'resample' would publish each sealed kernel turned by about 45° (a
// cosine of about 0.7 with the original), 'joint', 'context' and 'position' the sealed kernels'
// mean and covariance. Such a layer gets what a freshly built PyTorch layer holds instead:
// kaiming_uniform_(a = √5), i.e. U(−1/√fan_in, 1/√fan_in) with fan_in = B·kh·kw, from the keyed
// stream. It tells nothing but the layer's shape, which the file's header names anyway, and a thief
// who starts from it starts where training from scratch does.

/** The part of the keyed stream this draw needs. */
export interface UniformSource {
  uniform(n: number): Float64Array;
}

/** `count` decoy kernels of kh·kw values for a layer of weight shape [A, B, kh, kw]. */
export function freshInitDecoys(shape: readonly [number, number, number, number], count: number, source: UniformSource): Float64Array {
  const [, b, kh, kw] = shape;
  const bound = 1 / Math.sqrt(b * kh * kw);
  const u = source.uniform(count * kh * kw);
  return u.map((v) => (2 * v - 1) * bound);
}
