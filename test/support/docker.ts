import { request } from 'node:http';

/** True when a Docker engine answers on its socket (DOCKER_HOST tcp endpoints count too). */
export function dockerAvailable(timeoutMs = 1_500): Promise<boolean> {
  const host = process.env.DOCKER_HOST;
  const target = host?.startsWith('tcp://')
    ? {
        host: new URL(host.replace('tcp://', 'http://')).hostname,
        port: Number(new URL(host.replace('tcp://', 'http://')).port),
      }
    : { socketPath: host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock' };
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
