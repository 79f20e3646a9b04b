// Kubernetes Events: what an operator sees with `kubectl get events`, beside the logs. core/v1 Events,
// because their timestamps take RFC 3339 as client-node writes it (events.k8s.io wants microseconds).
import type { Clients } from './client.ts';
import type { Clock } from '../clock.ts';

export interface EventSpec {
  namespace: string;
  regarding: { apiVersion: string; kind: string; name: string; namespace?: string };
  reason: string;
  action: string;
  note: string;
  type?: 'Normal' | 'Warning';
}

export async function recordEvent(clients: Clients, clock: Clock, e: EventSpec): Promise<void> {
  const now = clock.now();
  const suffix = `${now.getTime().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
  await clients.core.createNamespacedEvent({
    namespace: e.namespace,
    body: {
      metadata: { name: `${e.regarding.name}.${suffix}`, namespace: e.namespace },
      involvedObject: e.regarding,
      reason: e.reason,
      action: e.action,
      message: e.note.slice(0, 1000),
      type: e.type ?? 'Normal',
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      source: { component: 'kubeusers' },
      reportingComponent: 'kubeusers.io/kubeusers',
      reportingInstance: 'kubeusers',
    },
  });
}
