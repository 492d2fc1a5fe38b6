import { describe, expect, it } from 'vitest';
import { settingsReadmes } from './settings-docs.ts';

describe('README settings tables', () => {
  it.each(settingsReadmes().map((r) => [r.readme, r] as const))(
    '%s matches its config.ts (else run npm run docs:settings)',
    (_, { current, wanted }) => {
      expect(current).toBe(wanted);
    },
  );
});
