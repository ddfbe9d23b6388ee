/** The EWS operations the connector calls, one file each. */
export * from './common.js';
export { CreateFolder, type CreateFolderRequest, type CreateFolderResult, type NewFolder } from './create-folder.js';
export {
  CreateItem,
  type CreateItemRequest,
  type CreateItemResult,
  type MessageDisposition,
  type MimeMessage,
  type NewAttachment,
  type NewMessage,
  type PropertyMessage,
} from './create-item.js';
export { FindFolder, type FindFolderRequest, type FindFolderResult } from './find-folder.js';
export { FindItem, type FindItemRequest, type FindItemResult } from './find-item.js';
export { GET_ITEM_BATCH, GetItem, type GetItemRequest, type GetItemResult } from './get-item.js';
export { GetFolder, type GetFolderRequest, type GetFolderResult } from './get-folder.js';
export { MoveItem, type MoveItemRequest, type MoveItemResult } from './move-item.js';
export type { BuildContext, EwsOperation, ReadContext } from './operation.js';
export { SendItem, type SendItemRequest, type SendItemResult } from './send-item.js';
export { type FolderChange, SyncFolderHierarchy, type SyncFolderHierarchyRequest, type SyncFolderHierarchyResult } from './sync-folder-hierarchy.js';
export { type ItemChange, SyncFolderItems, type SyncFolderItemsRequest, type SyncFolderItemsResult } from './sync-folder-items.js';
export { type ItemFieldUpdate, type UpdateItemChange, UpdateItem, type UpdateItemRequest, type UpdateItemResult } from './update-item.js';
export { ConvertId } from './convert-id.js';
export { GetEvents, type GetEventsRequest, type GetEventsResult } from './get-events.js';
export { type Notification, type NotificationEvent, type SubscriptionEventType } from './notifications.js';
export { ResolveNames } from './resolve-names.js';
export { Subscribe, type SubscribeRequest, type SubscribeResult } from './subscribe.js';
export { Unsubscribe, type UnsubscribeRequest } from './unsubscribe.js';
