import { Plan } from '../../generated/prisma/enums';

export interface PlanLimits {
  requestsPerMinute: number;
  maxContacts: number;
  maxMessagesPerMonth: number;
}

/** The plans of the contract. An organization copies the caps at creation; an admin may override them. */
export const PLAN_LIMITS: Record<Plan, PlanLimits> = {
  FREE: { requestsPerMinute: 10, maxContacts: 100, maxMessagesPerMonth: 300 },
  PRO: { requestsPerMinute: 100, maxContacts: 2000, maxMessagesPerMonth: 10000 },
  BUSINESS: { requestsPerMinute: 1000, maxContacts: 20000, maxMessagesPerMonth: 100000 },
  ENTERPRISE: { requestsPerMinute: 10000, maxContacts: 200000, maxMessagesPerMonth: 1000000 },
};

export const PLANS = Object.keys(PLAN_LIMITS) as Plan[];

/** The current month in UTC, `YYYY-MM`: the period of monthly quotas. */
export function currentPeriod(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}

/** How core (the plan limiter) learns an organization's plan without depending on the organizations module. */
export interface PlanLookup {
  get(orgId: string): Promise<{ plan: Plan }>;
}

/** Injection token of the PlanLookup; the organizations module provides it. */
export const PLAN_LOOKUP = Symbol('PLAN_LOOKUP');
