/**
 * Enqueueing after the row is stored must not hang a request while Redis is
 * unreachable (the BullMQ connection retries forever): give up after `ms`,
 * the reconciler queues the stored message later. The abandoned `add` may
 * still land when Redis returns; the job id (the message id) makes that harmless.
 */
export async function enqueueWithin<T>(ms: number, add: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the queue did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([add(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const ENQUEUE_TIMEOUT_MS = 3000;
