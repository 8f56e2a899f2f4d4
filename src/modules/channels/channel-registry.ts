import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { CHANNEL_KIND, CHANNEL_NAME, ChannelKind, MESSAGE_SENDER, MessageSender, SOCIAL_PUBLISHER } from './channel-extension';
import type { SocialPublisher } from './publishers/social-publisher';

interface Index {
  kinds: Map<string, ChannelKind>;
  senders: Map<string, MessageSender>;
  publishers: Map<string, SocialPublisher>;
}

/**
 * Every channel kind, message sender and social publisher of the app, found
 * by their decorators in whatever module provides them (Zyva's own in
 * ChannelsModule, an extension's in its own module). Built on first use, after
 * every module has been instantiated.
 */
@Injectable()
export class ChannelRegistry {
  private built?: Index;

  constructor(private readonly discovery: DiscoveryService) {}

  kind(kind: string): ChannelKind | undefined {
    return this.index.kinds.get(kind);
  }

  kinds(): ChannelKind[] {
    return [...this.index.kinds.values()];
  }

  sender(channel: string): MessageSender | undefined {
    return this.index.senders.get(channel);
  }

  /** Message channels, in registration order: WHATSAPP, EMAIL, SMS, INSTAGRAM_DM, then extensions'. */
  channels(): string[] {
    return [...this.index.senders.keys()];
  }

  /** A well-formed channel name no sender serves, as a 400 message (the DTO checks the form). */
  channelProblems(channel: unknown): string[] {
    if (typeof channel !== 'string' || !CHANNEL_NAME.test(channel) || this.sender(channel)) return [];
    return [this.unknownChannel()];
  }

  /** The 400 message for a channel no sender serves, naming those that exist. */
  unknownChannel(): string {
    return `channel must be one of the following values: ${this.channels().join(', ')}`;
  }

  publisher(platform: string): SocialPublisher | undefined {
    return this.index.publishers.get(platform);
  }

  platforms(): string[] {
    return [...this.index.publishers.keys()];
  }

  /** What the platform would refuse in a post, as 400 messages. */
  postProblems(post: { platform: string; content: string; imageUrl: string | null }): string[] {
    const publisher = this.publisher(post.platform);
    if (!publisher) return [`platform must be one of ${this.platforms().join(', ')}`];
    const problems: string[] = [];
    if ([...post.content].length > publisher.maxContentLength) {
      problems.push(`content must be at most ${publisher.maxContentLength} characters for ${post.platform}`);
    }
    if (publisher.image === 'required' && !post.imageUrl) problems.push(`imageUrl is required for ${post.platform}`);
    if (publisher.image === 'unsupported' && post.imageUrl) problems.push(`imageUrl is not supported for ${post.platform} (text posts only)`);
    return problems;
  }

  private get index(): Index {
    this.built ??= this.scan();
    return this.built;
  }

  private scan(): Index {
    const index: Index = { kinds: new Map(), senders: new Map(), publishers: new Map() };
    const add = <T>(map: Map<string, T>, key: string, value: T, what: string) => {
      if (map.has(key)) throw new Error(`Two ${what} registered for "${key}"`);
      map.set(key, value);
    };
    for (const wrapper of this.discovery.getProviders()) {
      const { instance } = wrapper;
      // The instance's class carries the decorator, also for providers built by a factory.
      const metatype = (instance as object | undefined)?.constructor;
      if (!instance || typeof metatype !== 'function') continue;
      if (Reflect.getMetadata(CHANNEL_KIND, metatype)) add(index.kinds, (instance as ChannelKind).kind, instance as ChannelKind, 'channel kinds');
      if (Reflect.getMetadata(MESSAGE_SENDER, metatype)) add(index.senders, (instance as MessageSender).channel, instance as MessageSender, 'message senders');
      if (Reflect.getMetadata(SOCIAL_PUBLISHER, metatype)) {
        add(index.publishers, (instance as SocialPublisher).platform, instance as SocialPublisher, 'social publishers');
      }
    }
    for (const sender of index.senders.values()) {
      if (!index.kinds.has(sender.kind)) throw new Error(`Message sender ${sender.channel} sends through kind "${sender.kind}", which no ChannelKind registers`);
    }
    for (const publisher of index.publishers.values()) {
      if (!index.kinds.has(publisher.kind)) throw new Error(`Social publisher ${publisher.platform} publishes through kind "${publisher.kind}", which no ChannelKind registers`);
    }
    return index;
  }
}
