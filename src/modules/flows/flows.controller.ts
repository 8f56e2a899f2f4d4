import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorResponseDto, PaginationQueryDto } from '../../core/http/pagination.dto';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import { ExecutionPageDto, ExecutionStartedDto, ExecutionsQueryDto, StartExecutionDto } from './dto/execution.dto';
import { CreateFlowDto, FlowDto, FlowPageDto, UpdateFlowDto } from './dto/flow.dto';
import { FlowExecutionsService } from './flow-executions.service';
import { FlowTriggersService } from './flow-triggers.service';
import { FlowsService } from './flows.service';
import { IdempotencyKey } from '../../core/http/idempotency-key.decorator';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('flows')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such flow in your organization' })
@Controller('api/flows')
export class FlowsController {
  constructor(
    private readonly flows: FlowsService,
    private readonly executions: FlowExecutionsService,
    private readonly triggers: FlowTriggersService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a flow; a WEBHOOK flow answers its signing secret this once' })
  @ApiCreatedResponse(limited({ type: FlowDto }))
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid trigger or steps (each bad step named)' })
  create(@Tenant() scope: TenantScope, @Body() dto: CreateFlowDto): Promise<FlowDto> {
    return this.flows.create(scope, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List the flows of your organization, newest first' })
  @ApiOkResponse(limited({ type: FlowPageDto }))
  list(@Tenant() scope: TenantScope, @Query() query: PaginationQueryDto) {
    return this.flows.list(scope, query.page, query.limit);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One flow' })
  @ApiOkResponse(limited({ type: FlowDto }))
  get(@Tenant() scope: TenantScope, @Param('id') id: string): Promise<FlowDto> {
    return this.flows.get(scope, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Edit a flow (new version; runs in progress keep theirs). active=false stops new runs' })
  @ApiOkResponse(limited({ type: FlowDto }))
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  update(@Tenant() scope: TenantScope, @Param('id') id: string, @Body() dto: UpdateFlowDto): Promise<FlowDto> {
    return this.flows.update(scope, id, dto);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a flow and its runs' })
  @ApiNoContentResponse()
  remove(@Tenant() scope: TenantScope, @Param('id') id: string): Promise<void> {
    return this.flows.remove(scope, id);
  }

  @Post(':id/executions')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Start a MANUAL run for a contact' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Repeating a key answers the run it started' })
  @ApiAcceptedResponse(limited({ type: ExecutionStartedDto }))
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The flow is inactive' })
  async start(
    @Tenant() scope: TenantScope,
    @Param('id') id: string,
    @Body() dto: StartExecutionDto,
    @IdempotencyKey() idempotencyKey?: string,
  ): Promise<ExecutionStartedDto> {
    const { executionId } = await this.triggers.manual(scope, id, dto, idempotencyKey);
    return { executionId };
  }

  @Get(':id/executions')
  @ApiOperation({ summary: "A flow's runs, newest first, with status and current step" })
  @ApiOkResponse(limited({ type: ExecutionPageDto }))
  executionsOf(@Tenant() scope: TenantScope, @Param('id') id: string, @Query() query: ExecutionsQueryDto) {
    return this.executions.list(scope, id, query.page, query.limit, query.status);
  }
}
