// junit.xml checked by libxml2's validator against the structure JUnit readers
// accept (test/fixtures/junit.xsd).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';

export function expectValidJunit(file: string): void {
  const lint = spawnSync('xmllint', ['--noout', '--schema', join(import.meta.dirname, '..', 'fixtures', 'junit.xsd'), file], { encoding: 'utf8' });
  expect(lint.error, 'xmllint is needed: apt-get install -y libxml2-utils').toBeUndefined();
  expect(lint.stderr).toContain('validates');
  expect(lint.status).toBe(0);
}
