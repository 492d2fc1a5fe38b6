export { BusView } from './bus-view.ts';
export { type FrontendConfig, frontendConfigSchema, loadFrontendConfig } from './config.ts';
export { type RunningFrontend, startFrontend } from './service.ts';
