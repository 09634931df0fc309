// Attacks on the block cipher and on what a trained model leaks: known-plaintext key recovery,
// ciphertext-only recovery from image statistics, learned decryption, and the key assessment;
// each algorithm on tensors, and its workflow on files (what `nnlock attack <verb>` runs).
export * from './known-plaintext.ts';
export * from './known-plaintext-files.ts';
export * from './statistical.ts';
export * from './statistical-attack.ts';
export * from './learned.ts';
export * from './learned-attack.ts';
export * from './assess.ts';
export * from './report.ts';
export * from './image-input.ts';
export * from './er-weights.ts';
export * from './er-weights-files.ts';
