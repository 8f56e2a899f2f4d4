import { Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Req, Res, type RawBodyRequest } from '@nestjs/common';
import {
  ApiBody,
  ApiForbiddenResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiProperty,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorResponseDto } from '../../../core/http/pagination.dto';
import { Public } from '../../../core/auth/auth.decorators';
import { EMPTY_TWIML, ProviderWebhooksService } from './provider-webhooks.service';
import { ApiPublic, ApiStandardErrors, limited } from '../../../core/http/api-docs';
import { HeaderValue } from '../../../core/http/header-value';

/** The parts of Meta's notification Zyva reads; other fields are accepted and ignored. */
class WhatsAppWebhookDto {
  @ApiProperty({ example: 'whatsapp_business_account' }) object: string;
  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    example: [{ id: '1029384756', changes: [{ field: 'messages', value: { statuses: [{ id: 'wamid.HBgL…', status: 'delivered', timestamp: '1764590400' }] } }] }],
  })
  entry: Record<string, unknown>[];
}

/** A Resend event: its type and the email it is about. */
class ResendWebhookDto {
  @ApiProperty({ example: 'email.delivered' }) type: string;
  @ApiProperty({ format: 'date-time', example: '2026-12-01T12:00:00.000Z' }) created_at: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { email_id: '4ef9a417-02e9-4d39-ad75-9611e0fcc33c' } })
  data: Record<string, unknown>;
}

/** The parameters Zyva reads of a Twilio callback (a status report, or an inbound SMS); Twilio sends more, all signed. */
class TwilioWebhookDto {
  @ApiProperty({ example: 'SM0123456789abcdef0123456789abcdef' }) MessageSid: string;
  @ApiProperty({ required: false, example: 'delivered', description: 'Status reports: queued, sent, delivered, undelivered, failed, read; inbound: received' })
  MessageStatus?: string;
  @ApiProperty({ required: false, example: '+5511987654321' }) From?: string;
  @ApiProperty({ required: false, example: 'PARAR', description: 'Inbound messages: the text' }) Body?: string;
  @ApiProperty({ required: false, example: '30003' }) ErrorCode?: string;
}

class WebhookResultDto {
  @ApiProperty({ example: 2, description: 'Status reports in the request' }) received: number;
  @ApiProperty({ example: 1, description: 'Reports that moved a message forward (others were late or unknown)' }) applied: number;
}

/** Delivery reports from the providers; public, authenticated by their signatures. */
@ApiTags('webhooks')
@Public()
@ApiPublic()
@Controller('api/webhooks')
export class ProviderWebhooksController {
  constructor(private readonly webhooks: ProviderWebhooksService) {}

  @Get('whatsapp')
  @ApiOperation({ summary: "WhatsApp subscription check: answers hub.challenge when hub.verify_token is WHATSAPP_VERIFY_TOKEN" })
  @ApiQuery({ name: 'hub.mode', example: 'subscribe' })
  @ApiQuery({ name: 'hub.verify_token' })
  @ApiQuery({ name: 'hub.challenge', example: '1158201444' })
  @ApiProduces('text/plain')
  @ApiOkResponse(limited({ description: 'The challenge, as text' }))
  @ApiForbiddenResponse({ type: ErrorResponseDto })
  verify(
    @Query('hub.mode') mode: string | undefined,
    @Query('hub.verify_token') token: string | undefined,
    @Query('hub.challenge') challenge: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): string {
    const answer = this.webhooks.verifyWhatsAppSubscription(mode, token, challenge);
    void reply.type('text/plain; charset=utf-8');
    return answer;
  }

