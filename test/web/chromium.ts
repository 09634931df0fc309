// Debian's chromium for the browser tests, driven by playwright-core (no browser download).
// setup.sh installs chromium, so a test skips only where it truly is absent, and says so.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.NNLOCK_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `chromium not found at ${CHROMIUM} (scripts/setup.sh installs it with apt; NNLOCK_CHROMIUM names another)`;
}

/** Headless chromium; --no-sandbox because the tests may run as root (in containers and CI). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}
