export {
  brokerConfigSchema,
  loadBrokerConfig,
  BROKER_SETTINGS,
  type BrokerConfig,
  type ServiceAccount,
} from './config.ts';
export { startBroker, type RunningBroker, type BrokerOptions } from './server.ts';
export { canPublish, canSubscribe, type Principal } from './acl.ts';
export type { BrokerStats } from './metrics.ts';
