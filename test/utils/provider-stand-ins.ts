/**
 * Local stand-ins for the outbound provider APIs (WhatsApp Cloud API, Resend,
 * Twilio, the Graph API for Instagram/Facebook, X), on node:http at
 * 127.0.0.1 with a free port. Each speaks its provider's real request,
 * response and error shapes, records every request, and can be scripted per
 * call (`script(route, ...responses)`) to answer errors, delays or dropped
 * connections before falling back to its normal behaviour.
 *
 *   const wa = await startWhatsAppStandIn({ phoneNumberId: '1001', accessToken: 't' });
 *   wa.script('messages', { status: 500, body: graphError(2, 'Service temporarily unavailable', 500) });
 *   ... WHATSAPP_API_URL: wa.url ...
 *   expect(wa.requestsTo('messages')[0].body.text.body).toBe('Olá Ana');
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import http, { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  /** Name of the route that matched (`unmatched` for none). */
  route: string;
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** JSON or form body, parsed; the raw text otherwise. */
  body: any;
  receivedAt: number;
  /** What the stand-in answered (undefined while pending, or when the connection was dropped). */
  response?: StandInResponse;
}

/** The most requests that arrived within any one second (a window opening at each request): what a provider's per-second limit sees. */
export function busiestSecond(requests: RecordedRequest[]): number {
  const times = requests.map((r) => r.receivedAt).sort((x, y) => x - y);
  let busiest = 0;
  for (const [i, start] of times.entries()) busiest = Math.max(busiest, times.slice(i).filter((at) => at < start + 1000).length);
  return busiest;
}

export interface StandInResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (a slow provider, or a timeout with a large value). */
  delayMs?: number;
}

/** A scripted answer: a response, or a connection closed without one. */
export type Scripted = StandInResponse | { drop: true; delayMs?: number };

export interface Route {
  name: string;
  method: string;
  /** Path with `:params`, e.g. `/:phoneId/messages`. */
  path: string;
  /** When several routes share a path: whether this one takes the request (by its query, say). */
  when?(req: { params: Record<string, string>; query: Record<string, string> }): boolean;
  handle(req: RecordedRequest): StandInResponse | Promise<StandInResponse>;
}

export class StandIn {
  readonly requests: RecordedRequest[] = [];
  /** Added to every answer; scripted answers may add their own. */
  delayMs = 0;
  url = '';
  private readonly scripts = new Map<string, Scripted[]>();
  private readonly compiled: { route: Route; regex: RegExp; keys: string[] }[];
  private readonly server: http.Server;
  private readonly sockets = new Set<import('node:net').Socket>();

  constructor(
    readonly name: string,
    routes: Route[],
  ) {
    this.compiled = routes.map((route) => {
      const keys: string[] = [];
      const source = route.path.replace(/[.]/g, '\\.').replace(/:([A-Za-z_]+)/g, (_m, key: string) => {
        keys.push(key);
        return '([^/]+)';
      });
      return { route, regex: new RegExp(`^${source}$`), keys };
    });
    this.server = http.createServer((req, res) => void this.serve(req, res));
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The next calls to `route` (`*` for any route) get these answers, in order, then the normal behaviour. */
  script(route: string, ...responses: Scripted[]): this {
    this.scripts.set(route, [...(this.scripts.get(route) ?? []), ...responses]);
    return this;
  }

  requestsTo(route: string): RecordedRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  /** Forgets recorded requests and pending scripts (state such as idempotency keys is kept). */
  reset(): void {
    this.requests.length = 0;
    this.scripts.clear();
    this.delayMs = 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const receivedAt = Date.now(); // when the request arrived, not when its body was read
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const match = this.match(req.method ?? 'GET', url.pathname, Object.fromEntries(url.searchParams));
    const recorded: RecordedRequest = {
      route: match?.route.name ?? 'unmatched',
      method: req.method ?? 'GET',
      path: url.pathname,
      params: match?.params ?? {},
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody,
      body: parseBody(req.headers['content-type'], rawBody),
      receivedAt,
    };
    this.requests.push(recorded);

    const scripted = this.nextScripted(recorded.route);
    let answer: Scripted;
    if (scripted) answer = scripted;
    else if (match) answer = await match.route.handle(recorded);
    else answer = { status: 404, body: { error: `${this.name} stand-in: no route for ${recorded.method} ${recorded.path}` } };

    const delay = this.delayMs + (answer.delayMs ?? 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if ('drop' in answer) {
      req.socket.destroy();
      return;
    }
    recorded.response = answer;
    const body = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'Content-Type': typeof answer.body === 'string' ? 'text/plain' : 'application/json',
      ...answer.headers,
    });
    res.end(body);
  }

