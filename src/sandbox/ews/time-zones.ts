/**
 * Windows time zones as Exchange's GetServerTimeZones writes them (getservertimezones-operation.md, its full
 * example for Eastern Standard Time; a real Exchange 2013+ answer for W. Europe Standard Time with period ids
 * `trule:Microsoft/Registry/<zone>/<year>-Standard`): periods with a Bias (minutes west of UTC, as an
 * xs:duration), one transitions group per rule year, and transitions that start each group. A subset of the
 * Windows registry, in its order (west to east), with the current rules and, for the United States and
 * Australia, the rule change Exchange lists.
 */
import { el, type Xml } from '../../xml/write.js';

/** A yearly change: month, week occurrence (-1 for the last), weekday, local time in minutes. */
type Change = [month: number, occurrence: number, time: number];

interface Rule {
  year: number;
  /** Minutes west of UTC in standard time. */
  bias: number;
  /** Daylight time: its bias, when it starts, when it ends. */
  daylight?: { bias: number; start: Change; end: Change };
}

interface Zone {
  id: string;
  name: string;
  rules: Rule[];
}

const US_2006 = (bias: number): Rule => ({ year: 2006, bias, daylight: { bias: bias - 60, start: [4, 1, 120], end: [10, -1, 120] } });
const US_2007 = (bias: number): Rule => ({ year: 2007, bias, daylight: { bias: bias - 60, start: [3, 2, 120], end: [11, 1, 120] } });
const fixed = (bias: number): Rule[] => [{ year: 1, bias }];
const eu = (bias: number, time: number): Rule[] => [{ year: 1, bias, daylight: { bias: bias - 60, start: [3, -1, time], end: [10, -1, time + 60] } }];

export const TIME_ZONES: readonly Zone[] = [
  { id: 'Dateline Standard Time', name: '(UTC-12:00) International Date Line West', rules: fixed(720) },
  { id: 'Hawaiian Standard Time', name: '(UTC-10:00) Hawaii', rules: fixed(600) },
  { id: 'Alaskan Standard Time', name: '(UTC-09:00) Alaska', rules: [US_2006(540), US_2007(540)] },
  { id: 'Pacific Standard Time', name: '(UTC-08:00) Pacific Time (US & Canada)', rules: [US_2006(480), US_2007(480)] },
  { id: 'US Mountain Standard Time', name: '(UTC-07:00) Arizona', rules: fixed(420) },
  { id: 'Mountain Standard Time', name: '(UTC-07:00) Mountain Time (US & Canada)', rules: [US_2006(420), US_2007(420)] },
  { id: 'Central Standard Time', name: '(UTC-06:00) Central Time (US & Canada)', rules: [US_2006(360), US_2007(360)] },
  { id: 'SA Pacific Standard Time', name: '(UTC-05:00) Bogota, Lima, Quito, Rio Branco', rules: fixed(300) },
  { id: 'Eastern Standard Time', name: '(UTC-05:00) Eastern Time (US & Canada)', rules: [US_2006(300), US_2007(300)] },
  { id: 'Atlantic Standard Time', name: '(UTC-04:00) Atlantic Time (Canada)', rules: [US_2006(240), US_2007(240)] },
  { id: 'UTC', name: '(UTC) Coordinated Universal Time', rules: fixed(0) },
  { id: 'GMT Standard Time', name: '(UTC+00:00) Dublin, Edinburgh, Lisbon, London', rules: eu(0, 60) },
  { id: 'W. Europe Standard Time', name: '(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna', rules: eu(-60, 120) },
  { id: 'Central Europe Standard Time', name: '(UTC+01:00) Belgrade, Bratislava, Budapest, Ljubljana, Prague', rules: eu(-60, 120) },
  { id: 'Romance Standard Time', name: '(UTC+01:00) Brussels, Copenhagen, Madrid, Paris', rules: eu(-60, 120) },
  { id: 'Central European Standard Time', name: '(UTC+01:00) Sarajevo, Skopje, Warsaw, Zagreb', rules: eu(-60, 120) },
  { id: 'GTB Standard Time', name: '(UTC+02:00) Athens, Bucharest', rules: eu(-120, 180) },
  { id: 'South Africa Standard Time', name: '(UTC+02:00) Harare, Pretoria', rules: fixed(-120) },
  { id: 'FLE Standard Time', name: '(UTC+02:00) Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius', rules: eu(-120, 180) },
  { id: 'Arabian Standard Time', name: '(UTC+04:00) Abu Dhabi, Muscat', rules: fixed(-240) },
  { id: 'India Standard Time', name: '(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi', rules: fixed(-330) },
  { id: 'China Standard Time', name: '(UTC+08:00) Beijing, Chongqing, Hong Kong, Urumqi', rules: fixed(-480) },
  { id: 'Singapore Standard Time', name: '(UTC+08:00) Kuala Lumpur, Singapore', rules: fixed(-480) },
  { id: 'Tokyo Standard Time', name: '(UTC+09:00) Osaka, Sapporo, Tokyo', rules: fixed(-540) },
  {
    id: 'AUS Eastern Standard Time',
    name: '(UTC+10:00) Canberra, Melbourne, Sydney',
    rules: [
      { year: 2007, bias: -600, daylight: { bias: -660, start: [10, -1, 120], end: [3, -1, 180] } },
      { year: 2008, bias: -600, daylight: { bias: -660, start: [10, 1, 120], end: [4, 1, 180] } },
    ],
  },
];

