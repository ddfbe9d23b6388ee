/**
 * GetServerTimeZones: the server's Windows time zones, all of them or those named in Ids, with their periods and
 * transitions unless ReturnFullTimeZoneData is false (the default is true: getservertimezones.md). An Id the
 * server does not know is left out.
 */
import { attr, child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import { answerOne } from '../context.js';
import { TIME_ZONES, writeTimeZone } from '../time-zones.js';
import type { Operation } from './types.js';

export const getServerTimeZones: Operation = {
  name: 'GetServerTimeZones',
  handle(_context, request) {
    const full = xsBoolean(attr(request, 'ReturnFullTimeZoneData')) !== false;
    const idsElement = child(request, NS.messages, 'Ids');
    const wanted = idsElement ? children(idsElement, NS.types, 'Id').map((i) => i.text.trim()) : null;
    const zones = wanted ? wanted.flatMap((id) => TIME_ZONES.filter((z) => z.id === id)) : TIME_ZONES;
    return answerOne('GetServerTimeZones', () => el('m:TimeZoneDefinitions', null, zones.map((z) => writeTimeZone(z, full))));
  },
};