  private match(method: string, path: string, query: Record<string, string>): { route: Route; params: Record<string, string> } | undefined {
    for (const { route, regex, keys } of this.compiled) {
      if (route.method !== method) continue;
      const m = regex.exec(path);
      if (!m) continue;
      const params = Object.fromEntries(keys.map((k, i) => [k, decodeURIComponent(m[i + 1])]));
      if (!route.when || route.when({ params, query })) return { route, params };
    }
    return undefined;
  }

  private nextScripted(route: string): Scripted | undefined {
    for (const key of [route, '*']) {
      const queue = this.scripts.get(key);
      if (queue && queue.length > 0) return queue.shift();
    }
    return undefined;
  }
}

function parseBody(contentType: string | undefined, raw: string): any {
  if (!raw) return undefined;
  if (contentType?.includes('application/json')) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw; // recorded as sent; the route answers the provider's parse error
    }
  }
  if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  return raw;
}

function bearer(req: RecordedRequest): string | undefined {
  const header = req.headers.authorization;
  return typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
}

// ---------------------------------------------------------------------------
// Graph API (WhatsApp Cloud API, Instagram, Facebook)

/** Graph API error body: `{ error: { message, type, code, error_subcode?, error_data?, fbtrace_id } }`. */
export function graphError(code: number, message: string, status = 400, extra: { type?: string; details?: string; subcode?: number } = {}): StandInResponse {
  return {
    status,
    body: {
      error: {
        message,
        type: extra.type ?? 'OAuthException',
        code,
        ...(extra.subcode !== undefined ? { error_subcode: extra.subcode } : {}),
        ...(extra.details ? { error_data: { messaging_product: 'whatsapp', details: extra.details } } : {}),
        fbtrace_id: randomBytes(9).toString('base64url'),
      },
    },
  };
}

/** WhatsApp error codes as the Cloud API sends them (status 400 unless said otherwise). */
export const whatsAppErrors = {
  rateLimited: () => graphError(130429, '(#130429) Rate limit hit', 400, { details: 'Cloud API message throughput has been reached.' }),
  pairRateLimited: () =>
    graphError(131056, '(#131056) (Business Account, Consumer Account) pair rate limit hit', 400, {
      details: 'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
    }),
  undeliverable: () => graphError(131026, '(#131026) Message undeliverable', 400, { details: 'Message Undeliverable.' }),
  invalidParameter: (what = 'to') => graphError(100, `(#100) Invalid parameter`, 400, { details: `Parameter '${what}' is invalid` }),
  expiredToken: () =>
    graphError(190, 'Error validating access token: Session has expired on Tuesday, 01-Jan-30 00:00:00 PST.', 401, { subcode: 463 }),
  serverError: () => graphError(2, 'Service temporarily unavailable', 503, { type: 'OAuthException' }),
};

export interface WhatsAppNumber {
  phoneNumberId: string;
  accessToken: string;
  displayPhoneNumber?: string;
  verifiedName?: string;
  /** The WhatsApp Business Account the number belongs to (its templates). */
  businessAccountId?: string;
}

/** A message template as the Graph API lists it. */
export interface WhatsAppTemplateFixture {
  name: string;
  language: string;
  status?: 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED' | 'DISABLED';
  category?: string;
  body: string;
}

export interface WhatsAppStandInOptions extends Partial<WhatsAppNumber> {
  /** Several numbers, each with its own token (a token only works for its own number). */
  numbers?: WhatsAppNumber[];
  /**
   * Posts Meta's signed status report of every accepted message to this
   * webhook (status `sent`, with the send's `biz_opaque_callback_data`), as
   * the Cloud API does.
   */
  reports?: { url: string; appSecret: string; delayMs?: number };
  /** Templates per business account, served by `GET /{wabaId}/message_templates` (route `templates`) in pages of `templatePageSize`. */
  templates?: Record<string, WhatsAppTemplateFixture[]>;
  templatePageSize?: number;
}

