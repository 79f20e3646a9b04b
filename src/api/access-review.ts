// May this caller do this to that account? The cluster's RBAC decides, through a
// SubjectAccessReview on kubeusers.io/accounts that carries everything the caller authenticated
// with (user, uid, groups, extra). The resource name is the target account's Kubernetes user name,
// `<project>.<tool>` for a tool and the uid for an admin, so a grant on one never reaches the other.
import type { V1SubjectAccessReviewSpec } from '@kubernetes/client-node';
import type { Clients } from '../cluster/client.ts';
import { BudgetExhausted } from '../cluster/rate-limit.ts';
import type { AccountKind } from '../model/account.ts';
import type { Identity } from './auth.ts';
import { HttpError } from './errors.ts';
import type { ReviewCache } from './review-cache.ts';
import { busy } from './token-review.ts';

export type Verb = 'get' | 'list' | 'revoke' | 'renew' | 'create';

/**
 * What a request acts on: accounts (admins), credential reviews and the revocations feed (gateways
 * and services, which are granted these and nothing of the accounts).
 */
export type Resource = 'accounts' | 'credentialreviews' | 'revocations';

export interface Target {
  kind: AccountKind;
  name: string;
}

/** The name RBAC rules use for an account (resourceNames): its Kubernetes user name. */
export const accountResourceName = (project: string, t: Target): string =>
  t.kind === 'tool' ? `${project}.${t.name}` : t.name;

export function accessReviewSpec(
  who: Identity,
  verb: Verb,
  resourceName?: string,
  resource: Resource = 'accounts',
): V1SubjectAccessReviewSpec {
  return {
    user: who.user,
    groups: who.groups,
    ...(who.uid ? { uid: who.uid } : {}),
    ...(who.extra ? { extra: who.extra } : {}),
    resourceAttributes: {
      group: 'kubeusers.io',
      resource,
      verb,
      ...(resourceName ? { name: resourceName } : {}),
    },
  };
}

export interface AuthorizerDeps {
  clients: Pick<Clients, 'authorization'>;
  /** Tool accounts' user names are `<project>.<tool>`. */
  project: string;
  cache: ReviewCache<boolean>;
}

export class Authorizer {
  readonly #d: AuthorizerDeps;

  constructor(d: AuthorizerDeps) {
    this.#d = d;
  }

  /** Resolves when the cluster allows it; throws 403 otherwise. */
  async authorize(
    who: Identity,
    verb: Verb,
    target?: Target,
    resource: Resource = 'accounts',
  ): Promise<void> {
    const name = target ? accountResourceName(this.#d.project, target) : undefined;
    const allowed =
      (name !== undefined && this.#d.cache.get(this.#key(who, verb, name, resource)) === true) ||
      // A review without a name asks about every name ("" means all, in the SubjectAccessReview API;
      // in RBAC only a rule without resourceNames matches it): an admin granted every account costs
      // one review, not one per account it reads. Refused, the account's own name is asked.
      (await this.#allowed(who, verb, undefined, resource)) ||
      (name !== undefined && (await this.#allowed(who, verb, name, resource)));
    if (!allowed)
      throw new HttpError(
        403,
        'forbidden',
        `${who.user} may not ${verb} kubeusers.io/${resource}${name ? ` ${name}` : ''}`,
      );
  }

  #key(who: Identity, verb: Verb, name: string | undefined, resource: Resource): string {
    // The spec itself (names and groups, nothing secret): a digest of it was a review's ~2 %.
    return JSON.stringify(accessReviewSpec(who, verb, name, resource));
  }

  #allowed(who: Identity, verb: Verb, name: string | undefined, resource: Resource): Promise<boolean> {
    const spec = accessReviewSpec(who, verb, name, resource);
    return this.#d.cache.through(this.#key(who, verb, name, resource), () => this.#review(spec));
  }

  async #review(spec: V1SubjectAccessReviewSpec): Promise<boolean> {
    try {
      const review = await this.#d.clients.authorization.createSubjectAccessReview({
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
      });
      return review.status?.allowed === true;
    } catch (err) {
      if (err instanceof BudgetExhausted) throw busy(err);
      throw err;
    }
  }
}
