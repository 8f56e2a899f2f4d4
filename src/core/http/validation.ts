import { ArgumentMetadata, Type, UnsupportedMediaTypeException, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import * as classTransformer from 'class-transformer';
import * as classValidator from 'class-validator';
import { takesNoJson } from './input-guards';

const REGISTRY_CHECK = Symbol('zyva:registry-check');

interface RegistryCheck<P = unknown, B = unknown> {
  provider: () => Type<P>;
  problems: (provider: P, body: B) => string[];
}

/**
 * Class decorator of a body DTO: what only a provider can tell (a channel no
 * sender serves, a flow step no handler knows) is checked with the DTO's own
 * validation, so that one 400 lists every offending field. `provider` is a
 * thunk, as DTOs and registries may import each other.
 */
export function CheckedWith<P, B>(provider: () => Type<P>, problems: (provider: P, body: B) => string[]): ClassDecorator {
  return (target) => Reflect.defineMetadata(REGISTRY_CHECK, { provider, problems }, target);
}

class AppValidationPipe extends ValidationPipe {
  constructor(
    options: ValidationPipeOptions,
    private readonly moduleRef?: ModuleRef,
  ) {
    super(options);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && takesNoJson(value)) throw new UnsupportedMediaTypeException('Send the body as JSON, with Content-Type: application/json.');
    return super.transform(value, metadata);
  }

  protected override async validate(object: object, validatorOptions?: classValidator.ValidatorOptions): Promise<classValidator.ValidationError[]> {
    const errors = await super.validate(object, validatorOptions);
    const check = Reflect.getMetadata(REGISTRY_CHECK, object.constructor) as RegistryCheck | undefined;
    if (!check || !this.moduleRef) return errors;
    const problems = check.problems(this.moduleRef.get(check.provider(), { strict: false }), object);
    return [...errors, ...problems.map((message) => Object.assign(new classValidator.ValidationError(), { property: '', constraints: { registry: message }, children: [] }))];
  }
}

/**
 * The global pipe: strip nothing silently (unknown properties are a 400), no implicit coercion of JSON.
 * With the app's ModuleRef, it also runs the DTOs' `@CheckedWith` checks.
 */
export function createValidationPipe(moduleRef?: ModuleRef): ValidationPipe {
  return new AppValidationPipe(
    {
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      validationError: { target: false, value: false },
      // The same copies the DTO decorators registered with (not a lazily required one: a test app
      // built from an isolated module registry would otherwise lose the @Type conversions).
      transformerPackage: classTransformer,
      validatorPackage: classValidator,
    },
    moduleRef,
  );
}

/**
 * `@Omittable()`, instead of `@IsOptional()`, for a property that may be left out but has no null: `null`
 * is then checked like any other value (a 400 naming the property). `@IsOptional()` lets null through, which
 * is right only where null means something (a birthday cleared, an image removed).
 */
export const Omittable = () => classValidator.ValidateIf((_object: object, value: unknown) => value !== undefined);

/** `@Transform(trimmed)`: spaces around a name or tag are no part of it, and one of only spaces is empty (a 400). */
export const trimmed = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

/** A text that must say something: at least one character that is not a space (its own spacing is kept). */
export const HasText = () => classValidator.Matches(/\S/, { message: ({ property }) => `${property} must not be only spaces` });
