export * from './config.ts';
export * from './fleet.ts';
export * from './ids.ts';
export * from './parse.ts';
export * from './payloads.ts';
export * from './reasons.ts';
export * from './topics.ts';
export * from './alerts.ts';
