// `nnlock cipher keygen|encrypt|decrypt`: block-wise Hill-cipher keys, and encryption of images
// and CIFAR-10 files. The attacks on the cipher are `nnlock attack ...` (commands/attack/).
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerKeygen } from './keygen.ts';
import { registerEncrypt } from './encrypt.ts';
import { registerDecrypt } from './decrypt.ts';

/**
 * 0.1 forms: `cipher keygen -k` (the block size; -k meant a key file elsewhere). Also `nnlock demo
 * --images` (now --limit): main.ts reads the nouns' lists, and the demo lives with the cipher.
 */
export const legacyCipher: MovedCommand[] = [
  { from: ['cipher', 'keygen'], to: ['cipher', 'keygen'], flags: { '-k': '--block' } },
  { from: ['demo'], to: ['demo'], flags: { '--images': '--limit' } },
];

export function registerCipher(program: Command, io: CliIO): void {
  const cipher = program.command('cipher').description('block-wise Hill-cipher image encryption: keys, encryption and decryption (attacks: nnlock attack)');
  registerKeygen(cipher, io);
  registerEncrypt(cipher, io);
  registerDecrypt(cipher, io);
}
