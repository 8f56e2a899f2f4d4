import { Global, Module } from '@nestjs/common';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { PasswordService } from './password.service';
import { SessionService } from './session.service';
import { TokenService } from './token.service';

/** Global so the AuthGuard (registered as APP_GUARD in AppModule) and other modules reach sessions. */
@Global()
@Module({
  controllers: [AuthController],
  providers: [AuthService, AuthGuard, PasswordService, SessionService, TokenService],
  exports: [AuthGuard, PasswordService, SessionService, TokenService],
})
export class AuthModule {}
