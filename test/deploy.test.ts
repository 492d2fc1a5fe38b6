import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadBrokerConfig } from '../broker/index.ts';
import { verifyPassword } from '../lib/credentials.ts';
import { loadRulesConfig } from '../rules/index.ts';

const root = join(import.meta.dirname, '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { environment?: Record<string, string>; command?: string[] }>;
};

/** `${VAR:-default}` → default: what compose uses when the environment sets nothing. */
const composeDefault = (value: string | undefined) => /:-([^}]*)\}/.exec(value ?? '')?.[1];

describe('deploy/ configs mounted by docker-compose.yml', () => {
  it('the broker accounts accept the services’ development passwords from docker-compose.yml', async () => {
    const config = loadBrokerConfig({ file: join(root, 'deploy/broker.yaml'), env: {} });
    const byName = new Map(config.accounts.map((a) => [a.username, a]));
    const logins = [
      [
        compose.services.ingest!.environment!.CW_MQTT_USERNAME,
        compose.services.ingest!.environment!.CW_MQTT_PASSWORD,
      ],
      [
        compose.services.rules!.environment!.CW_MQTT_USERNAME,
        compose.services.rules!.environment!.CW_MQTT_PASSWORD,
      ],
      [
        compose.services.sim!.environment!.CW_SIM_NAP_USERNAME,
        compose.services.sim!.environment!.CW_SIM_NAP_PASSWORD,
      ],
    ];
    for (const [userRef, passwordRef] of logins) {
      const username = composeDefault(userRef) ?? userRef!;
      const account = byName.get(username);
      expect(account, `account ${username}`).toBeDefined();
      expect(await verifyPassword(composeDefault(passwordRef)!, account!.passwordHash)).toBe(true);
    }
    expect(compose.services.broker!.command).toContain('/config/broker.yaml');
  });

  it('the rules config parses and gives the page a caregiver and a supervisor token', () => {
    const config = loadRulesConfig({
      file: join(root, 'deploy/rules.yaml'),
      env: {},
      overrides: { fleetFile: '/fleet/fleet.yaml', channels: { history: { enabled: false } } },
    });
    expect(config.http.tokens.map((t) => t.role).sort()).toEqual(['caregiver', 'supervisor']);
    expect(compose.services.rules!.command).toContain('/config/rules.yaml');
  });
});
