import { BadRequestException, ConflictException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { InjectThrottlerStorage } from '@nestjs/throttler';
import { randomUUID } from 'node:crypto';
import { PLAN_LIMITS } from '../../core/plans/plans';
import { isUniqueViolation } from '../../core/prisma/prisma-errors';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { EmailTemplate, JobName } from '../../core/queues/queue.catalogue';
import { rateLimitKeys } from '../../core/throttling/rate-limit.guard';
import type { RateLimitStorage } from '../../core/throttling/rate-limit.storage';
import type { User } from '../../generated/prisma/client';
import { OrganizationsService } from '../organizations/organizations.service';
import { LoginDto, MeDto, RegisterDto, RegisterResponseDto, UserDto } from './dto/auth.dto';
import { PasswordService } from './password.service';
import { SessionService } from './session.service';
import { TokenService } from './token.service';

const INVALID_CREDENTIALS = 'Invalid email or password.';

/** Reset emails per address (whoever asks): enough for a forgetful user, too few to flood a mailbox. */
export const FORGOT_PASSWORD_PER_ACCOUNT = { limit: 5, windowMs: 3_600_000 };

@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly passwords: PasswordService,
    private readonly sessions: SessionService,
    private readonly tokens: TokenService,
    private readonly jobs: JobProducer,
    @InjectThrottlerStorage() private readonly limits: RateLimitStorage,
  ) {}

  static toUserDto(user: User): UserDto {
    return { id: user.id, email: user.email, name: user.name, role: user.role, organizationId: user.organizationId };
  }

  /** A new FREE organization with its first LOJA user, logged in, with a verification email queued. */
  async register(dto: RegisterDto): Promise<RegisterResponseDto> {
    const passwordHash = await this.passwords.hash(dto.password);
    const free = PLAN_LIMITS.FREE;
    let user: User;
    try {
      user = await this.prisma.user.create({
        data: {
          email: dto.email,
          name: dto.name,
          passwordHash,
          role: 'LOJA',
          organization: {
            create: {
              name: dto.organizationName,
              plan: 'FREE',
              maxContacts: free.maxContacts,
              maxMessagesPerMonth: free.maxMessagesPerMonth,
            },
          },
        },
        include: { organization: true },
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('An account with this email already exists.');
      throw error;
    }
    let token: string;
    try {
      token = await this.sessions.create(user);
    } catch (error) {
      // Without a session the caller never learns of the account: undo it (the user goes with its organization),
      // so the same registration succeeds once Redis is back instead of answering 409.
      await this.prisma.organization.delete({ where: { id: user.organizationId! } }).catch((undo: Error) =>
        this.logger.error(`Registration of user ${user.id} failed in Redis and could not be undone: ${undo.message}`),
      );
      throw error;
    }
    // The account exists either way; a lost verification email is re-sent by asking for a new one.
    await this.sendTokenEmail('verify-email', user).catch((error: Error) =>
      this.logger.error(`Verification email for user ${user.id} not queued: ${error.message}`),
    );
    const organization = (user as User & { organization: Parameters<typeof OrganizationsService.toDto>[0] })
      .organization;
    return { token, user: AuthService.toUserDto(user), organization: OrganizationsService.toDto(organization) };
  }

  /** Unknown email and wrong password answer the same 401, in about the same time. */
  async login(dto: LoginDto): Promise<{ token: string; user: UserDto }> {
    const user = await this.prisma.user.findUnique({ where: { email: dto.email } });
    const ok = await this.passwords.verify(user?.passwordHash, dto.password);
    if (!user || !ok) throw new UnauthorizedException(INVALID_CREDENTIALS);
    const token = await this.sessions.create(user);
    return { token, user: AuthService.toUserDto(user) };
  }

  logout(token: string, userId: string): Promise<void> {
    return this.sessions.destroy(token, userId);
  }

  async me(userId: string): Promise<MeDto> {
    const user = await this.prisma.user.findUnique({ where: { id: userId }, include: { organization: true } });
    if (!user) throw new UnauthorizedException('Your account no longer exists.');
    return {
      ...AuthService.toUserDto(user),
      plan: user.organization?.plan ?? null,
      emailVerified: user.emailVerifiedAt !== null,
    };
  }

  async verifyEmail(token: string): Promise<void> {
    const userId = await this.tokens.consume('email', token);
    if (!userId) throw new BadRequestException('This verification link is invalid, used or expired.');
    await this.prisma.user.updateMany({
      where: { id: userId, emailVerifiedAt: null },
      data: { emailVerifiedAt: new Date() },
    });
  }

  /**
   * Always accepted, whether or not the email has an account (no enumeration). Past
   * FORGOT_PASSWORD_PER_ACCOUNT requests for one address in an hour, from any client, nothing more is sent:
   * the answer stays the same (the route's own limit is per client IP), so it tells nothing either.
   */
  async forgotPassword(email: string): Promise<void> {
    if (!(await this.withinResetAllowance(email))) return;
    const user = await this.prisma.user.findUnique({ where: { email } });
    if (user) await this.sendTokenEmail('password-reset', user);
  }

  /** Counted for any address, registered or not; while Redis cannot count, the email is sent (as the limiters fail open). */
  private async withinResetAllowance(email: string): Promise<boolean> {
    try {
      const { totalHits } = await this.limits.windowHit(rateLimitKeys.forgotAccount(email), FORGOT_PASSWORD_PER_ACCOUNT.windowMs);
      return totalHits <= FORGOT_PASSWORD_PER_ACCOUNT.limit;
    } catch (error) {
      this.logger.warn(`Reset requests per address cannot be counted: ${(error as Error).message}`);
      return true;
    }
  }

  async resetPassword(token: string, password: string): Promise<void> {
    const userId = await this.tokens.consume('reset', token);
    if (!userId) throw new BadRequestException('This reset link is invalid, used or expired.');
    const passwordHash = await this.passwords.hash(password);
    const { count } = await this.prisma.user.updateMany({ where: { id: userId }, data: { passwordHash } });
    if (count === 0) throw new BadRequestException('This reset link is invalid, used or expired.');
    await this.sessions.destroyAllForUser(userId);
    this.logger.log(`Password reset for user ${userId}; all sessions ended`);
  }

  /** Queues a reference only: the email's token is issued and its link built when it is sent. */
  private async sendTokenEmail(template: EmailTemplate, user: User): Promise<void> {
    await this.jobs.add(JobName.SendEmail, { template, userId: user.id, ref: randomUUID() });
  }
}
