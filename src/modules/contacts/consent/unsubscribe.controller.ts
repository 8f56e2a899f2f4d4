import { Controller, Get, HttpCode, HttpStatus, Param, Post, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../../../core/auth/auth.decorators';
import { ChecksOwnPathParams } from '../../../core/http/input-guards';
import { IgnoreBody } from './ignored-body';
import { type HtmlPage, PAGE_HEADERS, UNSUBSCRIBE_PATH } from './unsubscribe-page';
import { UnsubscribeService } from './unsubscribe.service';

const html = (description: string, example: string) => ({ description, content: { 'text/html': { schema: { type: 'string', example } } } });
const NOT_FOUND = html('Unknown, altered or forged token, or a contact that no longer exists: a small HTML page saying the link is invalid', '<!doctype html>…<h1>Link inválido</h1>…');
const TOKEN = {
  name: 'token',
  description: 'From ConsentService.unsubscribeUrl (the List-Unsubscribe header and the footer of store emails)',
  example: 'cm3x0rg4n1zat10n.cm3x1c0n7act.EMAIL.q1w2e3r4t5y6u7i8o9p0as',
};

function send(reply: FastifyReply, page: HtmlPage): string {
  void reply.status(page.status).headers(PAGE_HEADERS);
  return page.html;
}

/**
 * Public: the token is the only credential, and neither a session nor the plan limiter applies. A token the
 * verifier cannot read (a NUL in it included) is the invalid-link page like any forgery, not the API's 400.
 */
@ApiTags('consent')
@Public()
@Controller(UNSUBSCRIBE_PATH)
export class UnsubscribeController {
  constructor(private readonly unsubscribe: UnsubscribeService) {}

  @Get(':token')
  @ChecksOwnPathParams()
  @ApiOperation({
    summary: "The unsubscribe page: names the store and shows a button that POSTs (one-click). Opening it changes nothing, since mail scanners open links",
    security: [],
  })
  @ApiParam(TOKEN)
  @ApiProduces('text/html')
  @ApiOkResponse(html('An HTML page naming the store, with a form that POSTs to this same address', '<!doctype html>…<h1>Parar de receber e-mails de Loja da Ana</h1>…'))
  @ApiNotFoundResponse(NOT_FOUND)
  async page(@Param('token') token: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    return send(reply, await this.unsubscribe.page(token));
  }

  @Post(':token')
  @HttpCode(HttpStatus.OK)
  @IgnoreBody()
  @ChecksOwnPathParams()
  @ApiOperation({
    summary:
      'RFC 8058 one-click unsubscribe: the contact is OPTED_OUT of the token\'s channel (source UNSUBSCRIBE_LINK). ' +
      'Any body (List-Unsubscribe=One-Click form-encoded or multipart, JSON, or none) is accepted and ignored. ' +
      'Again: 200, nothing new recorded',
    security: [],
  })
  @ApiParam(TOKEN)
  @ApiConsumes('application/x-www-form-urlencoded', 'multipart/form-data', 'application/json')
  @ApiBody({
    required: false,
    description: 'Ignored; mailbox providers send List-Unsubscribe=One-Click',
    schema: { type: 'object', properties: { 'List-Unsubscribe': { type: 'string', example: 'One-Click' } } },
  })
  @ApiProduces('text/html')
  @ApiOkResponse(html('A small HTML confirmation naming the store', '<!doctype html>…<h1>Inscrição cancelada</h1>…'))
  @ApiNotFoundResponse(NOT_FOUND)
  async unsubscribeNow(@Param('token') token: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    return send(reply, await this.unsubscribe.unsubscribe(token));
  }
}
