/**
 * GetRoomLists and GetRooms. The sandbox's directory has no rooms and no room lists, and it answers as Exchange
 * does for an organisation without them: GetRoomLists succeeds with an empty RoomLists; GetRooms for an address
 * that is no room list is ErrorNameResolutionNoResults, "No results were found." (a real answer quoted in
 * ecederstrand/exchangelib issue #65). Neither looks like a version problem.
 */
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { TEXT } from '../soap.js';
import type { Operation } from './types.js';

// Both answers are response messages themselves: their root carries ResponseClass and ResponseCode.

export const getRoomLists: Operation = {
  name: 'GetRoomLists',
  handle() {
    return el('m:GetRoomListsResponse', { ResponseClass: 'Success', 'xmlns:m': NS.messages, 'xmlns:t': NS.types }, el('m:ResponseCode', null, 'NoError'), el('m:RoomLists'));
  },
};

export const getRooms: Operation = {
  name: 'GetRooms',
  handle() {
    return el(
      'm:GetRoomsResponse',
      { ResponseClass: 'Error', 'xmlns:m': NS.messages, 'xmlns:t': NS.types },
      el('m:MessageText', null, TEXT.nameResolutionNone),
      el('m:ResponseCode', null, 'ErrorNameResolutionNoResults'),
      el('m:DescriptiveLinkKey', null, '0'),
    );
  },
};
