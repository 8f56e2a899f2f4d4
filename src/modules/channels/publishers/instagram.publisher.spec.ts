import type { AppConfig } from '../../../core/config/app-config';
import { ProviderError } from '../../../core/http/provider-error';
import type { ProviderHttp, ProviderRequest } from '../../../core/http/provider-http';
import { InstagramPublisher } from './instagram.publisher';
import { PublishOutcomeUnknownError } from './social-publisher';

const config = { GRAPH_API_URL: 'https://graph.test/v21.0', INSTAGRAM_ACCOUNT_ID: '1784', INSTAGRAM_TOKEN: 'tok' } as AppConfig;
const post = { id: 'p1', content: 'Nova coleção', imageUrl: 'https://cdn.test/a.jpg', scheduledFor: new Date('2026-12-01T18:00:00Z') };

function graph(answers: Record<string, unknown>) {
  const requests: ProviderRequest[] = [];
  const http = {
    request: async (req: ProviderRequest) => {
      requests.push(req);
      const key = `${req.method} ${req.url.replace(config.GRAPH_API_URL, '')}`;
      const answer = answers[key];
      if (answer instanceof Error) throw answer;
      if (answer === undefined) throw new Error(`unexpected ${key}`);
      return { status: 200, headers: {}, text: JSON.stringify(answer), json: answer };
    },
  };
  const saved: string[] = [];
  const context = (containerId: string | null) => ({ credentials: { accountId: '1784', accessToken: 'tok' }, containerId, saveContainer: async (id: string) => void saved.push(id) });
  return { publisher: new InstagramPublisher(config, http as unknown as ProviderHttp), requests, saved, context };
}

describe('InstagramPublisher', () => {
  it('stores the container before publishing it', async () => {
    const g = graph({ 'POST /1784/media': { id: 'c1' }, 'POST /1784/media_publish': { id: 'm1' } });
    await expect(g.publisher.publish(post, g.context(null))).resolves.toEqual({ externalId: 'm1' });
    expect(g.saved).toEqual(['c1']);
    expect(g.requests.map((r) => r.body && JSON.parse(r.body))).toEqual([{ image_url: post.imageUrl, caption: post.content }, { creation_id: 'c1' }]);
  });

  it('a stored container that is PUBLISHED already went out: its media is found on the account, media_publish is not called', async () => {
    const g = graph({
      'GET /c1?fields=status_code': { status_code: 'PUBLISHED', id: 'c1' },
      'GET /1784/media?fields=id,caption,timestamp&limit=25': {
        data: [
          { id: 'm-later', caption: post.content, timestamp: '2026-12-01T18:05:00+0000' },
          { id: 'm-other', caption: 'outra', timestamp: '2026-12-01T18:00:03+0000' },
          { id: 'm1', caption: post.content, timestamp: '2026-12-01T18:00:02+0000' },
          { id: 'm-old', caption: post.content, timestamp: '2026-11-01T18:00:00+0000' },
        ],
      },
    });
    await expect(g.publisher.publish(post, g.context('c1'))).resolves.toEqual({ externalId: 'm1' });
    expect(g.requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it('a PUBLISHED container whose media cannot be found is still published, without an id and with a note', async () => {
    const g = graph({
      'GET /c1?fields=status_code': { status_code: 'PUBLISHED', id: 'c1' },
      'GET /1784/media?fields=id,caption,timestamp&limit=25': { data: [] },
    });
    const result = await g.publisher.publish(post, g.context('c1'));
    expect(result.externalId).toBeNull();
    expect(result.note).toContain('c1');
  });

  it('a FINISHED container is published as it is; an EXPIRED one is replaced; IN_PROGRESS waits', async () => {
    const finished = graph({ 'GET /c1?fields=status_code': { status_code: 'FINISHED', id: 'c1' }, 'POST /1784/media_publish': { id: 'm2' } });
    await expect(finished.publisher.publish(post, finished.context('c1'))).resolves.toEqual({ externalId: 'm2' });
    expect(finished.saved).toEqual([]);
    expect(JSON.parse(finished.requests[1].body!)).toEqual({ creation_id: 'c1' });

    const expired = graph({
      'GET /c1?fields=status_code': { status_code: 'EXPIRED', id: 'c1' },
      'POST /1784/media': { id: 'c2' },
      'POST /1784/media_publish': { id: 'm3' },
    });
    await expect(expired.publisher.publish(post, expired.context('c1'))).resolves.toEqual({ externalId: 'm3' });
    expect(expired.saved).toEqual(['c2']);

    const busy = graph({ 'GET /c1?fields=status_code': { status_code: 'IN_PROGRESS', id: 'c1' } });
    await expect(busy.publisher.publish(post, busy.context('c1'))).rejects.toMatchObject({ retryable: true });
  });

  it('a media_publish without an answer is an unknown outcome; a container call without one is a plain retry', async () => {
    const timeout = new ProviderError('Instagram Graph API', 'no answer within 10000 ms', true);
    const publishing = graph({ 'POST /1784/media': { id: 'c1' }, 'POST /1784/media_publish': timeout });
    await expect(publishing.publisher.publish(post, publishing.context(null))).rejects.toBeInstanceOf(PublishOutcomeUnknownError);

    const creating = graph({ 'POST /1784/media': timeout });
    await expect(creating.publisher.publish(post, creating.context(null))).rejects.toBe(timeout);
  });
});
