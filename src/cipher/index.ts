// Block-wise image encryption (a Hill cipher per k×k block and channel), keys and key files,
// encrypted files and datasets, Encryption-Robust training (adaptation network + backbone, multi-
// round), and attacks: known-plaintext key recovery, learned decryption, key assessment.
export * from './key.ts';
export * from './key-file.ts';
export * from './hill.ts';
export * from './data.ts';
export * from './multi-round.ts';
export * from './er-model.ts';
export * from './pictures.ts';
export * from './attacks/known-plaintext.ts';
export * from './attacks/learned.ts';
export * from './attacks/assess.ts';
