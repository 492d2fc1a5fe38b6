import type { Scenario } from './scenario.ts';

/** Every wearable on an MQTT connection of its own: what the broker holds open. */
export const connections: Scenario = {
  fleet: (options) => ({ wearables: options.connections, infantsPerRoom: 10, gateways: false }),
};
