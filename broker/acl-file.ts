import { readFileSync } from 'node:fs';
import { ConfigError } from '../protocol/config.ts';

type Access = 'read' | 'write' | 'readwrite' | 'deny';

interface Rule {
  access: Access;
  /** A topic filter, possibly with %c (client id) and %u (username) to fill in. */
  topic: string;
  /** `topic` lines belong to a `user` section (undefined: anonymous clients); `pattern` lines to everyone. */
  user: string | undefined;
  pattern: boolean;
}

/** Who asks: the username (a device id or an account) and client id the pattern placeholders stand for. */
export interface AclSubject {
  username: string | undefined;
  clientId: string;
}

/** Whether every topic `filter` matches is matched by `rule` (both MQTT filters; a topic is a filter too). */
export function covers(rule: string, filter: string): boolean {
  const r = rule.split('/');
  const f = filter.split('/');
  for (let i = 0; i < r.length; i += 1) {
    if (r[i] === '#') return !(i === 0 && f[0]?.startsWith('$'));
    const level = f[i];
    if (level === undefined || level === '#') return false;
    if (r[i] === '+') {
      if (level === '+' || !(i === 0 && level.startsWith('$'))) continue;
      return false;
    }
    if (r[i] !== level) return false;
  }
  return r.length === f.length;
}

/**
 * An operator's ACL file in mosquitto's `acl_file` syntax, applied after the registry's rules: an allow line
 * (`read`, `write`, `readwrite`) grants what the registry refused, a `deny` line takes away what it granted.
 *
 *     user <name>                     following topic lines apply to that username
 *     topic [read|write|readwrite|deny] <filter>
 *     pattern [read|write|readwrite|deny] <filter with %c and %u>   for every client
 */
export class OperatorAcl {
  private constructor(private readonly rules: Rule[]) {}

  static parse(text: string, source = 'aclFile'): OperatorAcl {
    const rules: Rule[] = [];
    let user: string | undefined;
    text.split('\n').forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `${source} line ${index + 1}`;
      const [keyword, ...rest] = line.split(/\s+/);
      if (keyword === 'user') {
        if (rest.length !== 1) throw new ConfigError(`${where}: expected "user <name>"`);
        user = rest[0];
        return;
      }
      if (keyword !== 'topic' && keyword !== 'pattern') {
        throw new ConfigError(`${where}: unknown keyword ${JSON.stringify(keyword)} (user, topic, pattern)`);
      }
      const access = (rest.length === 2 ? rest[0] : 'readwrite') as Access;
      const topic = rest.at(-1);
      if (!topic || rest.length > 2 || !['read', 'write', 'readwrite', 'deny'].includes(access)) {
        throw new ConfigError(`${where}: expected "${keyword} [read|write|readwrite|deny] <topic>"`);
      }
      rules.push({
        access,
        topic,
        user: keyword === 'pattern' ? undefined : user,
        pattern: keyword === 'pattern',
      });
    });
    return new OperatorAcl(rules);
  }

  static load(file: string): OperatorAcl {
    return OperatorAcl.parse(readFileSync(file, 'utf8'), file);
  }

  /** The registry's verdict, overridden by this file: a matching deny refuses, a matching allow grants. */
  decide(subject: AclSubject, filter: string, want: 'read' | 'write', registry: boolean): boolean {
    let allowed = registry;
    for (const rule of this.rules) {
      if (!rule.pattern && rule.user !== subject.username) continue;
      const topic = rule.pattern
        ? rule.topic.replaceAll('%c', subject.clientId).replaceAll('%u', subject.username ?? '')
        : rule.topic;
      if (!covers(topic, filter)) continue;
      if (rule.access === 'deny') return false;
      if (rule.access === 'readwrite' || rule.access === want) allowed = true;
    }
    return allowed;
  }
}
