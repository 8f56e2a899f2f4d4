import { Body, Controller, HttpCode, HttpStatus, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../../core/http/pagination.dto';
import { Public } from '../../core/auth/auth.decorators';
import { ExecutionStartedDto, StartExecutionDto } from './dto/execution.dto';
import { FlowTriggersService } from './flow-triggers.service';
import { FlowWebhookGuard, WebhookRequest } from './flow-webhook.guard';
import { IdempotencyKey } from '../../core/http/idempotency-key.decorator';
import { bodyDigest } from './webhook-signature';
import { ApiPublic, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('webhooks')
@Public()
@ApiPublic()
@ApiStandardErrors(400, 429)
@Controller('api/webhooks/flows')
export class FlowWebhooksController {
  constructor(private readonly triggers: FlowTriggersService) {}

  @Post(':id')
  @UseGuards(FlowWebhookGuard)
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Start a WEBHOOK flow run (signed with the flow secret)',
    description:
      'Sign the exact bytes of the JSON body: `X-Zyva-Signature: sha256=<hex HMAC-SHA256(body, webhookSecret)>`. ' +
      'A redelivered event (same Idempotency-Key, or the same body when there is none) starts nothing new.',
  })
  @ApiParam({ name: 'id', description: 'The WEBHOOK flow' })
  @ApiHeader({ name: 'X-Zyva-Signature', required: true, example: 'sha256=5d41402abc4b2a76b9719d911017c592…' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiAcceptedResponse(limited({ type: ExecutionStartedDto }))
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing or invalid signature' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No WEBHOOK flow with this id, or no such contact' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The flow is inactive' })
  async receive(
    @Req() request: WebhookRequest,
    @Body() dto: StartExecutionDto,
    @IdempotencyKey() idempotencyKey?: string,
  ): Promise<ExecutionStartedDto> {
    const eventKey = idempotencyKey ?? bodyDigest(request.rawBody ?? Buffer.alloc(0));
    const { executionId } = await this.triggers.webhook(request.webhookFlow!, dto, eventKey);
    return { executionId };
  }
}
