import type { XmlElement } from '../../../xml/parse.js';
import type { Xml } from '../../../xml/write.js';
import type { EwsContext } from '../context.js';

/** One EWS operation: the local name of its request element, and the handler that returns m:<Name>Response. */
export interface Operation {
  name: string;
  /** Counts against ConcurrentSyncCalls (SyncFolderHierarchy, SyncFolderItems). */
  sync?: boolean;
  handle(context: EwsContext, request: XmlElement): Promise<Xml> | Xml;
}
