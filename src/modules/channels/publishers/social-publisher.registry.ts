import { Inject, Injectable } from '@nestjs/common';
import type { SocialPlatform } from '../../../generated/prisma/enums';
import { SOCIAL_PUBLISHERS, SocialPublisher } from './social-publisher';

/** The registered platforms, by `platform`: validates a post for its platform and finds its publisher. */
@Injectable()
export class SocialPublisherRegistry {
  private readonly byPlatform: Map<string, SocialPublisher>;

  constructor(@Inject(SOCIAL_PUBLISHERS) publishers: SocialPublisher[]) {
    this.byPlatform = new Map(publishers.map((p) => [p.platform, p]));
  }

  publisherOf(platform: SocialPlatform): SocialPublisher | undefined {
    return this.byPlatform.get(platform);
  }

  /** What the platform would refuse, as 400 messages. */
  problems(post: { platform: SocialPlatform; content: string; imageUrl: string | null }): string[] {
    const publisher = this.byPlatform.get(post.platform);
    if (!publisher) return [`platform must be one of ${[...this.byPlatform.keys()].join(', ')}`];
    const problems: string[] = [];
    if ([...post.content].length > publisher.maxContentLength) {
      problems.push(`content must be at most ${publisher.maxContentLength} characters for ${post.platform}`);
    }
    if (publisher.image === 'required' && !post.imageUrl) problems.push(`imageUrl is required for ${post.platform}`);
    if (publisher.image === 'unsupported' && post.imageUrl) {
      problems.push(`imageUrl is not supported for ${post.platform} (text posts only)`);
    }
    return problems;
  }
}
