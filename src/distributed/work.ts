// Work: a collective in flight (c10d's Work). Collectives run on Gloo's threads; the tensors they
// were given must not be read or written until wait() returns.
import { native, type NativeWork } from '../native/index.ts';

export class Work {
  constructor(private readonly work: NativeWork) {}

  /**
   * Blocks until the collective is done. A peer that died or a collective past its timeout throws
   * an Error saying so (Gloo's message: "Connection closed by peer", "Timed out waiting ...").
   * timeoutMs (default: the process group's timeout) bounds this wait only.
   */
  wait(timeoutMs = 0): void {
    native.c10dWait(this.work, timeoutMs);
  }

  /** Whether it has finished (successfully or not), without waiting. */
  get isCompleted(): boolean {
    return native.c10dIsCompleted(this.work);
  }
}
