/**
 * The caller's organization. Tenant services take a TenantScope instead of a
 * bare id and build their `where` through it, so a query that forgets the
 * organization does not type-check by accident: `scope.where({ id })`.
 */
export class TenantScope {
  constructor(
    readonly organizationId: string,
    readonly userId: string,
  ) {}

  where<T extends object>(filter: T = {} as T): T & { organizationId: string } {
    return { ...filter, organizationId: this.organizationId };
  }
}
