import type { Config } from "../config.js";
import { HubError } from "../errors.js";
import type { Ingestor, PublishOptions, PublishResult } from "../ingest/ingestor.js";
import { eventsFromJson } from "../ingest/normalize.js";

/** An event a library caller publishes. */
export interface PublishInput {
  topic?: string;
  type?: string;
  id?: string;
  key?: string;
  source?: string;
  subject?: string;
  time?: string | number;
  data: unknown;
  attributes?: Record<string, string>;
}

/** Options of {@link createPublish}. */
export interface LibraryPublishOptions {
  ingestor: Pick<Ingestor, "publish">;
  config: Pick<Config, "maxBatchEvents">;
  now: () => number;
}

/**
 * The library's `hub.publish`: normalises inputs as `POST /events` does (one or several, all or nothing) and
 * resolves once they are committed. Invalid input rejects; it never throws synchronously.
 */
export function createPublish({ ingestor, config, now }: LibraryPublishOptions) {
  return (input: PublishInput | PublishInput[], options?: Pick<PublishOptions, "idempotencyKey">): Promise<PublishResult> => {
    const receivedAt = now();
    let events;
    try {
      const items = Array.isArray(input) ? input : [input];
      if (items.length === 0) throw new HubError("SB_EVENT_INVALID", "nothing to publish");
      ({ events } = eventsFromJson(
        items.map((i) => ({ ...i, data: i.data })),
        { receivedAt, maxBatchEvents: config.maxBatchEvents },
      ));
    } catch (error) {
      return Promise.reject(error);
    }
    return ingestor.publish(events, options);
  };
}
