import { Controller, Get, Headers, HttpCode, HttpStatus, Post, Query, Req, Res, type RawBodyRequest } from '@nestjs/common';
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
import { ProviderWebhooksService } from './provider-webhooks.service';
import { ApiPublic, ApiStandardErrors, limited } from '../../../core/http/api-docs';

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
}