/** Minutes as an xs:duration the way .NET's XmlConvert writes a TimeSpan: PT0S, PT5H, -PT5H30M. */
export function duration(minutes: number): string {
  if (minutes === 0) return 'PT0S';
  const sign = minutes < 0 ? '-' : '';
  const abs = Math.abs(minutes);
  const hours = Math.floor(abs / 60);
  const rest = abs % 60;
  return `${sign}PT${hours ? `${hours}H` : ''}${rest ? `${rest}M` : ''}`;
}

function periodId(zone: Zone, rule: Rule, kind: 'Standard' | 'Daylight'): string {
  return `trule:Microsoft/Registry/${zone.id}/${rule.year}-${kind}`;
}

function change(to: string, [month, occurrence, time]: Change): Xml {
  return el(
    't:RecurringDayTransition',
    null,
    el('t:To', { Kind: 'Period' }, to),
    el('t:TimeOffset', null, duration(time)),
    el('t:Month', null, month),
    el('t:DayOfWeek', null, 'Sunday'),
    el('t:Occurrence', null, occurrence),
  );
}

export function writeTimeZone(zone: Zone, full: boolean): Xml {
  if (!full) return el('t:TimeZoneDefinition', { Id: zone.id, Name: zone.name });
  const periods: Xml[] = [];
  const groups: Xml[] = [];
  zone.rules.forEach((rule, index) => {
    const standard = periodId(zone, rule, 'Standard');
    periods.push(el('t:Period', { Bias: duration(rule.bias), Name: 'Standard', Id: standard }));
    if (!rule.daylight) {
      groups.push(el('t:TransitionsGroup', { Id: index }, el('t:Transition', null, el('t:To', { Kind: 'Period' }, standard))));
      return;
    }
    const daylight = periodId(zone, rule, 'Daylight');
    periods.push(el('t:Period', { Bias: duration(rule.daylight.bias), Name: 'Daylight', Id: daylight }));
    groups.push(el('t:TransitionsGroup', { Id: index }, change(daylight, rule.daylight.start), change(standard, rule.daylight.end)));
  });
  const transitions = zone.rules.map((rule, index) =>
    index === 0
      ? el('t:Transition', null, el('t:To', { Kind: 'Group' }, index))
      : el('t:AbsoluteDateTransition', null, el('t:To', { Kind: 'Group' }, index), el('t:DateTime', null, `${rule.year}-01-01T00:00:00`)),
  );
  return el('t:TimeZoneDefinition', { Id: zone.id, Name: zone.name }, el('t:Periods', null, periods), el('t:TransitionsGroups', null, groups), el('t:Transitions', null, transitions));
}
