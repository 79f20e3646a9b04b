// The settings decide works with, read from the configuration once (by the composition root and by the
// admin API's revocation alike).
import type { Settings } from '../config/load.ts';
import type { DecideSettings } from '../model/decide.ts';

export function decideSettings(settings: Settings): DecideSettings {
  return {
    instance: settings.kubernetes.namespace,
    namespacePrefix: settings.kubernetes.namespacePrefix,
    podIdentity: settings.podIdentity,
    toolClusterRole: settings.rbac.toolClusterRole,
    adminClusterRoles: settings.rbac.adminClusterRoles,
    resources: settings.resources,
    overrides: settings.overrides,
    renewal: {
      renewFraction: settings.certificates.renewFraction,
      jitterFraction: settings.certificates.jitterFraction,
    },
    clockSkewToleranceMs: settings.certificates.clockSkewToleranceSeconds * 1000,
  };
}