const unsupported = (id: string, verb = 'post') =>
  graphError(100, `Unsupported ${verb} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, 400, {
    type: 'GraphMethodException',
    subcode: 33,
  });

/**
 * The WhatsApp Cloud API: `POST /{phoneNumberId}/messages` (route `messages`)
 * and `GET /{phoneNumberId}?fields=…` (route `phone`, the live check). Each
 * number accepts only its own token.
 */
export async function startWhatsAppStandIn(opts: WhatsAppStandInOptions): Promise<StandIn> {
  const numbers = opts.numbers ?? [{ phoneNumberId: opts.phoneNumberId!, accessToken: opts.accessToken!, displayPhoneNumber: opts.displayPhoneNumber, verifiedName: opts.verifiedName }];
  const authorize = (req: RecordedRequest, verb: string): StandInResponse | WhatsAppNumber => {
    const token = bearer(req);
    if (!token) return graphError(190, 'An active access token must be used to query information about the current user.', 401);
    const number = numbers.find((n) => n.phoneNumberId === req.params.phoneNumberId);
    if (!numbers.some((n) => n.accessToken === token)) return graphError(190, 'Invalid OAuth access token - Cannot parse access token', 401);
    if (!number || number.accessToken !== token) return unsupported(req.params.phoneNumberId, verb);
    return number;
  };
  const report = (to: string, wamid: string, callbackData: unknown, phoneNumberId: string) => {
    if (!opts.reports?.url) return;
    const { url, appSecret, delayMs = 0 } = opts.reports;
    const payload = whatsAppStatusNotification(
      [{ id: wamid, status: 'sent', recipient: to, callbackData: typeof callbackData === 'string' ? callbackData : undefined }],
      phoneNumberId,
    );
    const raw = JSON.stringify(payload);
    setTimeout(() => {
      void fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': hubSignature(raw, appSecret) }, body: raw }).catch(() => undefined);
    }, delayMs).unref();
  };
  const templatesOf = (waba: string) => opts.templates?.[waba] ?? [];
  const pageSize = opts.templatePageSize ?? 2;
  const templateProblem = (number: WhatsAppNumber, t: { name?: string; language?: { code?: string }; components?: { type?: string; parameters?: unknown[] }[] }) => {
    const pool = number.businessAccountId ? templatesOf(number.businessAccountId) : Object.values(opts.templates ?? {}).flat();
    const found = pool.find((x) => x.name === t?.name && x.language === t?.language?.code);
    if (!found) return graphError(132001, '(#132001) Template name does not exist in the translation', 404, { details: `template name (${t?.name}) does not exist in ${t?.language?.code}` });
    const expected = new Set([...found.body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => m[1])).size;
    const given = t.components?.find((c) => c.type === 'body')?.parameters?.length ?? 0;
    if (given !== expected) {
      return graphError(132000, '(#132000) Number of parameters does not match the expected number of params', 400, {
        details: `body: number of localizable_params (${given}) does not match the expected number of params (${expected})`,
      });
    }
    return undefined;
  };
  const standIn: StandIn = new StandIn('WhatsApp Cloud API', [
    {
      name: 'templates',
      method: 'GET',
      path: '/:wabaId/message_templates',
      handle: (req) => {
        const token = bearer(req);
        if (!numbers.some((n) => n.accessToken === token)) return graphError(190, 'Invalid OAuth access token - Cannot parse access token', 401);
        const all = templatesOf(req.params.wabaId);
        const after = Number(req.query.after ?? 0);
        const page = all.slice(after, after + pageSize).map((t, i) => ({
          name: t.name,
          language: t.language,
          status: t.status ?? 'APPROVED',
          category: t.category ?? 'MARKETING',
          id: String(900000 + after + i),
          components: [{ type: 'HEADER', format: 'TEXT', text: 'Loja' }, { type: 'BODY', text: t.body }, { type: 'FOOTER', text: 'Responda PARAR para sair' }],
        }));
        const next = after + pageSize < all.length ? `${standIn.url}/${req.params.wabaId}/message_templates?limit=${req.query.limit ?? 100}&after=${after + pageSize}` : undefined;
        return { status: 200, body: { data: page, paging: { cursors: { before: String(after), after: String(after + pageSize) }, ...(next ? { next } : {}) } } };
      },
    },
    {
      name: 'phone',
      method: 'GET',
      path: '/:phoneNumberId',
      handle: (req) => {
        const number = authorize(req, 'get');
        if ('status' in number) return number;
        return {
          status: 200,
          body: {
            id: number.phoneNumberId,
            display_phone_number: number.displayPhoneNumber ?? '+55 11 90000-0000',
            verified_name: number.verifiedName ?? 'Loja Teste',
          },
        };
      },
    },
    {
      name: 'messages',
      method: 'POST',
      path: '/:phoneNumberId/messages',
      handle: (req) => {
        const number = authorize(req, 'post');
        if ('status' in number) return number;
        const b = req.body;
        if (typeof b !== 'object' || b === null) return graphError(100, '(#100) Invalid parameter', 400);
        if (b.messaging_product !== 'whatsapp') return graphError(100, '(#100) The parameter messaging_product is required.', 400);
        if (typeof b.to !== 'string' || !/^\d{6,15}$/.test(b.to)) return whatsAppErrors.invalidParameter('to');
        const type = b.type ?? 'text';
        if (type === 'text' && typeof b.text?.body !== 'string') return graphError(100, '(#100) The parameter text[\'body\'] is required.', 400);
        if (type === 'template') {
          const problem = templateProblem(number, b.template);
          if (problem) return problem;
        } else if (type !== 'text' && typeof b[type]?.link !== 'string' && typeof b[type]?.id !== 'string') {
          return graphError(100, `(#100) Param ${type}['link'] or ${type}['id'] is required.`, 400);
        }
        const wamid = `wamid.${randomBytes(24).toString('base64url')}`;
        report(b.to, wamid, b.biz_opaque_callback_data, number.phoneNumberId);
        return {
          status: 200,
          body: {
            messaging_product: 'whatsapp',
            contacts: [{ input: b.to, wa_id: b.to }],
            messages: [{ id: wamid }],
          },
        };
      },
    },
  ]);
  return standIn.listen();
}

