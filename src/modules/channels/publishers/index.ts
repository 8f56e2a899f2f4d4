import type { Provider, Type } from '@nestjs/common';
import { FacebookPublisher } from './facebook.publisher';
import { InstagramPublisher } from './instagram.publisher';
import { SOCIAL_PUBLISHERS, SocialPublisher } from './social-publisher';
import { TwitterPublisher } from './twitter.publisher';

/** Every social platform. A new one is a SocialPublisher class added here. */
export const SOCIAL_PUBLISHER_CLASSES: Type<SocialPublisher>[] = [InstagramPublisher, FacebookPublisher, TwitterPublisher];

export const socialPublisherProviders: Provider[] = [
  ...SOCIAL_PUBLISHER_CLASSES,
  {
    provide: SOCIAL_PUBLISHERS,
    inject: SOCIAL_PUBLISHER_CLASSES,
    useFactory: (...publishers: SocialPublisher[]) => publishers,
  },
];
