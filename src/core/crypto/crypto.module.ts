import { Global, Logger, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { KeyRing } from './key-ring';

/**
 * The key ring of secrets at rest. Production without CHANNEL_ENCRYPTION_KEYS
 * never gets here (the config refuses to start); elsewhere a fixed development
 * key is used, said once at startup.
 */
@Global()
@Module({
  providers: [
    {
      provide: KeyRing,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        if (config.CHANNEL_ENCRYPTION_KEYS) return KeyRing.parse(config.CHANNEL_ENCRYPTION_KEYS);
        new Logger('KeyRing').warn('CHANNEL_ENCRYPTION_KEYS is not set: channel secrets use the fixed development key (never do this in production)');
        return KeyRing.development();
      },
    },
  ],
  exports: [KeyRing],
})
export class CryptoModule {}
