import type { Role } from '../../generated/prisma/enums';

/** What a session key holds (`zyva:session:{token}`). */
export interface SessionData {
  userId: string;
  role: Role;
  organizationId: string | null;
  createdAt: number;
}

/** The authenticated caller, attached to the request by the AuthGuard. */
export interface AuthContext extends SessionData {
  token: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthContext;
  }
}

export const SESSION_COOKIE = 'zyva_session';
export const SESSION_TTL_SECONDS = 7 * 24 * 3600;
export const TOKEN_TTL_SECONDS = 3600;
