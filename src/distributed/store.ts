// Store: c10d's TCPStore, the key-value rendezvous every rank meets at. Rank 0 runs the server
// (MASTER_ADDR:MASTER_PORT); the others connect to it, retrying until the timeout.
import { native, type NativeStore } from '../native/index.ts';

export interface StoreOptions {
  host: string;
  /** 0 on the server: any free port (see `port`). */
  port: number;
  worldSize: number;
  isServer: boolean;
  /** How long a client retries connecting, and how long get() waits for a key (default 300 s). */
  timeoutMs?: number;
}

export class Store {
  /** @internal */
  readonly native: NativeStore;

  constructor(o: StoreOptions) {
    this.native = native.c10dTcpStore(o.host, o.port, o.worldSize, o.isServer, o.timeoutMs ?? 300_000);
  }

  /** The port it listens on (server) or is connected to. */
  get port(): number {
    return native.c10dStorePort(this.native);
  }

  set(key: string, value: string): void {
    native.c10dStoreSet(this.native, key, value);
  }

  /** The value of key, waiting for some rank to set it (up to the store's timeout). */
  get(key: string): string {
    return native.c10dStoreGet(this.native, key);
  }

  /** Closes this rank's end. Safe to call twice. */
  destroy(): void {
    native.c10dDestroyStore(this.native);
  }
}
