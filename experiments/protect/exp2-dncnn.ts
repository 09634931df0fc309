import type { RunContext, Section } from './common.ts';
export async function runExp2(_ctx: RunContext): Promise<Section> { throw new Error('todo'); }