export interface GraphStandInOptions {
  instagramAccountId?: string;
  instagramToken?: string;
  facebookPageId?: string;
  facebookPageToken?: string;
  /** More Instagram accounts, each with its own token. */
  instagramAccounts?: { accountId: string; token: string; username?: string }[];
  /** More Facebook pages, each with its own token. */
  pages?: { pageId: string; token: string; name?: string }[];
}

/** An Instagram media container as the stand-in keeps it (`status_code` as `GET /{container-id}` answers it). */
export interface IgContainer {
  id: string;
  status_code: 'EXPIRED' | 'ERROR' | 'FINISHED' | 'IN_PROGRESS' | 'PUBLISHED';
  caption: string;
  image_url: string;
  /** The IG Media it became once published. */
  mediaId?: string;
}

/** An IG Media of the account, newest first, as `GET /{ig-user-id}/media?fields=id,caption,timestamp` lists them. */
export interface IgMedia {
  id: string;
  caption: string;
  timestamp: string;
}

export interface GraphStandIn extends SocialStandIn {
  instagram: { containers: Map<string, IgContainer>; media: IgMedia[] };
}

/**
 * The Graph API for Instagram and Facebook pages. Routes: `ig-messages`
 * (`POST /{igId}/messages`), `ig-media` (`POST /{igId}/media`),
 * `ig-media-publish` (`POST /{igId}/media_publish`), `ig-container`
 * (`GET /{containerId}?fields=status_code`), `ig-user-media`
 * (`GET /{igId}/media`), `page-feed` (`POST /{pageId}/feed`), `page-photos`
 * (`POST /{pageId}/photos`). The token may come as a bearer header or an
 * `access_token` parameter. A container is FINISHED when created and
 * PUBLISHED once `media_publish` took it (publishing it again answers 9007);
 * `holdNext` keeps a social route's answer back after the platform did the work.
 */
