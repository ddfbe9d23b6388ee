/**
 * What the sandbox answers for a feature it does not have, in Exchange's terms and never as a version problem
 * (ErrorInvalidRequest, ErrorInvalidServerVersion and ErrorIncorrectSchemaVersion make clients retry the request
 * with another version).
 */
import { EwsError } from './soap.js';

/**
 * CreateItem of an item type the sandbox does not store (it stores messages only: no CalendarItem, Contact,
 * DistributionList, Task, PostItem): ErrorInvalidItemForOperationCreateItem, Exchange's code for "the request
 * contains an unsupported item type" (responsecode.md).
 */
export function unsupportedItemType(element: string): EwsError {
  return new EwsError('ErrorInvalidItemForOperationCreateItem', `The sandbox stores messages only; it cannot create a ${element}.`);
}
