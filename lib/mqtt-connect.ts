import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

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

export interface SessionConfig {
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  keepaliveS: number;
}

/**
 * A service's persistent session (clean=false, MQTT 3.1.1, fixed client id), so the broker queues its QoS 1
 * messages while it is away. mqtt.js's own resubscription is off: lib/mqtt-subscribe.ts subscribes again on
 * every connection, and hears of its failures.
 */
export function connectSession(session: SessionConfig, options: IClientOptions = {}): MqttClient {
  return connectBroker(session.url, {
    clientId: session.clientId,
    clean: false,
    keepalive: session.keepaliveS,
    protocolVersion: 4,
    reconnectPeriod: 1_000,
    resubscribe: false,
    ...(session.username ? { username: session.username } : {}),
    ...(session.password ? { password: session.password } : {}),
    ...options,
  });
}