export async function startGraphStandIn(opts: GraphStandInOptions): Promise<GraphStandIn> {
  const containers = new Map<string, IgContainer>();
  const media: IgMedia[] = [];
  const holds = new AnswerHolds();
  const accounts = [
    ...(opts.instagramAccountId ? [{ accountId: opts.instagramAccountId, token: opts.instagramToken!, username: 'loja.teste' }] : []),
    ...(opts.instagramAccounts ?? []),
  ];
  const pages = [...(opts.facebookPageId ? [{ pageId: opts.facebookPageId, token: opts.facebookPageToken!, name: 'Loja Teste' }] : []), ...(opts.pages ?? [])];
  const tokenOf = (req: RecordedRequest) => bearer(req) ?? req.query.access_token ?? req.body?.access_token;
  const known = (token: string | undefined) => !!token && (accounts.some((a) => a.token === token) || pages.some((p) => p.token === token));
  const checkIg = (req: RecordedRequest, id: string): StandInResponse | undefined => {
    const token = tokenOf(req);
    if (!known(token)) return graphError(190, 'Invalid OAuth access token - Cannot parse access token', 401);
    if (!accounts.some((a) => a.accountId === id && a.token === token)) return unsupported(id);
    return undefined;
  };
  const checkPage = (req: RecordedRequest, id: string): StandInResponse | undefined => {
    const token = tokenOf(req);
    if (!known(token)) return graphError(190, 'Invalid OAuth access token - Cannot parse access token', 401);
    if (!pages.some((p) => p.pageId === id && p.token === token)) return unsupported(id);
    return undefined;
  };
  const param = (req: RecordedRequest, key: string): string | undefined => req.body?.[key] ?? req.query[key];
  const numericId = () => String(17_800_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e12)));

  const standIn = new StandIn('Graph API', [
    {
      name: 'ig-messages',
      method: 'POST',
      path: '/:igId/messages',
      handle: (req) => {
        const denied = checkIg(req, req.params.igId);
        if (denied) return denied;
        const recipient = req.body?.recipient?.id;
        const message = req.body?.message;
        if (!recipient) return graphError(100, '(#100) The parameter recipient is required', 400);
        if (!message || (typeof message.text !== 'string' && !message.attachment)) return graphError(100, '(#100) The parameter message is required', 400);
        return { status: 200, body: { recipient_id: recipient, message_id: `aWdfZAG1f${randomBytes(18).toString('base64url')}` } };
      },
    },
    {
      name: 'ig-media',
      method: 'POST',
      path: '/:igId/media',
      handle: (req) => {
        const denied = checkIg(req, req.params.igId);
        if (denied) return denied;
        if (!param(req, 'image_url') && !param(req, 'video_url')) return graphError(100, '(#100) The parameter image_url is required', 400);
        const id = numericId();
        containers.set(id, { id, status_code: 'FINISHED', caption: param(req, 'caption') ?? '', image_url: param(req, 'image_url') ?? '' });
        return holds.after('ig-media', req, { status: 200, body: { id } });
      },
    },
    {
      name: 'ig-media-publish',
      method: 'POST',
      path: '/:igId/media_publish',
      handle: (req) => {
        const denied = checkIg(req, req.params.igId);
        if (denied) return denied;
        const container = containers.get(String(param(req, 'creation_id') ?? ''));
        if (!container || container.status_code !== 'FINISHED') {
          return graphError(9007, 'Media ID is not available', 400, { type: 'OAuthException', subcode: 2207027 });
        }
        container.status_code = 'PUBLISHED';
        container.mediaId = numericId();
        media.unshift({ id: container.mediaId, caption: container.caption, timestamp: graphTimestamp(new Date()) });
        return holds.after('ig-media-publish', req, { status: 200, body: { id: container.mediaId } });
      },
    },
    {
      name: 'ig-user-media',
      method: 'GET',
      path: '/:igId/media',
      handle: (req) => {
        const denied = checkIg(req, req.params.igId);
        if (denied) return denied;
        const fields = (req.query.fields ?? 'id').split(',');
        const limit = Math.min(Number(req.query.limit ?? 25) || 25, 100);
        const data = media.slice(0, limit).map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => k === 'id' || fields.includes(k))));
        return { status: 200, body: { data, paging: { cursors: { before: 'QVFIUb2', after: 'QVFIUa1' } } } };
      },
    },
    {
      name: 'page-feed',
      method: 'POST',
      path: '/:pageId/feed',
      handle: (req) => {
        const denied = checkPage(req, req.params.pageId);
        if (denied) return denied;
        if (!param(req, 'message') && !param(req, 'link')) return graphError(100, '(#100) Missing message or attachment', 400);
        return holds.after('page-feed', req, { status: 200, body: { id: `${req.params.pageId}_${numericId()}` } });
      },
    },
    {
      name: 'page-photos',
      method: 'POST',
      path: '/:pageId/photos',
      handle: (req) => {
        const denied = checkPage(req, req.params.pageId);
        if (denied) return denied;
        if (!param(req, 'url')) return graphError(324, '(#324) Requires upload file', 400);
        const photo = numericId();
        return holds.after('page-photos', req, { status: 200, body: { id: photo, post_id: `${req.params.pageId}_${numericId()}` } });
      },
    },
    {
      // A media container's status: the same path as any object, asked with `fields=status_code`.
      name: 'ig-container',
      method: 'GET',
      path: '/:containerId',
      when: ({ query }) => (query.fields ?? '').split(',').includes('status_code'),
      handle: (req) => {
        if (!known(tokenOf(req))) return graphError(190, 'Invalid OAuth access token - Cannot parse access token', 401);
        const container = containers.get(req.params.containerId);
        if (!container) return unsupported(req.params.containerId, 'get');
        return { status: 200, body: { status_code: container.status_code, id: container.id } };
      },
    },
    {
      // The live checks: an Instagram account (`?fields=id,username`) or a page (`?fields=id,name`), read with its own token.
      name: 'object',
      method: 'GET',
      path: '/:objectId',
      handle: (req) => {
        const token = tokenOf(req);
        if (!known(token)) return graphError(190, 'Invalid OAuth access token - Cannot parse access token', 401);
        const account = accounts.find((a) => a.accountId === req.params.objectId && a.token === token);
        if (account) return { status: 200, body: { id: account.accountId, username: account.username ?? 'loja.teste' } };
        const page = pages.find((p) => p.pageId === req.params.objectId && p.token === token);
        if (page) return { status: 200, body: { id: page.pageId, name: page.name ?? 'Loja Teste' } };
        return unsupported(req.params.objectId, 'get');
      },
    },
  ]);
  return Object.assign(await standIn.listen(), { holdNext: (route: string) => holds.next(route), instagram: { containers, media } });
}

