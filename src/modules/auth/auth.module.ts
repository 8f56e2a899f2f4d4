import { Global, Module } from '@nestjs/common';
import { workerProviders } from '../../core/queues/worker-providers';
import { ChannelsModule } from '../channels/channels.module';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { AccountEmailService } from './emails/account-email.service';
import { EmailsProcessor } from './emails/emails.processor';
import { PasswordService } from './password.service';
import { SessionService } from './session.service';
import { TokenService } from './token.service';

/**
 * Accounts, sessions and single-use tokens, and the account emails
 * (verification, reset) of the `emails` queue, sent through the platform's
 * own Resend account. Global so the AuthGuard (an APP_GUARD) and other
 * modules reach sessions.
 */
@Global()
@Module({
  imports: [ChannelsModule],
  controllers: [AuthController],
  providers: [AuthService, AuthGuard, PasswordService, SessionService, TokenService, AccountEmailService, ...workerProviders(EmailsProcessor)],
  exports: [AuthGuard, PasswordService, SessionService, TokenService],
})
export class AuthModule {}
