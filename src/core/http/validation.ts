import { ValidationPipe } from '@nestjs/common';

/** The global pipe: strip nothing silently (unknown properties are a 400), no implicit coercion of JSON. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
  });
}
