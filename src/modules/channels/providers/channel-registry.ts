import { Inject, Injectable } from '@nestjs/common';
import type { Channel } from '../../../generated/prisma/enums';
import { CHANNEL_PROVIDERS, ChannelProvider } from './channel-provider';

/** The channel providers by channel, from the CHANNEL_PROVIDERS list. */
@Injectable()
export class ChannelRegistry {
  private readonly byChannel = new Map<Channel, ChannelProvider>();

  constructor(@Inject(CHANNEL_PROVIDERS) providers: ChannelProvider[]) {
    for (const provider of providers) {
      if (this.byChannel.has(provider.channel)) throw new Error(`Two providers registered for channel ${provider.channel}`);
      this.byChannel.set(provider.channel, provider);
    }
  }

  get(channel: Channel): ChannelProvider | undefined {
    return this.byChannel.get(channel);
  }

  channels(): Channel[] {
    return [...this.byChannel.keys()];
  }
}
