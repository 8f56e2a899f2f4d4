import { Controller, Get, Headers, HttpCode, HttpStatus, Param, Post, Query, Req, Res, type RawBodyRequest } from '@nestjs/common';
import {
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

class WebhookResultDto {
  @ApiProperty({ example: 2, description: 'Status reports in the request' }) received: number;
  @ApiProperty({ example: 1, description: 'Reports that moved a message forward (others were late or unknown)' }) applied: number;
}

/** Delivery reports from the providers; public, authenticated by their signatures. */
@ApiTags('webhooks')
@Public()
@Controller('api/webhooks')
export class ProviderWebhooksController {
  constructor(private readonly webhooks: ProviderWebhooksService) {}

  @Get('whatsapp')
  @ApiOperation({ summary: "WhatsApp subscription check: answers hub.challenge when hub.verify_token is WHATSAPP_VERIFY_TOKEN" })
  @ApiQuery({ name: 'hub.mode', example: 'subscribe' })
  @ApiQuery({ name: 'hub.verify_token' })
  @ApiQuery({ name: 'hub.challenge', example: '1158201444' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'The challenge, as text' })
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
  @ApiHeader({ name: 'X-Hub-Signature-256', description: 'sha256=<hex HMAC-SHA256 of the raw body with WHATSAPP_APP_SECRET>' })
  @ApiOkResponse({ type: WebhookResultDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing or wrong signature' })
  whatsapp(@Req() req: RawBodyRequest<FastifyRequest>, @Headers('x-hub-signature-256') signature?: string): Promise<WebhookResultDto> {
    return this.webhooks.whatsapp(req.rawBody, signature, req.body);
  }

  @Post('resend')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Resend email events (delivered, opened, bounced, failed), signed with Svix headers' })
  @ApiHeader({ name: 'svix-id' })
  @ApiHeader({ name: 'svix-timestamp', description: 'Unix seconds; more than 5 minutes off is refused' })
  @ApiHeader({ name: 'svix-signature', description: 'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"> with RESEND_WEBHOOK_SECRET' })
  @ApiOkResponse({ type: WebhookResultDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, wrong or stale signature' })
  resend(
    @Req() req: RawBodyRequest<FastifyRequest>,
    @Headers('svix-id') id?: string,
    @Headers('svix-timestamp') timestamp?: string,
    @Headers('svix-signature') signature?: string,
  ): Promise<WebhookResultDto> {
    return this.webhooks.resend(req.rawBody, { id, timestamp, signature }, req.body);
  }

  @Post('resend/:connectionId')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: "A store's Resend events (delivered, opened, bounced, failed), Svix-signed with that connection's webhookSecret" })
  @ApiHeader({ name: 'svix-id' })
  @ApiHeader({ name: 'svix-timestamp', description: 'Unix seconds; more than 5 minutes off is refused' })
  @ApiHeader({ name: 'svix-signature', description: "v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\"> with the connection's webhookSecret" })
  @ApiOkResponse({ type: WebhookResultDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, wrong or stale signature, or an unknown connection' })
  resendConnection(
    @Param('connectionId') connectionId: string,
    @Req() req: RawBodyRequest<FastifyRequest>,
    @Headers('svix-id') id?: string,
    @Headers('svix-timestamp') timestamp?: string,
    @Headers('svix-signature') signature?: string,
  ): Promise<WebhookResultDto> {
    return this.webhooks.resendConnection(connectionId, req.rawBody, { id, timestamp, signature }, req.body);
  }

  @Post('twilio/:connectionId')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: "A store's Twilio status callbacks and inbound messages (form-encoded), signed with X-Twilio-Signature; answers TwiML",
  })
  @ApiHeader({ name: 'X-Twilio-Signature', description: "base64 HMAC-SHA1 of the connection's webhookUrl and the sorted parameters, keyed with its auth token" })
  @ApiProduces('text/xml')
  @ApiOkResponse({ description: 'Empty TwiML: <Response/>', schema: { type: 'string', example: EMPTY_TWIML } })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing or wrong signature, or an unknown connection' })
  async twilio(
    @Param('connectionId') connectionId: string,
    @Req() req: FastifyRequest,
    @Headers('x-twilio-signature') signature: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    await this.webhooks.twilio(connectionId, signature, req.body);
    void reply.type('text/xml; charset=utf-8');
    return EMPTY_TWIML;
  }
}
