import { ValidationPipe } from '@nestjs/common';
import * as classTransformer from 'class-transformer';
import * as classValidator from 'class-validator';

/** The global pipe: strip nothing silently (unknown properties are a 400), no implicit coercion of JSON. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    // The same copies the DTO decorators registered with (not a lazily required one: a test app
    // built from an isolated module registry would otherwise lose the @Type conversions).
    transformerPackage: classTransformer,
    validatorPackage: classValidator,
  });
}
