import { silentLogger } from '../../lib/logger.ts';
import { httpConfigSchema, startHttp } from '../http/index.ts';
import { MemoryAlerts, MemoryBoard, testFleet } from '../http/testing/memory.ts';
import { caregiverPageSuite } from './testing/page-suite.ts';

caregiverPageSuite('memory doubles (dev only)', async () => {
  const alerts = new MemoryAlerts();
  const board = new MemoryBoard(alerts);
  const tokens = { a: 'caregiver-a-token-0001', b: 'caregiver-b-token-0002' };
  const http = await startHttp(
    httpConfigSchema.parse({
      port: 0,
      tokens: [
        { token: tokens.a, role: 'caregiver', center: 'ca', name: 'Ms Li' },
        { token: tokens.b, role: 'caregiver', center: 'cb', name: 'Ms B' },
      ],
    }),
    { alerts, board, fleet: () => testFleet, log: silentLogger },
  );
  let n = 0;
  return {
    url: http.url,
    tokens,
    roomA: { id: 'ca-r1', infantName: '王小明' },
    async pressAlarm() {
      const t = Date.now();
      alerts.raise(`alarm-${++n}`, 'ca');
      return t;
    },
    alert: async (id) => alerts.get(id),
    napping: async () => board.naps.get('ca-r1')?.state === 'started',
    async simulateChecks() {
      for (let i = 0; i < 3; i++)
        board.addCheck({
          id: `chk-${i}`,
          center: 'ca',
          room: 'ca-r1',
          infant: 'inf-a1',
          at: Date.now() - (3 - i) * 300_000,
          posture: 'supine',
          motion: 0.1,
          skinTempC: 36.5,
          openAlerts: 0,
        });
      return [0, 1, 2].map(() => ({ infant: 'inf-a1', posture: 'supine' }));
    },
    close: () => http.close(),
  };
});
