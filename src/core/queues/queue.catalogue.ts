import type { JobsOptions } from 'bullmq';

/**
 * The one catalogue of queues, jobs and payloads. Queue names and job names
 * are part of the public contract (dashboards and operators rely on them):
 * never rename these values.
 */
export enum QueueName {
  Messages = 'messages',
  Flows = 'flows',
  Birthdays = 'birthdays',
  SocialPosts = 'social-posts',
  Emails = 'emails',
}

export const ALL_QUEUES: QueueName[] = Object.values(QueueName);

export enum JobName {
  SendMessage = 'send-message',
  SendCampaignBatch = 'send-campaign-batch',
  ReconcileMessages = 'reconcile-messages',
  FanOutCampaign = 'fan-out-campaign',
  SyncWhatsAppTemplates = 'sync-whatsapp-templates',
  ExecuteFlowStep = 'execute-flow-step',
  ReconcileFlows = 'reconcile-flows',
  DrainOutbox = 'drain-outbox',
  CheckBirthdays = 'check-birthdays',
  PublishPost = 'publish-post',
  ReconcileSocialPosts = 'reconcile-social-posts',
  SendEmail = 'send-email',
}

export type EmailTemplate = 'verify-email' | 'password-reset';

/**
 * What a platform answered to the attempt that claimed a post at `claimedAt` (ids and times only):
 * accepted, or refused for certain (nothing published).
 */
export type PublishAnswer =
  | { claimedAt: string; accepted: true; externalId: string | null; publishedAt: string; note?: string }
  | { claimedAt: string; accepted: false; reason: string; final: boolean };

/** Payload of each job, by name: a producer cannot add a job its processor does not understand. */
export interface JobPayloads {
  [JobName.SendMessage]: {
    messageId: string;
    organizationId: string;
    /** The provider's acceptance of a send whose record could not be written yet: only the write is retried. */
    accepted?: { externalId: string; channel: string };
    /** Consecutive throttling pauses (each doubles the next when the provider says nothing). */
    throttled?: number;
    /** The pace slot this job waits for (epoch ms, PaceSlot): it sends in it without taking another. */
    paceSlot?: { earliest: number; latest: number };
  };
  [JobName.SendCampaignBatch]: {
    campaignId: string;
    organizationId: string;
    /** The campaign messages this job sends (ids only); what is not a clean send goes on in a send-message job of its own. */
    messageIds: string[];
    /** Written by the worker: sends the provider accepted that could not be recorded yet (message id → acceptance). */
    accepted?: Record<string, { externalId: string; channel: string }>;
  };
  [JobName.ReconcileMessages]: Record<string, never>;
  [JobName.FanOutCampaign]: { campaignId: string; organizationId: string };
  [JobName.SyncWhatsAppTemplates]: Record<string, never>;
  [JobName.ExecuteFlowStep]: { executionId: string; stepIndex: number };
  [JobName.ReconcileFlows]: Record<string, never>;
  [JobName.DrainOutbox]: Record<string, never>;
  [JobName.CheckBirthdays]: { date?: string };
  [JobName.PublishPost]: {
    postId: string;
    organizationId: string;
    /** Written by the worker: the platform's answer to a claim, kept while the database could not take it. */
    answer?: PublishAnswer;
    /** Written by the worker: how often this job looked again at an unknown outcome. */
    rechecks?: number;
  };
  [JobName.ReconcileSocialPosts]: Record<string, never>;
  [JobName.SendEmail]: {
    template: EmailTemplate;
    userId: string;
    /** Names the email; its token is issued and its link built when it is sent (never in the payload). */
    ref: string;
  };
}

export const QUEUE_OF_JOB: { [N in JobName]: QueueName } = {
  [JobName.SendMessage]: QueueName.Messages,
  [JobName.SendCampaignBatch]: QueueName.Messages,
  [JobName.ReconcileMessages]: QueueName.Messages,
  [JobName.FanOutCampaign]: QueueName.Messages,
  [JobName.SyncWhatsAppTemplates]: QueueName.Messages,
  [JobName.ExecuteFlowStep]: QueueName.Flows,
  [JobName.ReconcileFlows]: QueueName.Flows,
  [JobName.DrainOutbox]: QueueName.Flows,
  [JobName.CheckBirthdays]: QueueName.Birthdays,
  [JobName.PublishPost]: QueueName.SocialPosts,
  [JobName.ReconcileSocialPosts]: QueueName.SocialPosts,
  [JobName.SendEmail]: QueueName.Emails,
};

/** Default job options per queue, from the design document. */
export const DEFAULT_JOB_OPTIONS: { [Q in QueueName]: JobsOptions } = {
  [QueueName.Messages]: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { count: 100, age: 24 * 3600 },
    removeOnFail: { count: 500 },
  },
  [QueueName.Flows]: {
    attempts: 2,
    backoff: { type: 'fixed', delay: 5000 },
    removeOnComplete: { count: 100, age: 24 * 3600 },
    removeOnFail: { count: 500 },
  },
  [QueueName.Birthdays]: {
    removeOnComplete: { count: 30 },
    removeOnFail: { count: 100 },
  },
  [QueueName.SocialPosts]: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 3000 },
    removeOnComplete: { count: 100, age: 24 * 3600 },
    removeOnFail: { count: 500 },
  },
  [QueueName.Emails]: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { count: 100, age: 24 * 3600 },
    removeOnFail: { count: 500 },
  },
};
