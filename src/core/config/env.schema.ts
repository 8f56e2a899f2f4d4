import 'reflect-metadata';
import { Transform, plainToInstance } from 'class-transformer';
import { KeyRing, KeyRingError } from '../crypto/key-ring';
import {
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  NotEquals,
  ValidateIf,
  Validate,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
  validateSync,
} from 'class-validator';
import { parseClusterNodes } from '../redis/redis.options';

export const APP_ROLES = ['api', 'worker', 'all'] as const;
export type AppRole = (typeof APP_ROLES)[number];

const toBool = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : ['true', '1', 'yes'].includes(String(value).toLowerCase());
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);
const httpUrl = { require_tld: false, protocols: ['http', 'https'], require_protocol: true };
/** Known to everyone who reads this file: fine on a laptop, refused in production. */
export const DEV_UNSUBSCRIBE_SECRET = 'zyva-development-unsubscribe-secret';

/** Exactly one Redis target: `REDIS_URL` (one node) or `REDIS_CLUSTER_NODES` (a cluster), each well formed. */
@ValidatorConstraint({ name: 'redisTarget' })
class RedisTargetConstraint implements ValidatorConstraintInterface {
  private problem(value: unknown, args: ValidationArguments): string | undefined {
    const env = args.object as EnvironmentVariables;
    if (args.property === 'REDIS_URL' && (env.REDIS_URL === undefined) === (env.REDIS_CLUSTER_NODES === undefined)) {
      return 'set exactly one of REDIS_URL (one Redis node) and REDIS_CLUSTER_NODES (a Redis Cluster)';
    }
    if (value === undefined) return undefined;
    if (args.property === 'REDIS_URL') return /^rediss?:\/\/[^\s]*$/.test(String(value)) ? undefined : 'REDIS_URL must be a redis:// or rediss:// URL';
    try {
      parseClusterNodes(String(value));
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  validate(value: unknown, args: ValidationArguments): boolean {
    return this.problem(value, args) === undefined;
  }

  defaultMessage(args: ValidationArguments): string {
    return this.problem(args.value, args) ?? '';
  }
}

/**
 * Every environment variable Zyva reads, validated once at startup.
 * Numeric fields carry an explicit `: number`: implicit conversion of the
 * env's strings follows the emitted design type, which is `Object` without it.
 * Nothing else in the code base reads `process.env`.
 */
export class EnvironmentVariables {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 3000;

  @IsIn(APP_ROLES as unknown as string[])
  APP_ROLE: AppRole = 'all';

  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'DATABASE_URL must be a postgresql:// URL' })
  DATABASE_URL!: string;

  @Validate(RedisTargetConstraint)
  REDIS_URL?: string;

  /** Seeds of a Redis Cluster (`host:port` or redis(s):// URLs, comma-separated), instead of REDIS_URL. */
  @Validate(RedisTargetConstraint)
  REDIS_CLUSTER_NODES?: string;

  /** BullMQ key prefix; `bull` in production (contract), overridden by tests to isolate suites. */
  @Matches(/^[A-Za-z0-9:_-]+$/)
  QUEUE_PREFIX = 'bull';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @Transform(toBool)
  @IsBoolean()
  SWAGGER_ENABLED = true;

  /** Trust X-Forwarded-For (set only behind a reverse proxy, or per-IP limits can be dodged). */
  @Transform(toBool)
  @IsBoolean()
  TRUST_PROXY = false;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsEmail()
  ADMIN_EMAIL?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(8)
  ADMIN_PASSWORD?: string;

  @IsInt()
  @Min(1)
  AUTH_RATE_LIMIT: number = 10;

  /** Requests per minute per client IP on the public webhooks: high, since providers send every store's events from few addresses. */
  @IsInt()
  @Min(1)
  WEBHOOK_RATE_LIMIT: number = 6000;

  @IsInt()
  @Min(1)
  @Max(1000)
  /** Jobs at once per queue per worker process. Zyva's jobs wait on Postgres, Redis and providers, not on the CPU. */
  WORKER_CONCURRENCY: number = 100;

  @IsString()
  BIRTHDAY_TZ = 'America/Sao_Paulo';

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  METRICS_TOKEN?: string;

  /** Public base URL (no trailing slash) of links in emails and of the webhook URLs given to providers; required in production. */
  @IsUrl(httpUrl)
  APP_URL = 'http://localhost:3000';

  /**
   * Key ring of the channel secrets at rest: `keyId:base64-of-32-bytes`, comma-separated, the first
   * encrypts. Required in production; elsewhere a fixed development key is used, with a warning.
   */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  CHANNEL_ENCRYPTION_KEYS?: string;

  /**
   * How long a WhatsApp message whose send outcome is unknown (a timeout, a crash during the call)
   * waits for Meta's status report naming it before it is sent once more.
   */
  @IsInt()
  @Min(1000)
  UNCERTAIN_SEND_WAIT_MS: number = 10 * 60 * 1000;

  /** Key of the HMAC in unsubscribe links; in production the development default would let anyone forge them. */
  @ValidateIf((env: EnvironmentVariables) => env.NODE_ENV === 'production')
  @NotEquals(DEV_UNSUBSCRIBE_SECRET, { message: 'UNSUBSCRIBE_SECRET must be set in production' })
  @MinLength(32)
  UNSUBSCRIBE_SECRET = DEV_UNSUBSCRIBE_SECRET;

