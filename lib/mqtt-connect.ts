import mqtt, { type IClientOptions, type ISubscriptionGrant, type MqttClient } from 'mqtt';

type Protocol = NonNullable<NonNullable<IClientOptions['servers']>[number]['protocol']>;

/**
 * `url` may list the brokers of one cluster, comma-separated (`mqtt://a:1883,mqtt://b:1883`): mqtt.js then
 * tries the next one on every reconnect, so a client of a dead broker resumes its persistent session
 * (kept in the cluster's Redis) on another.
 */
export function connectBroker(url: string, options: IClientOptions): MqttClient {
  const urls = brokerUrls(url);
  if (urls.length === 1) return mqtt.connect(urls[0]!, options);
  const servers = urls.map((u) => {
    const parsed = new URL(u);
    const protocol = parsed.protocol.slice(0, -1) as Protocol;
    const port = Number(parsed.port) || (protocol === 'mqtts' || protocol === 'ssl' ? 8883 : 1883);
    return { host: parsed.hostname, port, protocol };
  });
  return mqtt.connect({ ...options, servers });
}

export function brokerUrls(url: string): string[] {
  return url
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
}

/**
 * One SUBSCRIBE per filter. With the Redis persistence (broker cluster mode) a persistent session's
 * SUBSCRIBE of several filters was never answered (SUBACK missing with 2 filters, present with 1, on
 * aedes-persistence-redis 12): one filter each is answered at once.
 */
export async function subscribeEach(
  client: MqttClient,
  filters: string[],
  options: { qos: 0 | 1 | 2 },
): Promise<ISubscriptionGrant[]> {
  const granted = await Promise.all(filters.map((f) => client.subscribeAsync(f, options)));
  return granted.flat();
}
