// One line on stderr about whose model a command unlocked: signed by the pinned owner (quiet),
// signed but not pinned (a warning: a key holder could have re-signed it), or unsigned (format v1).
import type { Output } from './io.ts';

export interface SignatureFacts {
  signed: boolean;
  signer?: string;
  signerPinned: boolean;
}

export function signatureNote(out: Output, r: SignatureFacts): void {
  if (r.signed && r.signerPinned) out.note(`signed by the owner ${r.signer} (pinned)`);
  else if (r.signed) out.warn(`signed by ${r.signer}, but nothing pins the owner (this key carries no signer): pass --signer <the owner's> to refuse a copy a key holder re-signed`);
  else out.warn('the model is UNSIGNED (format v1): a holder of a key could have modified it; ask the owner to protect it again');
}
