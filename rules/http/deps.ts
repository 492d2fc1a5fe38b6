import type { AlertService } from '../../protocol/alerts.ts';
import type { FleetIndex } from '../../protocol/fleet.ts';
import type { Logger } from '../../lib/logger.ts';
import type { OpsSource } from '../../lib/ops/index.ts';
import type { SseHub } from '../channels/sse.ts';
import type { BoardService } from '../contracts.ts';
import type { Access } from './access.ts';
import type { HttpConfig } from './config.ts';

export interface HttpDeps {
  alerts: AlertService;
  board: BoardService;
  fleet: () => FleetIndex;
  log: Logger;
  /** The services `/healthz` and `/metrics` answer for: the rules first, then any sharing the process. */
  ops: [OpsSource, ...OpsSource[]];
}

/** What each /api route plugin is registered with. */
export interface RouteOptions {
  config: HttpConfig;
  deps: HttpDeps;
  access: Access;
  hub: SseHub;
}
