// Attacks on the block cipher and on what a trained model leaks: known-plaintext key recovery,
// ciphertext-only recovery from image statistics, learned decryption, and the key assessment.
export * from './known-plaintext.ts';
export * from './statistical.ts';
export * from './learned.ts';
export * from './assess.ts';
