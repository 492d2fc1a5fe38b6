/**
 * Bounds the time one event-loop turn spends on a bulk MQTT session. mqtt.js runs the packets of every read
 * as one chain of `process.nextTick`: each message is handed on, then `handleMessage` calls back, and the
 * next packet follows before the loop gets control back. With the rules behind a telemetry backlog that
 * chain ran for seconds, and an alarm press waiting on the priority socket was read after it. A per-hop
 * trace at 30,000 offered readings/s: a timer in the rules 150 ms late or more 154 times in one run (median
 * 539 ms), the CPU profile of those stretches all telemetry, and the broker's write to the priority socket
 * p50 600 ms before the rules' receive. (Pausing the socket, the earlier budget, did not end the chain
 * already parsed.)
 *
 * Returns a `handleMessage` for the bulk session: within `budgetMs` of the turn's first message it calls
 * back at once; past it, on the loop's next check phase, after every other socket (the priority one first
 * of all) has been polled. The PUBACK goes with the callback, after the message was handled, as before.
 */
export function turnBudget(budgetMs: number): (packet: unknown, callback: () => void) => void {
  let turnStartedAt: number | undefined;
  return (_packet, callback) => {
    const now = performance.now();
    if (turnStartedAt === undefined) {
      turnStartedAt = now;
      setImmediate(() => {
        turnStartedAt = undefined;
      });
    }
    if (now - turnStartedAt < budgetMs) callback();
    else setImmediate(callback);
  };
}
