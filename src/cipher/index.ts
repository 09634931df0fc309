// Block-wise image encryption (a Hill cipher per k×k block and channel): keys, key files, the
// cipher, encrypted files and datasets, and pictures of ciphertexts. Attacks on it are in src/attacks; learning on its
// ciphertext is in src/er.
export * from './key.ts';
export * from './key-file.ts';
export * from './hill.ts';
export * from './data.ts';
export * from './files.ts';
export * from './pictures.ts';