/** Graph's time format: ISO 8601 in UTC with a `+0000` offset and no milliseconds. */
function graphTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19)}+0000`;
}

/** A social route's answer kept back after the platform did the work (the post exists): a late answer, or none. */
export interface HeldAnswer {
  /** Resolves once the request arrived and the platform acted on it. */
  arrived: Promise<RecordedRequest>;
  /** Sends the answer (to nobody, if the caller gave up or died meanwhile). */
  release(): void;
}

export interface SocialStandIn extends StandIn {
  /** Holds the answer of the next call to `route` (`ig-media-publish`, `page-feed`, `page-photos`, `tweets`…). */
  holdNext(route: string): HeldAnswer;
}

class AnswerHolds {
  private readonly pending = new Map<string, { arrive: (req: RecordedRequest) => void; released: Promise<void> }[]>();

  next(route: string): HeldAnswer {
    let arrive!: (req: RecordedRequest) => void;
    let release!: () => void;
    const arrived = new Promise<RecordedRequest>((resolve) => (arrive = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.pending.set(route, [...(this.pending.get(route) ?? []), { arrive, released }]);
    return { arrived, release };
  }

  async after(route: string, req: RecordedRequest, response: StandInResponse): Promise<StandInResponse> {
    const hold = this.pending.get(route)?.shift();
    if (!hold) return response;
    hold.arrive(req);
    await hold.released;
    return response;
  }
}

// ---------------------------------------------------------------------------
// Resend

/** Resend error body: `{ statusCode, name, message }`. */
export function resendError(status: number, name: string, message: string): StandInResponse {
  return { status, body: { statusCode: status, name, message } };
}

export const resendErrors = {
  rateLimited: () => resendError(429, 'rate_limit_exceeded', 'Too many requests. You can only make 2 requests per second. See rate limit response headers for more information. Or contact support to increase rate limit.'),
  validation: (message = 'Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.') =>
    resendError(422, 'validation_error', message),
  internal: () => resendError(500, 'internal_server_error', 'An unexpected error occurred.'),
};

export interface ResendStandIn extends StandIn {
  /** Emails actually accepted for delivery: one per idempotency key, however often it was sent. */
  deliveries: { id: string; idempotencyKey?: string; request: RecordedRequest }[];
}

/**
 * `POST /emails` of Resend (route `emails`), with its Idempotency-Key
 * semantics: a repeated key with the same body answers the first result and
 * delivers nothing more; with another body, `409 invalid_idempotent_request`.
 */
export interface ResendTeam {
  apiKey: string;
  /** The team's domains, as `GET /domains` lists them. */
  domains?: { name: string; status: 'verified' | 'pending' | 'failed' | 'not_started' }[];
}

export async function startResendStandIn(opts: { apiKey?: string; teams?: ResendTeam[] }): Promise<ResendStandIn> {
  const byKey = new Map<string, { body: string; response: StandInResponse }>();
  const deliveries: ResendStandIn['deliveries'] = [];
  const teams = [...(opts.apiKey ? [{ apiKey: opts.apiKey, domains: [{ name: 'zyva.dev', status: 'verified' as const }] }] : []), ...(opts.teams ?? [])];
  const authorize = (req: RecordedRequest): StandInResponse | ResendTeam => {
    const key = bearer(req);
    if (!key) return resendError(401, 'missing_api_key', 'Missing API key in the authorization header. Include the following header Authorization: Bearer YOUR_API_KEY in the request.');
    return teams.find((t) => t.apiKey === key) ?? resendError(403, 'invalid_api_key', 'API key is invalid');
  };
  const standIn = new StandIn('Resend', [
    {
      name: 'domains',
      method: 'GET',
      path: '/domains',
      handle: (req) => {
        const team = authorize(req);
        if ('status' in team) return team;
        const data = (team.domains ?? []).map((d, i) => ({ id: `d91cd9bd-1176-453e-8fc1-35364d38000${i}`, name: d.name, status: d.status, created_at: '2026-01-01 00:00:00+00', region: 'sa-east-1' }));
        return { status: 200, body: { object: 'list', has_more: false, data } };
      },
    },
    {
      name: 'emails',
      method: 'POST',
      path: '/emails',
      handle: (req) => {
        const team = authorize(req);
        if ('status' in team) return team;
        const idem = req.headers['idempotency-key'] as string | undefined;
        if (idem !== undefined && (idem.length < 1 || idem.length > 256)) {
          return resendError(400, 'invalid_idempotency_key', 'The key must be between 1-256 chars.');
        }
        if (idem && byKey.has(idem)) {
          const first = byKey.get(idem)!;
          if (first.body !== req.rawBody) {
            return resendError(409, 'invalid_idempotent_request', 'Same idempotency key used with a different request payload. Change your idempotency key or payload.');
          }
          return first.response;
        }
        const b = req.body;
        if (typeof b !== 'object' || b === null) return resendError(422, 'validation_error', 'Invalid JSON body.');
        for (const field of ['from', 'to', 'subject']) {
          if (!b[field] || (Array.isArray(b[field]) && b[field].length === 0)) return resendError(422, 'validation_error', `Missing \`${field}\` field.`);
        }
        if (!b.html && !b.text) return resendError(422, 'validation_error', 'Missing `html` or `text` field.');
        const recipients: string[] = Array.isArray(b.to) ? b.to : [b.to];
        if (recipients.some((to) => !/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(to))) return resendErrors.validation();
        const response: StandInResponse = { status: 200, body: { id: randomUUID() } };
        deliveries.push({ id: (response.body as { id: string }).id, idempotencyKey: idem, request: req });
        if (idem) byKey.set(idem, { body: req.rawBody, response });
        return response;
      },
    },
  ]);
  return Object.assign(await standIn.listen(), { deliveries });
}

