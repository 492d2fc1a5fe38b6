import { type Principal, canPublish, canSubscribe } from './acl.ts';
import { type AclSubject, OperatorAcl } from './acl-file.ts';

function subject(principal: Principal, clientId: string): AclSubject {
  return {
    username:
      principal.type === 'device'
        ? principal.id
        : principal.type === 'service'
          ? principal.username
          : undefined,
    clientId,
  };
}

/** The registry's ACL, then the operator's file when there is one (allow grants, deny takes away). */
export class TopicAccess {
  readonly #operator: OperatorAcl | undefined;

  constructor(aclFile: string | undefined) {
    this.#operator = aclFile ? OperatorAcl.load(aclFile) : undefined;
  }

  mayWrite(principal: Principal, clientId: string, topic: string): boolean {
    const registry = canPublish(principal, topic);
    return this.#operator
      ? this.#operator.decide(subject(principal, clientId), topic, 'write', registry)
      : registry;
  }

  mayRead(principal: Principal, clientId: string, filter: string): boolean {
    const registry = canSubscribe(principal, filter);
    return this.#operator
      ? this.#operator.decide(subject(principal, clientId), filter, 'read', registry)
      : registry;
  }
}
