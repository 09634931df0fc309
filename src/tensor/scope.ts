// Scopes free what was created inside them. The garbage collector does not see native memory,
// so long loops must not rely on it: wrap each step in scope(), return what you need, keep()
// what must outlive every scope.
//
// AsyncLocalStorage carries the current scope through awaits, so scope() works for sync and
// async functions alike, and concurrent async scopes do not see each other's tensors.
import { AsyncLocalStorage } from 'node:async_hooks';

/** Anything a scope can own: tensors, and objects that hold tensors. */
export interface Tracked {
  owner: Scope | null;
  dispose(): void;
}

export class Scope {
  private readonly items = new Set<Tracked>();
  constructor(readonly parent: Scope | null) {}

  adopt(t: Tracked): void {
    if (t.owner === this) return;
    t.owner?.items.delete(t);
    t.owner = this;
    this.items.add(t);
  }

  release(t: Tracked): void {
    if (t.owner === this) {
      this.items.delete(t);
      t.owner = null;
    }
  }

  get size(): number {
    return this.items.size;
  }

  /** Disposes everything owned except `survivors`, which move to the parent scope (or to no scope). */
  close(survivors: Set<Tracked>): void {
    for (const t of this.items) {
      if (survivors.has(t)) {
        t.owner = null;
        if (this.parent) this.parent.adopt(t);
      } else {
        t.owner = null;
        t.dispose();
      }
    }
    this.items.clear();
  }
}

const storage = new AsyncLocalStorage<Scope>();

export function currentScope(): Scope | null {
  return storage.getStore() ?? null;
}

/** Called by every new tensor: the innermost scope takes ownership. */
export function track(t: Tracked): void {
  const s = storage.getStore();
  if (s) s.adopt(t);
}

/** Takes a tensor (or several) out of every scope: the caller now owns it and must dispose it. */
export function keep<T>(value: T): T {
  for (const t of collect(value)) t.owner?.release(t);
  return value;
}

function isTracked(v: unknown): v is Tracked {
  return typeof v === 'object' && v !== null && 'owner' in v && typeof (v as Tracked).dispose === 'function';
}

/** Tracked objects reachable from a returned value: arrays, plain objects and Maps are searched. */
function collect(value: unknown, out = new Set<Tracked>(), seen = new Set<unknown>()): Set<Tracked> {
  if (typeof value !== 'object' || value === null || seen.has(value)) return out;
  seen.add(value);
  if (isTracked(value)) {
    out.add(value);
    return out;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
  return out;
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as PromiseLike<unknown>).then === 'function';
}

/**
 * Runs fn in a new scope. Tensors created inside are disposed when it ends, except those in the
 * returned value (searched through arrays, plain objects and Maps), which pass to the enclosing
 * scope. Works with async functions: the scope ends when the promise settles.
 */
export function scope<T>(fn: () => T): T {
  const s = new Scope(currentScope());
  let result: T;
  try {
    result = storage.run(s, fn);
  } catch (e) {
    s.close(new Set());
    throw e;
  }
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (v) => {
        s.close(collect(v));
        return v;
      },
      (e) => {
        s.close(new Set());
        throw e;
      },
    ) as T;
  }
  s.close(collect(result));
  return result;
}