// ---------------------------------------------------------------------------
// Twilio

/** Twilio error body: `{ code, message, more_info, status }`. */
export function twilioError(status: number, code: number, message: string): StandInResponse {
  return { status, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

export const twilioErrors = {
  invalidTo: (to: string) => twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`),
  tooManyRequests: () => twilioError(429, 20429, 'Too Many Requests'),
  unavailable: () => twilioError(503, 20503, 'Service Unavailable'),
};

export interface TwilioAccount {
  accountSid: string;
  authToken: string;
  from?: string;
  status?: 'active' | 'suspended' | 'closed';
  friendlyName?: string;
}

/**
 * Twilio: `POST /2010-04-01/Accounts/{sid}/Messages.json` (route `messages`,
 * form body, basic auth), the message list `GET …/Messages.json?To=&From=&DateSent>=`
 * (route `list`) and the account `GET /2010-04-01/Accounts/{sid}.json` (route `account`).
 */
export async function startTwilioStandIn(opts: Partial<TwilioAccount> & { accounts?: TwilioAccount[] }): Promise<StandIn> {
  const accounts = [...(opts.accountSid ? [{ accountSid: opts.accountSid, authToken: opts.authToken!, from: opts.from }] : []), ...(opts.accounts ?? [])];
  const sent: Record<string, unknown>[] = [];
  /** The account named in the path, if the basic credentials are its own. */
  const authorize = (req: RecordedRequest): TwilioAccount | undefined => {
    const account = accounts.find((a) => a.accountSid === req.params.accountSid);
    const expected = account && `Basic ${Buffer.from(`${account.accountSid}:${account.authToken}`).toString('base64')}`;
    return account && req.headers.authorization === expected ? account : undefined;
  };
  const denied = () => twilioError(401, 20003, 'Authenticate');
  return new StandIn('Twilio', [
    {
      name: 'account',
      method: 'GET',
      path: '/2010-04-01/Accounts/:accountSid.json',
      handle: (req) => {
        const a = authorize(req);
        if (!a) return denied();
        return { status: 200, body: { sid: a.accountSid, friendly_name: a.friendlyName ?? 'Loja Teste', status: a.status ?? 'active', type: 'Full' } };
      },
    },
    {
      name: 'list',
      method: 'GET',
      path: '/2010-04-01/Accounts/:accountSid/Messages.json',
      handle: (req) => {
        if (!authorize(req)) return denied();
        const since = req.query['DateSent>'];
        const messages = sent.filter(
          (m) =>
            m.account_sid === req.params.accountSid &&
            (!req.query.To || m.to === req.query.To) &&
            (!req.query.From || m.from === req.query.From) &&
            (!since || String(m.date_created_iso) >= since),
        );
        return { status: 200, body: { messages, page: 0, page_size: 50, next_page_uri: null } };
      },
    },
    {
      name: 'messages',
      method: 'POST',
      path: '/2010-04-01/Accounts/:accountSid/Messages.json',
      handle: (req) => {
        const opts = authorize(req);
        if (!opts) return denied();
        const b = (typeof req.body === 'object' && req.body) || {};
        if (!b.To) return twilioError(400, 21604, "A 'To' phone number is required.");
        if (!/^\+[1-9]\d{6,14}$/.test(b.To)) return twilioErrors.invalidTo(b.To);
        if (!b.From && !b.MessagingServiceSid) return twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.");
        if (opts.from && b.From && b.From !== opts.from) return twilioError(400, 21212, `The 'From' number ${b.From} is not a valid phone number, shortcode, or alphanumeric sender ID.`);
        if (!b.Body && !b.MediaUrl) return twilioError(400, 21602, 'Message body is required.');
        const sid = `SM${randomBytes(16).toString('hex')}`;
        const now = new Date().toUTCString().replace('GMT', '+0000');
        sent.push({ sid, account_sid: opts.accountSid, to: b.To, from: b.From ?? null, body: b.Body ?? '', status: 'sent', date_created: now, date_created_iso: new Date().toISOString().slice(0, 10) });
        return {
          status: 201,
          body: {
            account_sid: opts.accountSid,
            api_version: '2010-04-01',
            body: b.Body ?? '',
            date_created: now,
            date_sent: null,
            date_updated: now,
            direction: 'outbound-api',
            error_code: null,
            error_message: null,
            from: b.From ?? null,
            messaging_service_sid: b.MessagingServiceSid ?? null,
            num_media: b.MediaUrl ? '1' : '0',
            num_segments: '1',
            price: null,
            price_unit: 'USD',
            sid,
            status: 'queued',
            subresource_uris: { media: `/2010-04-01/Accounts/${opts.accountSid}/Messages/${sid}/Media.json` },
            to: b.To,
            uri: `/2010-04-01/Accounts/${opts.accountSid}/Messages/${sid}.json`,
          },
        };
      },
    },
  ]).listen();
}

// ---------------------------------------------------------------------------
// X (Twitter API v2)

/** X API v2 problem body: `{ title, detail, type, status }`. */
export function xError(status: number, title: string, detail: string, type = 'about:blank', headers?: Record<string, string>): StandInResponse {
  return { status, body: { title, detail, type, status }, headers };
}

export const xErrors = {
  tooManyRequests: (resetInSeconds = 900) =>
    xError(429, 'Too Many Requests', 'Too Many Requests', 'about:blank', {
      'x-rate-limit-limit': '200',
      'x-rate-limit-remaining': '0',
      'x-rate-limit-reset': String(Math.floor(Date.now() / 1000) + resetInSeconds),
    }),
  duplicate: () => xError(403, 'Forbidden', 'You are not allowed to create a Tweet with duplicate content.'),
  unauthorized: () => xError(401, 'Unauthorized', 'Unauthorized'),
};

/** `POST /2/tweets` of the X API v2 (route `tweets`) and `GET /2/users/me` (route `me`), bearer token of a user; `holdNext('tweets')` answers late. */
export async function startXStandIn(opts: { bearerToken?: string; users?: { token: string; id: string; username: string }[] }): Promise<SocialStandIn> {
  const texts = new Set<string>();
  const holds = new AnswerHolds();
  const users = [...(opts.bearerToken ? [{ token: opts.bearerToken, id: '1600000000000000001', username: 'lojateste' }] : []), ...(opts.users ?? [])];
  const standIn = new StandIn('X API', [
    {
      name: 'me',
      method: 'GET',
      path: '/2/users/me',
      handle: (req) => {
        const user = users.find((u) => u.token === bearer(req));
        if (!user) return xErrors.unauthorized();
        return { status: 200, body: { data: { id: user.id, name: user.username, username: user.username } } };
      },
    },
    {
      name: 'tweets',
      method: 'POST',
      path: '/2/tweets',
      handle: (req) => {
        if (!users.some((u) => u.token === bearer(req))) return xErrors.unauthorized();
        const text = req.body?.text;
        if (typeof text !== 'string' || text.length === 0 || [...text].length > 280) {
          return {
            status: 400,
            body: {
              errors: [{ parameters: { text: [String(text ?? '')] }, message: 'text must be 1 to 280 characters' }],
              title: 'Invalid Request',
              detail: 'One or more parameters to your request was invalid.',
              type: 'https://api.twitter.com/2/problems/invalid-request',
            },
          };
        }
        if (texts.has(text)) return xErrors.duplicate();
        texts.add(text);
        const id = String(1_800_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e15)));
        return holds.after('tweets', req, { status: 201, body: { data: { id, text, edit_history_tweet_ids: [id] } } });
      },
    },
  ]);
  return Object.assign(await standIn.listen(), { holdNext: (route: string) => holds.next(route) });
}

// ---------------------------------------------------------------------------
// Signing inbound webhooks as the providers do

/** Meta's `X-Hub-Signature-256` value for a raw body. */
export function hubSignature(rawBody: string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/** Svix headers (Resend webhooks) for a raw body, with a `whsec_…` secret. */
export function svixHeaders(rawBody: string, secret: string, opts: { id?: string; timestamp?: number } = {}): Record<string, string> {
  const id = opts.id ?? `msg_${randomBytes(12).toString('hex')}`;
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest('base64');
  return { 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': `v1,${signature}` };
}

export interface WhatsAppStatusReport {
  id: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  timestamp?: number;
  recipient?: string;
  /** Echoed as Meta does from the send's `biz_opaque_callback_data`. */
  callbackData?: string;
  error?: { code: number; title: string; message?: string };
}

/** A WhatsApp status notification as Meta posts it, for the number `phoneNumberId`. */
export function whatsAppStatusNotification(statuses: WhatsAppStatusReport[], phoneNumberId = '106540352242922') {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
              statuses: statuses.map((s) => ({
                id: s.id,
                status: s.status,
                timestamp: String(s.timestamp ?? Math.floor(Date.now() / 1000)),
                recipient_id: s.recipient ?? '5511999990000',
                ...(s.callbackData ? { biz_opaque_callback_data: s.callbackData } : {}),
                ...(s.status !== 'failed'
                  ? { conversation: { id: randomBytes(16).toString('hex'), origin: { type: 'marketing' } }, pricing: { billable: true, pricing_model: 'CBP', category: 'marketing' } }
                  : {}),
                ...(s.error ? { errors: [{ code: s.error.code, title: s.error.title, message: s.error.message ?? s.error.title, error_data: { details: s.error.title } }] } : {}),
              })),
            },
          },
        ],
      },
    ],
  };
}
