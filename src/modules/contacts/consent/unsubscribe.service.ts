import { Injectable } from '@nestjs/common';
import { ConsentRepository } from './consent.repository';
import { ConsentService } from './consent.service';
import { type HtmlPage, invalidLinkPage, unsubscribePage, unsubscribedPage } from './unsubscribe-page';
import { UnsubscribeTokens } from './unsubscribe-token';

/** The public unsubscribe link: the page it opens (GET) and the one-click opt-out (POST). */
@Injectable()
export class UnsubscribeService {
  constructor(
    private readonly tokens: UnsubscribeTokens,
    private readonly repository: ConsentRepository,
    private readonly consent: ConsentService,
  ) {}

  /** Only reads: mail scanners and link previews open this. */
  async page(token: string): Promise<HtmlPage> {
    const target = this.tokens.verify(token);
    const store = target && (await this.repository.storeNameOf(target.organizationId, target.contactId));
    return target && store !== null ? unsubscribePage(store, target.channel) : invalidLinkPage();
  }

  /** Opts the contact out of the token's channel; a repeat finds it already out and records nothing. */
  async unsubscribe(token: string): Promise<HtmlPage> {
    const target = this.tokens.verify(token);
    const store = target && (await this.repository.storeNameOf(target.organizationId, target.contactId));
    if (!target || store === null) return invalidLinkPage();
    const result = await this.consent.record(target.organizationId, target.contactId, target.channel, 'OPTED_OUT', {
      source: 'UNSUBSCRIBE_LINK',
    });
    return result === 'no-contact' ? invalidLinkPage() : unsubscribedPage(store, target.channel);
  }
}
