import { waitFor } from '../../lib/net.ts';
import { localDay } from '../http/sheet.ts';
import { caregiverPageSuite } from '../../test/support/web/page-suite.ts';
import { STACK_TOKENS, startStack } from '../../test/support/stack.ts';

caregiverPageSuite('real rules service, broker and InfluxDB', async () => {
  const stack = await startStack();
  const { rules } = stack;
  const today = () => localDay(Date.now(), 'Asia/Shanghai');
  return {
    url: rules.url,
    tokens: { a: STACK_TOKENS.a, b: STACK_TOKENS.b },
    roomA: { id: 'ca-r1', infantName: '王小明' },
    simulated: { infants: ['a-07', 'a-08'], posture: 'supine' },
    pressAlarm: () => stack.pressAlarm(),
    alert: async (id) => rules.alerts.get(id),
    napping: async () => rules.board.rooms('ca').find((r) => r.room === 'ca-r1')?.napping ?? false,
    async awaitChecks(count) {
      await waitFor(() => rules.board.napChecks('ca', 'ca-r1', today()).length >= count, {
        timeoutMs: 20_000,
        what: `${count} nap checks`,
      });
    },
    checkRecords: async () => rules.board.napChecks('ca', 'ca-r1', today()),
    async requests(route) {
      const text = await (await fetch(`${rules.url}/metrics`)).text();
      let count = 0;
      for (const [, labels, value] of text.matchAll(/^\w*http_requests_total\{([^}]*)\} (\d+)$/gm))
        if (labels!.split(',').includes(`route="${route}"`)) count += Number(value);
      return count;
    },
    close: () => stack.close(),
  };
});