  @Post('whatsapp')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'WhatsApp Cloud API status notifications (delivered, read, failed), signed with X-Hub-Signature-256' })
  @ApiHeader({ name: 'X-Hub-Signature-256', required: true, description: 'sha256=<hex HMAC-SHA256 of the raw body with WHATSAPP_APP_SECRET>' })
  @ApiBody({ type: WhatsAppWebhookDto, description: 'The WhatsApp Cloud API notification, as Meta sends it (signed over its exact bytes)' })
  @ApiStandardErrors(400, 429)
  @ApiOkResponse(limited({ type: WebhookResultDto }))
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing or wrong signature' })
  whatsapp(@Req() req: RawBodyRequest<FastifyRequest>, @HeaderValue('x-hub-signature-256') signature?: string): Promise<WebhookResultDto> {
    return this.webhooks.whatsapp(req.rawBody, signature, req.body);
  }

  @Post('resend')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Resend email events (delivered, opened, bounced, failed), signed with Svix headers' })
  @ApiHeader({ name: 'svix-id', required: true })
  @ApiHeader({ name: 'svix-timestamp', required: true, description: 'Unix seconds; more than 5 minutes off is refused' })
  @ApiHeader({ name: 'svix-signature', required: true, description: 'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"> with RESEND_WEBHOOK_SECRET' })
  @ApiBody({ type: ResendWebhookDto, description: 'The Resend event, as Resend (Svix) sends it' })
  @ApiStandardErrors(400, 429)
  @ApiOkResponse(limited({ type: WebhookResultDto }))
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, wrong or stale signature' })
  resend(
    @Req() req: RawBodyRequest<FastifyRequest>,
    @HeaderValue('svix-id') id?: string,
    @HeaderValue('svix-timestamp') timestamp?: string,
    @HeaderValue('svix-signature') signature?: string,
  ): Promise<WebhookResultDto> {
    return this.webhooks.resend(req.rawBody, { id, timestamp, signature }, req.body);
  }

  @Post('resend/:connectionId')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: "A store's Resend events (delivered, opened, bounced, complained, failed), Svix-signed with that connection's webhookSecret" })
  @ApiHeader({ name: 'svix-id', required: true })
  @ApiHeader({ name: 'svix-timestamp', required: true, description: 'Unix seconds; more than 5 minutes off is refused' })
  @ApiHeader({ name: 'svix-signature', required: true, description: "v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\"> with the connection's webhookSecret" })
  @ApiBody({ type: ResendWebhookDto, description: 'The Resend event, as Resend (Svix) sends it' })
  @ApiStandardErrors(400, 429)
  @ApiOkResponse(limited({ type: WebhookResultDto }))
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, wrong or stale signature, or an unknown connection' })
  resendConnection(
    @Param('connectionId') connectionId: string,
    @Req() req: RawBodyRequest<FastifyRequest>,
    @HeaderValue('svix-id') id?: string,
    @HeaderValue('svix-timestamp') timestamp?: string,
    @HeaderValue('svix-signature') signature?: string,
  ): Promise<WebhookResultDto> {
    return this.webhooks.resendConnection(connectionId, req.rawBody, { id, timestamp, signature }, req.body);
  }

  @Post('twilio/:connectionId')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: "A store's Twilio status callbacks and inbound SMS (form-encoded), signed with X-Twilio-Signature; answers TwiML" })
  @ApiHeader({
    name: 'X-Twilio-Signature',
    required: true,
    description: "base64 HMAC-SHA1 of the connection's webhookUrl followed by the sorted parameters, keyed with its auth token",
  })
  @ApiBody({ type: TwilioWebhookDto, description: 'Twilio posts application/x-www-form-urlencoded parameters' })
  @ApiProduces('text/xml')
  @ApiStandardErrors(400, 429)
  @ApiOkResponse(limited({ description: 'Empty TwiML: `<Response/>`, Content-Type `text/xml`', schema: { type: 'string', example: EMPTY_TWIML } }))
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing or wrong signature, or an unknown connection' })
  async twilio(
    @Param('connectionId') connectionId: string,
    @Req() req: FastifyRequest,
    @HeaderValue('x-twilio-signature') signature: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    await this.webhooks.twilio(connectionId, signature, req.body);
    void reply.type('text/xml');
    return EMPTY_TWIML;
  }
}