  // Outbound providers (see README "Providers"); credentials are optional outside production.
  @IsUrl(httpUrl)
  WHATSAPP_API_URL = 'https://graph.facebook.com/v21.0';
  @Transform(emptyToUndefined) @IsOptional() @IsString() WHATSAPP_PHONE_ID?: string;
  @Transform(emptyToUndefined) @IsOptional() @IsString() WHATSAPP_TOKEN?: string;
  @Transform(emptyToUndefined) @IsOptional() @IsString() WHATSAPP_APP_SECRET?: string;
  @Transform(emptyToUndefined) @IsOptional() @IsString() WHATSAPP_VERIFY_TOKEN?: string;
  /** The platform number's WhatsApp Business Account (its message templates). */
  @Transform(emptyToUndefined) @IsOptional() @IsString() WHATSAPP_BUSINESS_ACCOUNT_ID?: string;

  @IsUrl(httpUrl)
  RESEND_API_URL = 'https://api.resend.com';
  @Transform(emptyToUndefined) @IsOptional() @IsString() RESEND_API_KEY?: string;
  @IsString() EMAIL_FROM = 'Zyva <no-reply@zyva.local>';
  @Transform(emptyToUndefined) @IsOptional() @IsString() RESEND_WEBHOOK_SECRET?: string;

  @IsUrl(httpUrl)
  TWILIO_API_URL = 'https://api.twilio.com';
  @Transform(emptyToUndefined) @IsOptional() @IsString() TWILIO_ACCOUNT_SID?: string;
  @Transform(emptyToUndefined) @IsOptional() @IsString() TWILIO_AUTH_TOKEN?: string;
  @Transform(emptyToUndefined) @IsOptional() @IsString() TWILIO_FROM?: string;

  @IsUrl(httpUrl)
  GRAPH_API_URL = 'https://graph.facebook.com/v21.0';
  @Transform(emptyToUndefined) @IsOptional() @IsString() INSTAGRAM_ACCOUNT_ID?: string;
  @Transform(emptyToUndefined) @IsOptional() @IsString() INSTAGRAM_TOKEN?: string;
  @Transform(emptyToUndefined) @IsOptional() @IsString() FACEBOOK_PAGE_ID?: string;
  @Transform(emptyToUndefined) @IsOptional() @IsString() FACEBOOK_PAGE_TOKEN?: string;

  @IsUrl(httpUrl)
  TWITTER_API_URL = 'https://api.x.com';
  @Transform(emptyToUndefined) @IsOptional() @IsString() TWITTER_BEARER_TOKEN?: string;

  /**
   * Sends per second through the platform's own accounts, across every worker
   * (a store's connection has its own maxPerSecond). Defaults: the providers'.
   */
  @IsInt() @Min(1) @Max(100000) WHATSAPP_MAX_PER_SECOND: number = 80;
  @IsInt() @Min(1) @Max(100000) RESEND_MAX_PER_SECOND: number = 2;
  @IsInt() @Min(1) @Max(100000) TWILIO_MAX_PER_SECOND: number = 1;
  @IsInt() @Min(1) @Max(100000) INSTAGRAM_MAX_PER_SECOND: number = 10;

  /** Timeout of one outbound provider call, in milliseconds. */
  @IsInt()
  @Min(100)
  PROVIDER_TIMEOUT_MS: number = 10000;

  /** How long a worker holds a job before another worker may take it over as stalled (BullMQ lockDuration). */
  @IsInt()
  @Min(1000)
  WORKER_LOCK_DURATION_MS: number = 30000;

  /** How often the reconciler looks for accepted messages that have no job (Redis was down at enqueue time). */
  @IsInt()
  @Min(1000)
  RECONCILE_INTERVAL_MS: number = 60000;

  /** Only messages untouched for this long are reconciled, so the reconciler never races the normal path. */
  @IsInt()
  @Min(0)
  RECONCILE_GRACE_MS: number = 120000;
}

export class ConfigValidationError extends Error {}

/** Validates a raw environment; throws naming every bad or missing variable. */
export function validateEnvironment(raw: Record<string, string | undefined>): EnvironmentVariables {
  const defined = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== ''));
  const env = plainToInstance(EnvironmentVariables, defined, { enableImplicitConversion: true });
  const errors = validateSync(env, { skipMissingProperties: false, forbidUnknownValues: true });
  const lines = errors.map((e) => {
    const shown = e.property.match(/TOKEN|SECRET|PASSWORD|KEY|URL|NODES/) ? '(hidden)' : JSON.stringify(e.value);
    return `  - ${e.property}: ${Object.values(e.constraints ?? {}).join('; ')} (got ${e.value === undefined ? 'nothing' : shown})`;
  });
  lines.push(...crossFieldProblems(env, defined).map((problem) => `  - ${problem}`));
  if (lines.length > 0) throw new ConfigValidationError(`Invalid environment configuration:\n${lines.join('\n')}`);
  return env;
}

/** Rules that span variables or depend on NODE_ENV; each names its variable and never echoes a secret. */
function crossFieldProblems(env: EnvironmentVariables, given: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';
  if (env.CHANNEL_ENCRYPTION_KEYS !== undefined) {
    try {
      KeyRing.parse(env.CHANNEL_ENCRYPTION_KEYS);
    } catch (error) {
      if (!(error instanceof KeyRingError)) throw error;
      problems.push(error.message);
    }
  } else if (production) {
    problems.push('CHANNEL_ENCRYPTION_KEYS: required in production (keyId:base64-of-32-bytes, comma-separated; the first encrypts)');
  }
  if (production && given.APP_URL === undefined) {
    problems.push('APP_URL: required in production (the public base URL of links and provider webhooks)');
  }
  return problems;
}
